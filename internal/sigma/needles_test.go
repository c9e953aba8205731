package sigma

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestRareNeedles(t *testing.T) {
	markup := []string{"<script", "javascript:", "onerror=", "onload=", "<img ", "<svg", "<iframe"}
	cases := []struct {
		values []string
		cased  bool
		want   []string // nil: no test in front of the expression
	}{
		{markup, false, []string{"<", "j", "J", "="}},
		{[]string{"*.amazonaws.com*", "*=x*"}, false, []string{"z", "Z", "="}},
		{[]string{"arn:aws:*"}, false, nil}, // ':' is everywhere in JSON, the letters are common
		{[]string{"10.0.*"}, false, []string{"10.0."}},
		{[]string{"secret", "token"}, false, nil}, // common letters only: no rare text
		{[]string{"kms", "xyz"}, false, nil},      // k and s also match the Kelvin sign and the long s
		{[]string{"Secret", "Token"}, true, []string{"Secret", "Token"}},
		{[]string{"*", "a*"}, false, nil},
	}
	for _, c := range cases {
		var pats []Pattern
		for _, v := range c.values {
			pats = append(pats, ParsePattern(v).Wrap(true, true))
		}
		if got := rareNeedles(pats, c.cased); !slices.Equal(got, c.want) {
			t.Errorf("%q (cased %v): needles %q, want %q", c.values, c.cased, got, c.want)
		}
	}
}

// TestRareNeedlesAreNecessary checks, against Go's RE2 (the engine's regular expressions are RE2 too),
// that no text the expression matches lacks every needle: case variants, the Kelvin sign and the long s,
// multi-byte text around the literals.
func TestRareNeedlesAreNecessary(t *testing.T) {
	sets := [][]string{
		{"<script", "javascript:", "onerror=", "onload=", "<img ", "<svg", "<iframe"},
		{"jQuery*", "*xz-1", "a?b=c*"},
		{"Zoo*", "*QUIZ*"},
		{"*o=p*", "*x/.*"},
	}
	pieces := []string{"a", "b", "c", "j", "J", "k", "K", "\u212a", "s", "S", "\u017f", "<", "=", ":", "-", ".", "/", "é", "É", " ", "q", "Q", "u", "U", "i", "I", "z", "Z", "x", "X", "o", "O", "1"}
	r := rand.New(rand.NewPCG(1, 2))
	for _, set := range sets {
		var pats []Pattern
		var alts []string
		for _, v := range set {
			p := ParsePattern(v).Wrap(true, true)
			pats = append(pats, p)
			alts = append(alts, p.Regexp())
		}
		needles := rareNeedles(pats, false)
		if needles == nil {
			t.Fatalf("%v: no needles; every set here has some", set)
		}
		re := regexp.MustCompile("(?is)(?:" + strings.Join(alts, "|") + ")")
		vary := func(s string) string { // random case and fold variants of a literal
			var b strings.Builder
			for _, c := range s {
				switch {
				case c == 'k' && r.IntN(3) == 0:
					b.WriteRune('\u212a')
				case c == 's' && r.IntN(3) == 0:
					b.WriteRune('\u017f')
				case r.IntN(2) == 0:
					b.WriteString(strings.ToUpper(string(c)))
				default:
					b.WriteRune(c)
				}
			}
			return b.String()
		}
		matched := 0
		for range 20000 {
			var b strings.Builder
			for range r.IntN(12) {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
			if r.IntN(2) == 0 {
				b.WriteString(vary(strings.Trim(set[r.IntN(len(set))], "*?")))
			}
			text := b.String()
			if !re.MatchString(text) {
				continue
			}
			matched++
			if !slices.ContainsFunc(needles, func(n string) bool { return strings.Contains(text, n) }) {
				t.Fatalf("%q matches %v but holds none of the needles %q", text, set, needles)
			}
		}
		if matched < 1000 {
			t.Fatalf("%v: only %d matching texts generated", set, matched)
		}
	}
}
