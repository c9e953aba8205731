package source

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/trailwatch/trailwatch/internal/cloudtrail"
)

// Local reads a folder, walked recursively, or a single file.
type Local struct {
	root string
	file bool
}

var _ Source = (*Local)(nil)

// NewLocal returns a source for a folder or a file.
func NewLocal(path string) (*Local, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", path, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", path, err)
	}
	return &Local{root: abs, file: !st.IsDir()}, nil
}

// String returns the absolute path the source reads.
func (l *Local) String() string { return l.root }

// List walks the folder in lexical order, skipping folders of the CloudTrail layout that f excludes.
func (l *Local) List(ctx context.Context, f Filter, fn func(Object) error) error {
	if l.file {
		st, err := os.Stat(l.root)
		if err != nil {
			return fmt.Errorf("list %s: %w", l.root, err)
		}
		key := filepath.ToSlash(l.root)
		return fn(object(l.root, key, st))
	}
	return filepath.WalkDir(l.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("list %s: %w", path, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(l.root, path)
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if path != l.root && !dirMayMatch(key, f) {
				return filepath.SkipDir
			}
			return nil
		}
		layout := cloudtrail.ParseKey(key)
		if !wanted(key, layout) || !f.Match(layout) {
			return nil
		}
		st, err := d.Info()
		if err != nil {
			return fmt.Errorf("list %s: %w", path, err)
		}
		if !st.Mode().IsRegular() {
			return nil
		}
		return fn(object(path, key, st))
	})
}

// dirMayMatch reports whether the folder at the slash-separated relative path dir may hold objects that
// pass f. It prunes whole account, region, year, month and day folders of the CloudTrail layout that the
// filter excludes, and digest folders, so the walk never enters them.
func dirMayMatch(dir string, f Filter) bool {
	return parseFolder(dir).mayMatch(f)
}

func object(path, key string, st os.FileInfo) Object {
	return Object{
		URI:     path,
		Key:     key,
		Size:    st.Size(),
		Version: strconv.FormatInt(st.Size(), 10) + "-" + strconv.FormatInt(st.ModTime().UnixNano(), 10),
		Layout:  cloudtrail.ParseKey(key),
	}
}

// Open opens the file.
func (l *Local) Open(_ context.Context, o Object) (io.ReadCloser, error) {
	return os.Open(o.URI)
}
