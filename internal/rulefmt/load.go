package rulefmt

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Source is the file a rule came from: its path and content hash, the rule's version.
type Source struct {
	Path string
	Hash string // first 16 hex digits of the SHA-256 of the file
}

// LoadFS reads every .yml and .yaml file below dir in fsys. label prefixes the file names in positions
// (e.g. "builtin:" or a folder path). Rules from files with problems are still returned when they decoded.
func LoadFS(fsys fs.FS, dir, label string) ([]*Rule, Problems) {
	var files []string
	var problems Problems
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			problems = append(problems, Problem{Pos: Pos{File: label + p}, Msg: err.Error()})
			return nil
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		problems = append(problems, Problem{Pos: Pos{File: label + dir}, Msg: err.Error()})
	}
	sort.Strings(files)
	// The files are parsed on every core (YAML decoding is most of loading the built-in library, which every
	// detect run does), and their rules and problems kept in file order.
	type parsed struct {
		rules    []*Rule
		problems Problems
	}
	out := make([]parsed, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(files); i = int(next.Add(1) - 1) {
				f := files[i]
				data, err := fs.ReadFile(fsys, f)
				name := label + f
				if label != "" && !strings.HasSuffix(label, ":") {
					name = path.Join(label, strings.TrimPrefix(f, dir))
				}
				if err != nil {
					out[i].problems = Problems{{Pos: Pos{File: name}, Msg: err.Error()}}
					continue
				}
				out[i].rules, out[i].problems = parseSource(name, data)
			}
		}()
	}
	wg.Wait()
	var rules []*Rule
	for _, o := range out {
		rules = append(rules, o.rules...)
		problems = append(problems, o.problems...)
	}
	return rules, problems
}

// LoadFile reads one rule file.
func LoadFile(path string) ([]*Rule, Problems) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{Pos: Pos{File: path}, Msg: err.Error()}}
	}
	return parseSource(path, data)
}

// parseSource parses a file and records where its rules came from and the file's version hash.
func parseSource(name string, data []byte) ([]*Rule, Problems) {
	sum := sha256.Sum256(data)
	src := &Source{Path: name, Hash: hex.EncodeToString(sum[:8])}
	rs, ps := Parse(name, data)
	for _, r := range rs {
		r.Source = src
	}
	return rs, ps
}
