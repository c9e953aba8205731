package sigma

import (
	"regexp"
	"strings"
	"testing"
)

func TestParseCondition(t *testing.T) {
	names := []string{"selection", "selection_a", "selection_b", "filter_main_x", "filter_main_y", "_hidden"}
	cases := []struct{ in, want string }{
		{"selection", "selection"},
		{"selection and not filter_main_x", "(selection and not filter_main_x)"},
		{"a or b and c", ""},
		{"selection or selection_a and selection_b", "(selection or (selection_a and selection_b))"},
		{"not selection and selection_a", "(not selection and selection_a)"},
		{"(selection or selection_a) and selection_b", "((selection or selection_a) and selection_b)"},
		{"1 of selection_*", "(selection_a or selection_b)"},
		{"any of selection_*", "(selection_a or selection_b)"},
		{"all of selection_*", "(selection_a and selection_b)"},
		{"selection and not 1 of filter_main_*", "(selection and not (filter_main_x or filter_main_y))"},
		{"1 of them", "((((selection or selection_a) or selection_b) or filter_main_x) or filter_main_y)"},
		{"SELECTION", ""},
		{"selection AND NOT filter_main_x", "(selection and not filter_main_x)"},
	}
	for _, c := range cases {
		e, err := ParseCondition(c.in)
		if err == nil {
			e, err = Expand(e, names)
		}
		got := ""
		if err == nil {
			got = e.String()
		}
		if got != c.want {
			t.Errorf("%q: got %q (err %v), want %q", c.in, got, err, c.want)
		}
	}
}

func TestConditionErrors(t *testing.T) {
	cases := map[string]string{
		"":                        "ends too early",
		"selection and":           "ends too early",
		"(selection":              "missing )",
		"selection)":              `unexpected ")"`,
		"selection | count() > 5": "pipe aggregation",
		"2 of selection_*":        "2 of is not supported",
		"selection_*":             "needs 1 of or all of",
		"of selection":            `"of" must follow`,
		"selection near x":        `unexpected "near"`,
		"sel$":                    "unexpected character",
	}
	for in, want := range cases {
		_, err := ParseCondition(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{"selection", "a and not 1 of filter_*", "(a or b) and all of them", "not not a", "((((a))))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseCondition(s)
		if err != nil {
			return
		}
		// What parses prints back to something that parses to the same tree.
		again, err := ParseCondition(e.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, e.String(), err)
		}
		if again.String() != e.String() {
			t.Fatalf("%q: %q then %q", s, e.String(), again.String())
		}
		_, _ = Expand(e, []string{"a", "b", "selection", "filter_x"})
	})
}

func FuzzPattern(f *testing.F) {
	for _, s := range []string{`a*b?c`, `\*\?\\`, `%_\`, `*`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := ParsePattern(s)
		like := p.Like()
		if _, err := regexp.Compile(p.Regexp()); err != nil {
			t.Fatalf("%q: regexp %q: %v", s, p.Regexp(), err)
		}
		if !p.HasWildcards() && strings.ContainsAny(strings.NewReplacer(`\%`, "", `\_`, "").Replace(like), "%_") {
			t.Fatalf("%q: literal pattern rendered with a wildcard: %q", s, like)
		}
	})
}
