// Package engine runs compiled detection rules over CloudTrail events through a small Querier interface:
// one pass over the table for the whole library, correlations evaluated on the matching events. It knows
// no database; the SQL comes from the sigma package's dialect.
package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/trailwatch/trailwatch/internal/rulefmt"
	"github.com/trailwatch/trailwatch/internal/sigma"
)

// Rule is a compiled rule.
type Rule struct {
	*rulefmt.Rule
	// Where is the boolean SQL of a detection rule (empty for a correlation).
	Where string
	// Pre is Where decided on eventSource and eventName alone: FALSE where no event with that pair can
	// match, TRUE or NULL where one might.
	Pre string
	// Emits says the rule raises findings itself: false for a rule only counted by a correlation.
	Emits bool
	// Bases are the rules a correlation counts.
	Bases []*Rule
	// GroupBy holds, per base rule, the SQL of each group-by field (correlations only).
	GroupBy map[*Rule][]string
	// ValueField holds, per base rule, the SQL of the value_count field.
	ValueField map[*Rule]string
}

// Set is a compiled rule library.
type Set struct {
	Rules   []*Rule
	Dialect sigma.Dialect
	byRef   map[string]*Rule
	// detections are the indexes in Rules of the detection rules (those with a Where), in order: rule
	// detections[k] is bit k of a pair's mask.
	detections []int
}

// Compile compiles rules for a dialect with parameters. Every problem is reported (a name or id used twice
// among them); rules with problems are left out. Overriding a built-in rule is the loader's business.
func Compile(rules []*rulefmt.Rule, d sigma.Dialect, params sigma.Params) (*Set, rulefmt.Problems) {
	c := &sigma.Compiler{Dialect: d, Params: params}
	pre := &sigma.Compiler{Dialect: d, Params: params, Known: func(f sigma.Field) bool {
		return f.Kind == sigma.Scalar && len(f.Path) == 0 && (f.Column == "eventsource" || f.Column == "eventname")
	}}
	var problems rulefmt.Problems
	byName := map[string]*rulefmt.Rule{} // by name and by id
	for _, r := range rules {
		for _, ref := range []struct{ key, value string }{{"name", r.Name}, {"id", r.ID}} {
			if ref.value == "" {
				continue
			}
			if prev, ok := byName[ref.value]; ok {
				problems = append(problems, rulefmt.Problem{Pos: r.Keys[ref.key], Msg: fmt.Sprintf("%s %q is already used by %s", ref.key, ref.value, prev.Pos)})
				continue
			}
			byName[ref.value] = r
		}
	}
	counted := rulefmt.Counted(rules)
	set := &Set{Dialect: d}
	compiled := map[*rulefmt.Rule]*Rule{}
	for _, r := range rules {
		if r.Correlation != nil {
			continue
		}
		if ls := r.LogSource; ls.Product != "" && !strings.EqualFold(ls.Product, "aws") || ls.Service != "" && !strings.EqualFold(ls.Service, "cloudtrail") {
			problems = append(problems, rulefmt.Problem{Pos: r.Keys["logsource"], Msg: fmt.Sprintf("logsource %s/%s is not AWS CloudTrail", ls.Product, ls.Service)})
			continue
		}
		where, ps := c.Detection(r)
		if len(ps) > 0 {
			problems = append(problems, ps...)
			continue
		}
		prefilter, ps := pre.Detection(r)
		if len(ps) > 0 {
			prefilter = "NULL" // cannot happen when the full condition compiled; stay correct anyway
		}
		cr := &Rule{Rule: r, Where: where, Pre: prefilter, Emits: !counted[r]}
		compiled[r] = cr
		set.Rules = append(set.Rules, cr)
	}
	for _, r := range rules {
		if r.Correlation == nil {
			continue
		}
		cr, ps := compileCorrelation(r, byName, compiled, d)
		if len(ps) > 0 {
			problems = append(problems, ps...)
			continue
		}
		set.Rules = append(set.Rules, cr)
	}
	sort.SliceStable(set.Rules, func(i, j int) bool { return set.Rules[i].Ref() < set.Rules[j].Ref() })
	set.index()
	return set, problems
}

func compileCorrelation(r *rulefmt.Rule, byName map[string]*rulefmt.Rule, compiled map[*rulefmt.Rule]*Rule, d sigma.Dialect) (*Rule, rulefmt.Problems) {
	c := r.Correlation
	cr := &Rule{Rule: r, Emits: true, GroupBy: map[*Rule][]string{}, ValueField: map[*Rule]string{}}
	var problems rulefmt.Problems
	bad := func(format string, args ...any) {
		problems = append(problems, rulefmt.Problem{Pos: c.Pos, Msg: fmt.Sprintf(format, args...)})
	}
	for _, ref := range c.Rules {
		b, ok := byName[ref]
		if !ok {
			bad("correlation counts rule %q, which is not loaded", ref)
			continue
		}
		if b.Correlation != nil {
			bad("correlation counts %q, another correlation: chained correlations are not supported", ref)
			continue
		}
		base := compiled[b]
		if base == nil {
			bad("correlation counts rule %q, which did not compile", ref)
			continue
		}
		cr.Bases = append(cr.Bases, base)
		fieldFor := func(name string) (string, bool) {
			if m, ok := c.Aliases[name]; ok {
				if f, ok := m[ref]; ok {
					name = f
				} else if f, ok := m[b.Name]; ok {
					name = f
				} else if f, ok := m[b.ID]; ok {
					name = f
				}
			}
			f, ok := sigma.ResolveField(name)
			if !ok {
				return "", false
			}
			v := d.Value(f)
			if f.Kind == sigma.List || f.Kind == sigma.JSONPath {
				v = "array_to_string(" + v + ", ',')"
			}
			return v, true
		}
		for _, g := range c.GroupBy {
			v, ok := fieldFor(g)
			if !ok {
				bad("group-by field %q is not a CloudTrail field path", g)
				continue
			}
			cr.GroupBy[base] = append(cr.GroupBy[base], v)
		}
		if c.Type == "value_count" {
			v, ok := fieldFor(c.Condition.Field)
			if !ok {
				bad("value_count field %q is not a CloudTrail field path", c.Condition.Field)
				continue
			}
			cr.ValueField[base] = v
		}
	}
	if (c.Type == "temporal" || c.Type == "temporal_ordered") && len(c.Rules) < 2 {
		bad("a %s correlation needs at least two rules", c.Type)
	}
	return cr, problems
}

// Lookup finds a rule by name or id.
func (s *Set) Lookup(ref string) (*Rule, bool) {
	r, ok := s.byRef[ref]
	return r, ok
}

// Subset returns a set holding the named rules and the rules they count.
func (s *Set) Subset(rules ...*Rule) *Set {
	out := &Set{Dialect: s.Dialect}
	seen := map[*Rule]bool{}
	var add func(r *Rule)
	add = func(r *Rule) {
		if seen[r] {
			return
		}
		seen[r] = true
		out.Rules = append(out.Rules, r)
		for _, b := range r.Bases {
			add(b)
		}
	}
	for _, r := range rules {
		add(r)
	}
	out.index()
	return out
}

// index lets Lookup find the rules by name and by id, and numbers the detection rules.
func (s *Set) index() {
	s.byRef = map[string]*Rule{}
	s.detections = nil
	for i, r := range s.Rules {
		if r.Where != "" {
			s.detections = append(s.detections, i)
		}
		if r.Name != "" {
			s.byRef[r.Name] = r
		}
		if r.ID != "" {
			s.byRef[r.ID] = r
		}
	}
}
