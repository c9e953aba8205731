package sigma

import (
	"fmt"
	"path"
	"strings"
)

// Expr is a parsed Sigma condition.
type Expr interface{ String() string }

// And is a conjunction.
type And struct{ L, R Expr }

// Or is a disjunction.
type Or struct{ L, R Expr }

// Not negates.
type Not struct{ X Expr }

// Ident names one search of the detection.
type Ident struct{ Name string }

// Of is `1 of pattern`, `all of pattern`, `1 of them` or `all of them`.
type Of struct {
	All     bool
	Pattern string // "them" for every search
}

func (e And) String() string   { return "(" + e.L.String() + " and " + e.R.String() + ")" }
func (e Or) String() string    { return "(" + e.L.String() + " or " + e.R.String() + ")" }
func (e Not) String() string   { return "not " + e.X.String() }
func (e Ident) String() string { return e.Name }
func (e Of) String() string {
	if e.All {
		return "all of " + e.Pattern
	}
	return "1 of " + e.Pattern
}

// ConditionError is a syntax error in a condition, at a byte offset.
type ConditionError struct {
	Offset int
	Msg    string
}

func (e *ConditionError) Error() string { return fmt.Sprintf("column %d: %s", e.Offset+1, e.Msg) }

type token struct {
	kind string // ident, and, or, not, of-one, of-all, them, (, ), eof
	text string
	off  int
}

func lexCondition(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, token{kind: string(c), text: string(c), off: i})
			i++
		case isIdentChar(c) || c == '*':
			j := i
			for j < len(s) && (isIdentChar(s[j]) || s[j] == '*') {
				j++
			}
			w := s[i:j]
			kind := "ident"
			switch strings.ToLower(w) {
			case "and", "or", "not", "of", "them", "all", "any":
				kind = strings.ToLower(w)
			}
			toks = append(toks, token{kind: kind, text: w, off: i})
			i = j
		case c == '|':
			return nil, &ConditionError{i, "the pipe aggregation syntax (| count() …) was removed in Sigma 2; use a correlation rule"}
		default:
			return nil, &ConditionError{i, fmt.Sprintf("unexpected character %q", c)}
		}
	}
	// Fold quantifiers: "1 of", "any of", "all of".
	var out []token
	for k := 0; k < len(toks); k++ {
		t := toks[k]
		if (t.text == "1" || t.kind == "any" || t.kind == "all") && k+1 < len(toks) && toks[k+1].kind == "of" {
			kind := "of-one"
			if t.kind == "all" {
				kind = "of-all"
			}
			out = append(out, token{kind: kind, text: t.text + " of", off: t.off})
			k++
			continue
		}
		switch t.kind {
		case "of":
			return nil, &ConditionError{t.off, `"of" must follow 1, any or all`}
		case "all", "any":
			return nil, &ConditionError{t.off, fmt.Sprintf("%q must be followed by of", t.text)}
		}
		if t.kind == "ident" && len(t.text) > 0 && t.text[0] >= '0' && t.text[0] <= '9' && strings.Trim(t.text, "0123456789") == "" {
			return nil, &ConditionError{t.off, fmt.Sprintf("%s of is not supported; only 1 of, any of and all of", t.text)}
		}
		out = append(out, t)
	}
	return append(out, token{kind: "eof", off: len(s)}), nil
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ParseCondition parses a Sigma condition. Precedence, loosest first: or, and, not, x of, parentheses.
func ParseCondition(s string) (Expr, error) {
	toks, err := lexCondition(s)
	if err != nil {
		return nil, err
	}
	p := &condParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, &ConditionError{t.off, fmt.Sprintf("unexpected %q", t.text)}
	}
	return e, nil
}

type condParser struct {
	toks  []token
	i     int
	depth int
}

func (p *condParser) peek() token { return p.toks[p.i] }
func (p *condParser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *condParser) or() (Expr, error) {
	return p.binary("or", p.and, func(l, r Expr) Expr { return Or{l, r} })
}

func (p *condParser) and() (Expr, error) {
	return p.binary("and", p.not, func(l, r Expr) Expr { return And{l, r} })
}

// binary parses operands joined by op, left-associative.
func (p *condParser) binary(op string, operand func() (Expr, error), join func(l, r Expr) Expr) (Expr, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == op {
		p.next()
		r, err := operand()
		if err != nil {
			return nil, err
		}
		l = join(l, r)
	}
	return l, nil
}

func (p *condParser) not() (Expr, error) {
	if p.peek().kind == "not" {
		p.next()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return Not{x}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (Expr, error) {
	t := p.next()
	switch t.kind {
	case "(":
		p.depth++
		if p.depth > 100 {
			return nil, &ConditionError{t.off, "parentheses nested too deep"}
		}
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != ")" {
			return nil, &ConditionError{c.off, "missing )"}
		}
		p.depth--
		return e, nil
	case "ident":
		if strings.Contains(t.text, "*") {
			return nil, &ConditionError{t.off, fmt.Sprintf("wildcard %q needs 1 of or all of", t.text)}
		}
		return Ident{t.text}, nil
	case "of-one", "of-all":
		target := p.next()
		switch target.kind {
		case "them", "ident":
		default:
			return nil, &ConditionError{target.off, fmt.Sprintf("%s needs a search pattern or them", t.text)}
		}
		pat := target.text
		if target.kind == "them" {
			pat = "them"
		}
		return Of{All: t.kind == "of-all", Pattern: pat}, nil
	case "eof":
		return nil, &ConditionError{t.off, "condition ends too early"}
	}
	return nil, &ConditionError{t.off, fmt.Sprintf("unexpected %q", t.text)}
}

// Expand resolves identifiers and `x of` patterns against the names of the detection's searches: it
// checks every name exists and turns each `x of` into an explicit And/Or of identifiers.
func Expand(e Expr, names []string) (Expr, error) {
	switch e := e.(type) {
	case And:
		l, r, err := expandBoth(e.L, e.R, names)
		return And{l, r}, err
	case Or:
		l, r, err := expandBoth(e.L, e.R, names)
		return Or{l, r}, err
	case Not:
		x, err := Expand(e.X, names)
		if err != nil {
			return nil, err
		}
		return Not{x}, nil
	case Ident:
		for _, n := range names {
			if n == e.Name {
				return e, nil
			}
		}
		return nil, fmt.Errorf("condition names %q, which is not a search of this detection", e.Name)
	case Of:
		var matched []Expr
		for _, n := range names {
			if e.Pattern == "them" {
				if !strings.HasPrefix(n, "_") {
					matched = append(matched, Ident{n})
				}
				continue
			}
			if ok, _ := path.Match(e.Pattern, n); ok {
				matched = append(matched, Ident{n})
			}
		}
		if len(matched) == 0 {
			return nil, fmt.Errorf("%s matches no search of this detection", e)
		}
		out := matched[0]
		for _, m := range matched[1:] {
			if e.All {
				out = And{out, m}
			} else {
				out = Or{out, m}
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown condition node %T", e)
}

func expandBoth(l, r Expr, names []string) (Expr, Expr, error) {
	l, err := Expand(l, names)
	if err != nil {
		return nil, nil, err
	}
	r, err = Expand(r, names)
	return l, r, err
}
