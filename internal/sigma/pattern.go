package sigma

import (
	"regexp"
	"strings"
)

// Pattern is a Sigma string value: literal text with `*` (any run) and `?` (one character) wildcards.
type Pattern []Piece

// Piece is a literal run or one wildcard.
type Piece struct {
	Lit  string
	Wild byte // '*' or '?' for a wildcard, 0 for a literal
}

// ParsePattern reads a Sigma string value with its escapes: `\*` and `\?` are literal, `\\` is one
// backslash, and any other backslash is literal.
func ParsePattern(s string) Pattern {
	var p Pattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p = append(p, Piece{Lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			lit.WriteByte(s[i+1])
			i++
		case c == '*' || c == '?':
			flush()
			p = append(p, Piece{Wild: c})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

// Literal returns a pattern that matches s exactly.
func Literal(s string) Pattern {
	if s == "" {
		return Pattern{}
	}
	return Pattern{{Lit: s}}
}

// HasWildcards reports whether the pattern has a wildcard.
func (p Pattern) HasWildcards() bool {
	for _, pc := range p {
		if pc.Wild != 0 {
			return true
		}
	}
	return false
}

// Text returns the literal text of a pattern without wildcards.
func (p Pattern) Text() string {
	var b strings.Builder
	for _, pc := range p {
		if pc.Wild != 0 {
			b.WriteByte(pc.Wild)
		} else {
			b.WriteString(pc.Lit)
		}
	}
	return b.String()
}

// Wrap adds `*` before and/or after the pattern (contains, startswith, endswith).
func (p Pattern) Wrap(before, after bool) Pattern {
	out := make(Pattern, 0, len(p)+2)
	if before && !(len(p) > 0 && p[0].Wild == '*') {
		out = append(out, Piece{Wild: '*'})
	}
	out = append(out, p...)
	if after && !(len(p) > 0 && p[len(p)-1].Wild == '*') {
		out = append(out, Piece{Wild: '*'})
	}
	return out
}

// Like renders the pattern for SQL LIKE with `\` as the escape character.
func (p Pattern) Like() string {
	var b strings.Builder
	for _, pc := range p {
		switch pc.Wild {
		case '*':
			b.WriteByte('%')
		case '?':
			b.WriteByte('_')
		default:
			for _, r := range pc.Lit {
				if r == '%' || r == '_' || r == '\\' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// Lower lower-cases the literal parts.
func (p Pattern) Lower() Pattern {
	out := make(Pattern, len(p))
	for i, pc := range p {
		out[i] = Piece{Lit: strings.ToLower(pc.Lit), Wild: pc.Wild}
	}
	return out
}

// Simple classifies the pattern: exact text, prefix*, *suffix, *infix*, or none of those.
func (p Pattern) Simple() (kind string, text string) {
	switch {
	case !p.HasWildcards():
		return "eq", p.Text()
	case len(p) == 2 && p[0].Wild == 0 && p[1].Wild == '*':
		return "prefix", p[0].Lit
	case len(p) == 2 && p[0].Wild == '*' && p[1].Wild == 0:
		return "suffix", p[1].Lit
	case len(p) == 3 && p[0].Wild == '*' && p[1].Wild == 0 && p[2].Wild == '*':
		return "infix", p[1].Lit
	case len(p) == 1 && p[0].Wild == '*':
		return "any", ""
	}
	return "", ""
}

// Regexp renders the pattern as an RE2 expression matching the whole text (unanchored where it starts or
// ends with *).
func (p Pattern) Regexp() string {
	var b strings.Builder
	n := len(p)
	if n == 0 || p[0].Wild != '*' {
		b.WriteByte('^')
	}
	for i, pc := range p {
		switch {
		case pc.Wild == '*' && (i == 0 || i == n-1):
			// leading or trailing: the search is unanchored there
		case pc.Wild == '*':
			b.WriteString(".*")
		case pc.Wild == '?':
			b.WriteByte('.')
		default:
			b.WriteString(regexp.QuoteMeta(pc.Lit))
		}
	}
	if n == 0 || p[n-1].Wild != '*' {
		b.WriteByte('$')
	}
	return b.String()
}
