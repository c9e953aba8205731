package suppress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/trailwatch/trailwatch/internal/rulefmt"
)

// Load reads and parses a suppressions file. A file that cannot be read is an error naming it; problems in
// the file come back as rulefmt.Problems, every one of them.
func Load(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load suppressions: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes a suppressions file strictly; file names it in problems. An empty file and
// `suppressions: []` are an empty set. When anything is wrong, Parse returns no set and a rulefmt.Problems
// error listing every problem, in file order, each as "file:line:col: message".
func Parse(data []byte, file string) (*Set, error) {
	d := &decoder{file: file, ids: map[string]rulefmt.Pos{}}
	set := &Set{File: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return set, nil
		}
		return nil, rulefmt.Problems{d.yamlProblem(err)}
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.problems = append(d.problems, d.yamlProblem(err))
	case !isNull(rulefmt.ResolveNode(&more)):
		d.errorf(&more, "a suppressions file holds one YAML document; this is a second")
	}
	set.Items = d.top(&doc)
	if len(d.problems) > 0 {
		d.problems.Sort()
		return nil, d.problems
	}
	return set, nil
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlProblem turns a YAML syntax error into a problem at its line (yaml.v3 reports no column).
func (d *decoder) yamlProblem(err error) rulefmt.Problem {
	msg := err.Error()
	pos := rulefmt.Pos{File: d.file}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		pos.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	return rulefmt.Problem{Pos: pos, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

type decoder struct {
	file     string
	problems rulefmt.Problems
	ids      map[string]rulefmt.Pos // first use of each id
}

func (d *decoder) pos(n *yaml.Node) rulefmt.Pos {
	return rulefmt.Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.problems = append(d.problems, rulefmt.Problem{Pos: d.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" || n.Kind == yaml.DocumentNode && len(n.Content) == 0
}

// mapping walks a mapping node in order, calling f for each key; non-string and duplicate keys are
// problems. It reports whether n was a mapping.
func (d *decoder) mapping(n *yaml.Node, what string, f func(key string, k, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, not %s", what, rulefmt.KindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := rulefmt.ResolveNode(n.Content[i]), rulefmt.ResolveNode(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.errorf(k, "keys of %s must be strings", what)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		f(k.Value, k, v)
	}
	return true
}

// str reads a string: any scalar but null, as written (an unquoted 111122223333 is the text
// "111122223333").
func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, "%s must be a string, not %s", what, rulefmt.KindName(n))
		return "", false
	}
	return n.Value, true
}

// top decodes the top level: a mapping with one key, suppressions.
func (d *decoder) top(doc *yaml.Node) []*Suppression {
	n := rulefmt.ResolveNode(doc)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "a suppressions file must be a mapping with the key suppressions, not %s", rulefmt.KindName(n))
		return nil
	}
	var items []*Suppression
	d.mapping(n, "the file", func(key string, k, v *yaml.Node) {
		if key != "suppressions" {
			d.errorf(k, "unknown key %q (a suppressions file has one key, suppressions)", key)
			return
		}
		if isNull(v) {
			return
		}
		if v.Kind != yaml.SequenceNode {
			d.errorf(v, "suppressions must be a list, not %s", rulefmt.KindName(v))
			return
		}
		for _, c := range v.Content {
			if x := d.suppression(rulefmt.ResolveNode(c)); x != nil {
				items = append(items, x)
			}
		}
	})
	return items
}

var idRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

// required are the keys every suppression must have, in the order problems name them.
var required = []string{"id", "rule", "owner", "reason", "expires"}

func (d *decoder) suppression(n *yaml.Node) *Suppression {
	x := &Suppression{Pos: d.pos(n), Match: map[string][]string{}, compiled: true}
	seen := map[string]bool{}
	ok := d.mapping(n, "suppression", func(key string, k, v *yaml.Node) {
		seen[key] = true
		switch key {
		case "id":
			d.id(x, v)
		case "rule":
			x.rulePos = d.pos(v)
			x.Rule = d.nonEmpty(v, key)
		case "owner":
			x.Owner = d.nonEmpty(v, key)
		case "reason":
			x.Reason = d.nonEmpty(v, key)
		case "ticket":
			x.Ticket, _ = d.str(v, key)
		case "expires":
			d.expires(x, v)
		case "match":
			d.match(x, v)
		default:
			d.errorf(k, "unknown key %q (id, rule, match, owner, reason, expires, ticket)", key)
		}
	})
	if !ok {
		return nil
	}
	var missing []string
	for _, key := range required {
		if !seen[key] {
			missing = append(missing, key)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		d.errorf(n, "missing required key %s", missing[0])
	default:
		d.errorf(n, "missing required keys %s and %s", strings.Join(missing[:len(missing)-1], ", "), missing[len(missing)-1])
	}
	return x
}

func (d *decoder) id(x *Suppression, v *yaml.Node) {
	id, ok := d.str(v, "id")
	switch {
	case !ok:
		return
	case id == "":
		d.errorf(v, "id must not be empty")
		return
	case !idRE.MatchString(id):
		d.errorf(v, "id %q may only contain a-z, 0-9, _ and -", id)
	}
	if first, dup := d.ids[id]; dup {
		d.errorf(v, "id %q is already used at line %d", id, first.Line)
	} else {
		d.ids[id] = d.pos(v)
	}
	x.ID = id
}

// nonEmpty reads a string that must hold more than blanks.
func (d *decoder) nonEmpty(v *yaml.Node, what string) string {
	s, ok := d.str(v, what)
	if ok && strings.TrimSpace(s) == "" {
		d.errorf(v, "%s must not be empty", what)
	}
	return s
}

func (d *decoder) expires(x *Suppression, v *yaml.Node) {
	s, ok := d.str(v, "expires")
	if !ok {
		return
	}
	day, err := time.Parse(time.DateOnly, s)
	if err != nil {
		d.errorf(v, "expires %q is not a date written YYYY-MM-DD", s)
		return
	}
	x.ExpiresDay = s
	x.Expires = day.AddDate(0, 0, 1)
}

func (d *decoder) match(x *Suppression, v *yaml.Node) {
	if isNull(v) {
		return
	}
	d.mapping(v, "match", func(key string, k, v *yaml.Node) {
		field, ok := fields[key]
		if !ok {
			d.errorf(k, "unknown match key %q (%s)", key, strings.Join(MatchKeys, ", "))
			return
		}
		var nodes []*yaml.Node
		switch {
		case v.Kind == yaml.SequenceNode:
			if len(v.Content) == 0 {
				d.errorf(v, "match %s is an empty list, which would match nothing", key)
				return
			}
			for _, c := range v.Content {
				nodes = append(nodes, rulefmt.ResolveNode(c))
			}
		case v.Kind == yaml.ScalarNode && !isNull(v):
			nodes = []*yaml.Node{v}
		default:
			d.errorf(v, "match %s must be a string or a list of strings, not %s", key, rulefmt.KindName(v))
			return
		}
		m := matcher{key: key, field: field}
		var raw []string
		for _, c := range nodes {
			s, ok := d.str(c, "match "+key+" value")
			if !ok {
				continue
			}
			var vm valueMatcher
			var err error
			if key == "source_ip" {
				vm, err = compileIP(s)
			} else {
				vm, err = compileGlob(s)
			}
			if err != nil {
				d.errorf(c, "match %s: %v", key, err)
				continue
			}
			raw = append(raw, s)
			m.values = append(m.values, vm)
		}
		x.Match[key] = raw
		x.matchers = append(x.matchers, m)
	})
}
