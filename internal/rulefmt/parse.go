package rulefmt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Parse decodes every YAML document of one rule file. It returns the rules it could decode and every problem
// it found; a rule with a problem is not returned.
func Parse(file string, data []byte) ([]*Rule, Problems) {
	var rules []*Rule
	var problems Problems
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, Problem{Pos: Pos{File: file, Line: yamlErrLine(err)}, Msg: "invalid YAML: " + yamlErrMsg(err)})
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		d := &decoder{file: file}
		r := d.rule(doc.Content[0])
		problems = append(problems, d.problems...)
		if r != nil && len(d.problems) == 0 {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 && len(problems) == 0 {
		problems = append(problems, Problem{Pos: Pos{File: file}, Msg: "no rule in file"})
	}
	return rules, problems
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrLine(err error) int {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

func yamlErrMsg(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

type decoder struct {
	file     string
	problems Problems
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.problems = append(d.problems, Problem{Pos: d.pos(n), Msg: fmt.Sprintf(format, args...)})
}

// knownKeys lists the top-level keys of a rule: Sigma's own and trailwatch's.
var knownKeys = map[string]bool{
	"title": true, "id": true, "name": true, "related": true, "taxonomy": true, "status": true,
	"description": true, "license": true, "references": true, "author": true, "date": true, "modified": true,
	"logsource": true, "detection": true, "fields": true, "falsepositives": true, "level": true, "tags": true,
	"scope": true, "correlation": true, "generate": true,
	// trailwatch
	"pci": true, "alert": true, "tests": true, "sql": true,
}

// mapping walks a mapping node, calling f for each key, and reports duplicate keys.
func (d *decoder) mapping(n *yaml.Node, what string, f func(key string, k, v *yaml.Node)) bool {
	n = ResolveNode(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, not %s", what, KindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], ResolveNode(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: keys must be strings", what)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "%s: duplicate key %q", what, k.Value)
			continue
		}
		seen[k.Value] = true
		f(k.Value, k, v)
	}
	return true
}

// ResolveNode follows YAML aliases and unwraps a document node: the node a strict decoder looks at.
// The other files trailwatch decodes node by node (suppressions) use it too.
func ResolveNode(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return ResolveNode(n.Content[0])
	}
	return n
}

// KindName names what a YAML node is, for messages: "a mapping", "a list", "null", "a scalar".
func KindName(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null" || n.Kind == yaml.DocumentNode && len(n.Content) == 0:
		return "null"
	case n.Kind == yaml.ScalarNode:
		return "a scalar"
	}
	return "something else"
}

func (d *decoder) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "%s must be a string, not %s", what, KindName(n))
		return ""
	}
	return n.Value
}

// strList accepts a list of strings or a single string.
func (d *decoder) strList(n *yaml.Node, what string) []string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list of strings, not %s", what, KindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		c = ResolveNode(c)
		if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
			d.errorf(c, "%s: each item must be a string, not %s", what, KindName(c))
			continue
		}
		out = append(out, c.Value)
	}
	return out
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		return b
	}
	d.errorf(n, "%s must be true or false", what)
	return false
}

func (d *decoder) rule(n *yaml.Node) *Rule {
	r := &Rule{Pos: d.pos(n), Keys: map[string]Pos{}}
	var generate *yaml.Node
	ok := d.mapping(n, "rule", func(key string, k, v *yaml.Node) {
		r.Keys[key] = d.pos(k)
		switch key {
		case "title":
			r.Title = d.str(v, key)
		case "id":
			r.ID = d.str(v, key)
		case "name":
			r.Name = d.str(v, key)
		case "status":
			r.Status = d.str(v, key)
		case "description":
			r.Description = d.str(v, key)
		case "license":
			r.License = d.str(v, key)
		case "references":
			r.References = d.strList(v, key)
		case "author":
			r.Author = d.str(v, key)
		case "date":
			r.Date = d.str(v, key)
		case "modified":
			r.Modified = d.str(v, key)
		case "tags":
			r.Tags = d.strList(v, key)
		case "fields":
			r.Fields = d.strList(v, key)
		case "falsepositives":
			r.FalsePositives = d.strList(v, key)
		case "level":
			r.Level = d.str(v, key)
		case "scope", "taxonomy":
			// informational only
		case "related":
			r.Related = d.related(v)
		case "logsource":
			r.LogSource = d.logsource(v)
		case "detection":
			r.Detection = d.detection(v)
		case "correlation":
			r.Correlation = d.correlation(v)
		case "generate":
			generate = v
		case "sql":
			r.SQL = d.str(v, key)
			if strings.TrimSpace(r.SQL) == "" {
				d.errorf(v, "sql must not be empty")
			}
		case "pci":
			r.PCI = d.pci(v)
		case "alert":
			b := d.boolean(v, key)
			r.Alert = &b
		case "tests":
			r.Tests = d.tests(v)
		case "filter":
			d.errorf(k, "Sigma filter documents are not supported; write the exclusion into the rule's condition")
		default:
			if knownKeys[key] {
				return
			}
			d.errorf(k, "unknown key %q", key)
		}
	})
	if !ok {
		return nil
	}
	if generate != nil {
		if r.Correlation == nil {
			d.errorf(generate, "generate belongs inside correlation")
		} else {
			r.Correlation.Generate = d.boolean(generate, "generate")
		}
	}
	set := 0
	for _, b := range []bool{r.Detection != nil, r.Correlation != nil, r.SQL != ""} {
		if b {
			set++
		}
	}
	switch {
	case set == 0 && !d.hasKey(r, "detection", "correlation", "sql"):
		d.errorf(n, "rule has neither detection nor correlation nor sql")
	case set > 1:
		d.errorf(n, "rule must have exactly one of detection, correlation and sql")
	}
	if r.Title == "" && !d.hasKey(r, "title") {
		d.errorf(n, "rule has no title")
	}
	if r.Detection != nil || r.SQL != "" {
		if !d.hasKey(r, "logsource") {
			d.errorf(n, "rule has no logsource")
		}
	}
	return r
}

func (d *decoder) hasKey(r *Rule, keys ...string) bool {
	for _, k := range keys {
		if _, ok := r.Keys[k]; ok {
			return true
		}
	}
	return false
}

func (d *decoder) related(n *yaml.Node) []Related {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "related must be a list")
		return nil
	}
	var out []Related
	for _, c := range n.Content {
		var rel Related
		d.mapping(c, "related entry", func(key string, k, v *yaml.Node) {
			switch key {
			case "id":
				rel.ID = d.str(v, "related id")
			case "type":
				rel.Type = d.str(v, "related type")
				switch rel.Type {
				case "derived", "obsolete", "merged", "renamed", "similar":
				default:
					d.errorf(v, "related type %q is not one of derived, obsolete, merged, renamed, similar", rel.Type)
				}
			default:
				d.errorf(k, "unknown key %q in related", key)
			}
		})
		out = append(out, rel)
	}
	return out
}

func (d *decoder) logsource(n *yaml.Node) LogSource {
	var ls LogSource
	d.mapping(n, "logsource", func(key string, k, v *yaml.Node) {
		switch key {
		case "product":
			ls.Product = d.str(v, "logsource product")
		case "service":
			ls.Service = d.str(v, "logsource service")
		case "category":
			ls.Category = d.str(v, "logsource category")
		case "definition":
			ls.Definition = d.str(v, "logsource definition")
		default:
			d.errorf(k, "unknown key %q in logsource", key)
		}
	})
	return ls
}

var identRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (d *decoder) detection(n *yaml.Node) *Detection {
	det := &Detection{Pos: d.pos(n), Searches: map[string]*Search{}}
	ok := d.mapping(n, "detection", func(key string, k, v *yaml.Node) {
		switch key {
		case "condition":
			switch v.Kind {
			case yaml.ScalarNode:
				det.Conditions = append(det.Conditions, Condition{Pos: d.pos(v), Text: d.str(v, "condition")})
			case yaml.SequenceNode:
				for _, c := range v.Content {
					det.Conditions = append(det.Conditions, Condition{Pos: d.pos(c), Text: d.str(ResolveNode(c), "condition")})
				}
			default:
				d.errorf(v, "condition must be a string or a list of strings")
			}
		case "timeframe":
			d.errorf(k, "detection timeframe is Sigma v1 aggregation syntax, not supported; use a correlation rule")
		default:
			if !identRE.MatchString(key) {
				d.errorf(k, "search identifier %q may only contain letters, digits, _ and -", key)
				return
			}
			if s := d.search(key, k, v); s != nil {
				det.Searches[key] = s
				det.Order = append(det.Order, key)
			}
		}
	})
	if !ok {
		return nil
	}
	if len(det.Conditions) == 0 {
		d.errorf(n, "detection has no condition")
	}
	return det
}

func (d *decoder) search(name string, k, v *yaml.Node) *Search {
	s := &Search{Pos: d.pos(k), Name: name}
	switch v.Kind {
	case yaml.MappingNode:
		s.Maps = []FieldMap{d.fieldMap(v)}
	case yaml.SequenceNode:
		maps, scalars := 0, 0
		for _, c := range v.Content {
			if ResolveNode(c).Kind == yaml.MappingNode {
				maps++
			} else {
				scalars++
			}
		}
		switch {
		case len(v.Content) == 0:
			d.errorf(v, "search %s is an empty list", name)
		case maps > 0 && scalars > 0:
			d.errorf(v, "search %s mixes maps and keywords in one list", name)
		case maps > 0:
			for _, c := range v.Content {
				s.Maps = append(s.Maps, d.fieldMap(ResolveNode(c)))
			}
		default:
			s.Keywords = &FieldMatch{Pos: d.pos(v), Values: d.values(v)}
		}
	case yaml.ScalarNode:
		s.Keywords = &FieldMatch{Pos: d.pos(v), Values: d.values(v)}
	default:
		d.errorf(v, "search %s must be a mapping, a list of mappings or a list of keywords", name)
		return nil
	}
	return s
}

func (d *decoder) fieldMap(n *yaml.Node) FieldMap {
	var fm FieldMap
	d.mapping(n, "search", func(key string, k, v *yaml.Node) {
		parts := strings.Split(key, "|")
		m := &FieldMatch{Pos: d.pos(k), Field: parts[0], Modifiers: parts[1:]}
		for _, mod := range m.Modifiers {
			if mod == "" {
				d.errorf(k, "empty modifier in %q", key)
			}
		}
		if v.Kind == yaml.MappingNode {
			d.errorf(v, "value of %s must be a scalar or a list, not a mapping", key)
			return
		}
		m.Values = d.values(v)
		if v.Kind == yaml.SequenceNode && len(m.Values) == 0 {
			d.errorf(v, "%s has an empty list of values", key)
		}
		fm = append(fm, m)
	})
	if len(fm) == 0 && n.Kind == yaml.MappingNode {
		d.errorf(n, "empty search map")
	}
	return fm
}

func (d *decoder) values(n *yaml.Node) []Value {
	if n.Kind == yaml.SequenceNode {
		var out []Value
		for _, c := range n.Content {
			c = ResolveNode(c)
			if c.Kind != yaml.ScalarNode {
				d.errorf(c, "each value must be a scalar, not %s", KindName(c))
				continue
			}
			out = append(out, d.value(c))
		}
		return out
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "value must be a scalar or a list of scalars")
		return nil
	}
	return []Value{d.value(n)}
}

func (d *decoder) value(n *yaml.Node) Value {
	v := Value{Pos: d.pos(n), S: n.Value}
	switch n.Tag {
	case "!!null":
		v.Kind, v.S = Null, ""
	case "!!int", "!!float":
		v.Kind = Number
	case "!!bool":
		v.Kind = Bool
		v.S = strings.ToLower(n.Value)
	default:
		v.Kind = String
	}
	return v
}

var timespanRE = regexp.MustCompile(`^(\d+)([smhdwMy])$`)

// ParseTimespan reads a Sigma timespan: a number and one of s, m, h, d (and w, M, y).
func ParseTimespan(s string) (time.Duration, error) {
	m := timespanRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("timespan %q is not a number followed by s, m, h or d", s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("timespan %q must be positive", s)
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
		"w": 7 * 24 * time.Hour, "M": 30 * 24 * time.Hour, "y": 365 * 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, nil
}

var correlationOps = map[string]bool{"gt": true, "gte": true, "lt": true, "lte": true, "eq": true, "neq": true}

func (d *decoder) correlation(n *yaml.Node) *Correlation {
	c := &Correlation{Pos: d.pos(n)}
	var condNode *yaml.Node
	seenSpan := false
	ok := d.mapping(n, "correlation", func(key string, k, v *yaml.Node) {
		switch key {
		case "type":
			c.Type = d.str(v, "correlation type")
			switch c.Type {
			case "event_count", "value_count", "temporal", "temporal_ordered":
			case "value_sum", "value_avg", "value_percentile":
				d.errorf(v, "correlation type %s is not supported (event_count, value_count, temporal, temporal_ordered are)", c.Type)
			default:
				d.errorf(v, "unknown correlation type %q", c.Type)
			}
		case "rules":
			c.Rules = d.strList(v, "correlation rules")
		case "group-by":
			c.GroupBy = d.strList(v, "group-by")
		case "timespan":
			seenSpan = true
			ts, err := ParseTimespan(d.str(v, "timespan"))
			if err != nil {
				d.errorf(v, "%v", err)
			}
			c.Timespan = ts
		case "condition":
			condNode = v
		case "aliases":
			c.Aliases = map[string]map[string]string{}
			d.mapping(v, "aliases", func(alias string, _, av *yaml.Node) {
				m := map[string]string{}
				d.mapping(av, "alias "+alias, func(rule string, _, fv *yaml.Node) {
					m[rule] = d.str(fv, "alias field")
				})
				c.Aliases[alias] = m
			})
		case "generate":
			c.Generate = d.boolean(v, "generate")
		default:
			d.errorf(k, "unknown key %q in correlation", key)
		}
	})
	if !ok {
		return nil
	}
	if c.Type == "" {
		d.errorf(n, "correlation has no type")
	}
	if len(c.Rules) == 0 {
		d.errorf(n, "correlation has no rules")
	}
	if !seenSpan {
		d.errorf(n, "correlation has no timespan")
	}
	counting := c.Type == "event_count" || c.Type == "value_count"
	if counting && condNode == nil {
		d.errorf(n, "%s correlation needs a condition", c.Type)
	}
	if condNode != nil {
		if !counting {
			d.errorf(condNode, "a %s correlation takes no condition", c.Type)
		}
		c.Condition.Ops = map[string]float64{}
		d.mapping(condNode, "correlation condition", func(key string, k, v *yaml.Node) {
			if key == "field" {
				c.Condition.Field = d.str(v, "condition field")
				return
			}
			if !correlationOps[key] {
				d.errorf(k, "unknown correlation condition operator %q (gt, gte, lt, lte, eq, neq)", key)
				return
			}
			f, err := strconv.ParseFloat(v.Value, 64)
			if err != nil || v.Kind != yaml.ScalarNode {
				d.errorf(v, "correlation condition %s must be a number", key)
				return
			}
			c.Condition.Ops[key] = f
		})
		if counting && len(c.Condition.Ops) == 0 {
			d.errorf(condNode, "correlation condition has no operator")
		}
		if c.Type == "value_count" && c.Condition.Field == "" {
			d.errorf(condNode, "value_count condition needs a field")
		}
		if c.Type == "event_count" && c.Condition.Field != "" {
			d.errorf(condNode, "event_count condition takes no field")
		}
	}
	return c
}

func (d *decoder) pci(n *yaml.Node) PCI {
	p := PCI{Pos: d.pos(n)}
	d.mapping(n, "pci", func(key string, k, v *yaml.Node) {
		switch key {
		case "v4.0.1", "v4":
			p.V4 = d.strList(v, "pci "+key)
		case "v3.2.1", "v3":
			p.V321 = d.strList(v, "pci "+key)
		default:
			d.errorf(k, "unknown PCI DSS version %q (v4.0.1, v3.2.1)", key)
		}
	})
	return p
}

func (d *decoder) tests(n *yaml.Node) *Tests {
	t := &Tests{Pos: d.pos(n)}
	d.mapping(n, "tests", func(key string, k, v *yaml.Node) {
		switch key {
		case "must_fire":
			t.MustFire = d.events(v, key)
		case "must_not_fire":
			t.MustNotFire = d.events(v, key)
		case "params":
			t.Params = d.params(v)
		default:
			d.errorf(k, "unknown key %q in tests (must_fire, must_not_fire, params)", key)
		}
	})
	return t
}

func (d *decoder) events(n *yaml.Node, what string) []Event {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list of events", what)
		return nil
	}
	var out []Event
	for _, c := range n.Content {
		c = ResolveNode(c)
		if c.Kind != yaml.MappingNode {
			d.errorf(c, "%s: each event must be a mapping (a CloudTrail record)", what)
			continue
		}
		var buf bytes.Buffer
		if err := writeJSON(&buf, c); err != nil {
			d.errorf(c, "%s: %v", what, err)
			continue
		}
		out = append(out, Event{Pos: d.pos(c), JSON: buf.Bytes()})
	}
	return out
}

// params decodes a mapping of parameter names to a value or a list of values.
func (d *decoder) params(n *yaml.Node) map[string][]string {
	out := map[string][]string{}
	d.mapping(n, "params", func(key string, _, v *yaml.Node) {
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			out[key] = nil
			return
		}
		out[key] = d.strList(v, "param "+key)
	})
	return out
}
