package store

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file makes the SQL users write for Amazon Athena (Presto/Trino dialect) run on the store's
// DuckDB unchanged. Functions are handled in presto.go; here are the few textual rewrites DuckDB's
// grammar needs, done on tokens so that string literals, quoted identifiers and comments are never
// touched. TranslateSQL only deletes tokens, renames an identifier, or wraps an expression in a
// function call; it never builds SQL from values found in the query. Rewrites never add or remove a
// line break, so DuckDB's "LINE n" in an error refers to the user's line n.

// tokKind classifies a token of Athena SQL.
type tokKind int

const (
	tkSpace   tokKind = iota // white space
	tkComment                // -- … or /* … */
	tkString                 // '…' with '' escapes
	tkQuoted                 // "…" with "" escapes: a quoted identifier
	tkIdent                  // a bare identifier or keyword
	tkNumber                 // a numeric literal
	tkPunct                  // any other single character
)

// token is one lexical unit; text is exactly the source text.
type token struct {
	kind tokKind
	text string
	pos  int // byte offset in the query
}

// tokenize splits q into tokens whose texts concatenate back to q.
func tokenize(q string) ([]token, error) {
	var toks []token
	for i := 0; i < len(q); {
		start := i
		c := q[i]
		r, size := utf8.DecodeRuneInString(q[i:])
		var kind tokKind
		switch {
		case unicode.IsSpace(r):
			for i < len(q) {
				r, size := utf8.DecodeRuneInString(q[i:])
				if !unicode.IsSpace(r) {
					break
				}
				i += size
			}
			kind = tkSpace
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(q)
			}
			kind = tkComment
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated /* comment starting at %s", lineCol(q, start))
			}
			i += 2 + j + 2
			kind = tkComment
		case c == '\'' || c == '"':
			i++
			closed := false
			for i < len(q) {
				if q[i] == c {
					if i+1 < len(q) && q[i+1] == c {
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				i++
			}
			if !closed {
				what := "string literal"
				if c == '"' {
					what = "quoted identifier"
				}
				return nil, fmt.Errorf("unterminated %s starting at %s", what, lineCol(q, start))
			}
			kind = tkString
			if c == '"' {
				kind = tkQuoted
			}
		case r == '_' || unicode.IsLetter(r):
			for i < len(q) {
				r, size := utf8.DecodeRuneInString(q[i:])
				if r != '_' && r != '$' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					break
				}
				i += size
			}
			kind = tkIdent
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			for i < len(q) && (q[i] >= '0' && q[i] <= '9' || q[i] == '.') {
				i++
			}
			if i < len(q) && (q[i] == 'e' || q[i] == 'E') {
				j := i + 1
				if j < len(q) && (q[j] == '+' || q[j] == '-') {
					j++
				}
				if j < len(q) && q[j] >= '0' && q[j] <= '9' {
					i = j
					for i < len(q) && q[i] >= '0' && q[i] <= '9' {
						i++
					}
				}
			}
			kind = tkNumber
		default:
			i += size
			kind = tkPunct
		}
		toks = append(toks, token{kind: kind, text: q[start:i], pos: start})
	}
	return toks, nil
}

// lineCol describes a byte offset as "line L, column C" (1-based, columns in characters).
func lineCol(q string, pos int) string {
	line := 1 + strings.Count(q[:pos], "\n")
	col := 1 + utf8.RuneCountInString(q[strings.LastIndexByte(q[:pos], '\n')+1:pos])
	return fmt.Sprintf("line %d, column %d", line, col)
}

// identName returns the case-folded name of an identifier token, unquoting a quoted one.
func identName(t token) (string, bool) {
	switch t.kind {
	case tkIdent:
		return strings.ToLower(t.text), true
	case tkQuoted:
		return strings.ToLower(strings.ReplaceAll(t.text[1:len(t.text)-1], `""`, `"`)), true
	}
	return "", false
}

// TableName is the one table (a view) trailwatch queries answer from, as named in Athena.
const TableName = "cloudtrail_logs"

// rewriter holds a query's tokens, the output text of each token, and the indexes of the significant
// (non-space, non-comment) tokens.
type rewriter struct {
	toks []token
	out  []string
	sig  []int
}

func (r *rewriter) tok(k int) token { return r.toks[r.sig[k]] }

// is reports whether significant token k is the bare keyword or punctuation s (ignoring case).
func (r *rewriter) is(k int, s string) bool {
	if k < 0 || k >= len(r.sig) {
		return false
	}
	t := r.tok(k)
	return (t.kind == tkIdent || t.kind == tkPunct) && strings.EqualFold(t.text, s)
}

// drop deletes significant tokens from..to (inclusive) and the trivia between them, keeping line breaks.
func (r *rewriter) drop(from, to int) {
	for j := r.sig[from]; j <= r.sig[to]; j++ {
		r.out[j] = strings.Repeat("\n", strings.Count(r.toks[j].text, "\n"))
	}
}

// closing returns the significant index of the parenthesis closing the one at k, or -1.
func (r *rewriter) closing(k int) int {
	depth := 0
	for j := k; j < len(r.sig); j++ {
		switch {
		case r.is(j, "("):
			depth++
		case r.is(j, ")"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// TranslateSQL rewrites one Athena (Presto/Trino) query so that DuckDB runs it against the store.
// Rewrites, all on tokens (string literals, quoted identifiers and comments are left as they are):
//
//  1. Database and catalog qualifiers in front of cloudtrail_logs are dropped, in any case and quoting:
//     "default"."cloudtrail_logs", mydb.cloudtrail_logs, awsdatacatalog.mydb.cloudtrail_logs.
//  2. One trailing ';' is removed; any other ';' is an error (one statement per query).
//  3. Presto type syntax inside CAST/TRY_CAST targets: ARRAY(T) becomes T[] and ROW(…) becomes STRUCT(…).
//  4. CAST(json_extract(…) AS VARCHAR) and CAST(json_parse(…) AS VARCHAR) unquote a JSON string as
//     Presto does: the operand is wrapped in presto_json_to_varchar(…).
//  5. transform(array, lambda) is renamed list_transform (DuckDB macros cannot take lambdas).
//  6. VALUES with unparenthesised single-column rows (VALUES 1, 2) gets one parenthesis pair per row.
//
// Everything else — functions with Presto semantics, integer division — is provided by the store's
// connections (presto.go).
func TranslateSQL(q string) (string, error) {
	toks, err := tokenize(q)
	if err != nil {
		return "", fmt.Errorf("translate query: %w", err)
	}
	r := &rewriter{toks: toks, out: make([]string, len(toks))}
	for i, t := range toks {
		r.out[i] = t.text
		if t.kind != tkSpace && t.kind != tkComment {
			r.sig = append(r.sig, i)
		}
	}
	if len(r.sig) == 0 {
		return "", errors.New("translate query: the query is empty")
	}
	r.dropQualifiers()
	if err := r.statementEnd(q); err != nil {
		return "", fmt.Errorf("translate query: %w", err)
	}
	r.casts()
	r.renames()
	r.values()
	return strings.Join(r.out, ""), nil
}

// dropQualifiers implements rewrite 1.
func (r *rewriter) dropQualifiers() {
	for k := range r.sig {
		if name, ok := identName(r.tok(k)); !ok || name != TableName {
			continue
		}
		first := k
		for n := 0; n < 2; n++ {
			if first-2 < 0 || !r.is(first-1, ".") {
				break
			}
			if _, ok := identName(r.tok(first - 2)); !ok {
				break
			}
			first -= 2
		}
		if first < k {
			r.drop(first, k-1)
		}
	}
}

// statementEnd implements rewrite 2.
func (r *rewriter) statementEnd(q string) error {
	last := len(r.sig) - 1
	for k := range r.sig {
		if !r.is(k, ";") {
			continue
		}
		if k == last {
			r.drop(k, k)
			if k == 0 {
				return errors.New("the query is empty")
			}
			continue
		}
		return fmt.Errorf("only one statement can be run at a time: ';' at %s ends the first", lineCol(q, r.tok(k).pos))
	}
	return nil
}

// casts implements rewrites 3 and 4.
func (r *rewriter) casts() {
	for k := range r.sig {
		if !(r.is(k, "cast") || r.is(k, "try_cast")) || !r.is(k+1, "(") {
			continue
		}
		end := r.closing(k + 1)
		if end < 0 {
			continue
		}
		as := -1
		depth := 0
		for j := k + 1; j < end; j++ {
			switch {
			case r.is(j, "("):
				depth++
			case r.is(j, ")"):
				depth--
			case depth == 1 && r.is(j, "as"):
				as = j
			}
			if as >= 0 {
				break
			}
		}
		if as < 0 {
			continue
		}
		r.prestoTypes(as+1, end-1)
		// CAST(json_extract(...) AS VARCHAR[(n)])
		opFirst, opLast := k+2, as-1
		isVarchar := r.is(as+1, "varchar") && (as+2 == end || r.is(as+2, "(") && r.closing(as+2) == end-1)
		if isVarchar && opFirst+1 <= opLast && (r.is(opFirst, "json_extract") || r.is(opFirst, "json_parse")) &&
			r.is(opFirst+1, "(") && r.closing(opFirst+1) == opLast {
			r.out[r.sig[opFirst]] = "presto_json_to_varchar(" + r.out[r.sig[opFirst]]
			r.out[r.sig[opLast]] += ")"
		}
	}
}

// prestoTypes rewrites ARRAY(T) to T[] and ROW(…) to STRUCT(…) between significant tokens from and to.
func (r *rewriter) prestoTypes(from, to int) {
	for j := from; j <= to; j++ {
		if !r.is(j+1, "(") || j+1 > to {
			continue
		}
		switch {
		case r.is(j, "array"):
			c := r.closing(j + 1)
			if c < 0 || c > to {
				continue
			}
			r.out[r.sig[j]] = ""
			r.out[r.sig[j+1]] = ""
			r.out[r.sig[c]] = "[]"
		case r.is(j, "row"):
			r.out[r.sig[j]] = "STRUCT"
		}
	}
}

// renames implements rewrite 5.
func (r *rewriter) renames() {
	for k := range r.sig {
		if r.is(k, "transform") && r.is(k+1, "(") && !r.is(k-1, ".") {
			r.out[r.sig[k]] = "list_transform"
		}
	}
}

// values implements rewrite 6.
func (r *rewriter) values() {
	for k := range r.sig {
		if !r.is(k, "values") || k+1 >= len(r.sig) || r.is(k+1, "(") {
			continue
		}
		depth := 0
		start := k + 1
		end := func(last int) {
			if last >= start {
				r.out[r.sig[start]] = "(" + r.out[r.sig[start]]
				r.out[r.sig[last]] += ")"
			}
		}
		j := start
	loop:
		for ; j < len(r.sig); j++ {
			switch {
			case r.is(j, "("):
				depth++
			case r.is(j, ")"):
				if depth == 0 {
					break loop
				}
				depth--
			case depth == 0 && r.is(j, ","):
				end(j - 1)
				start = j + 1
			case depth == 0 && (r.is(j, "order") || r.is(j, "limit") || r.is(j, "union") || r.is(j, "except") ||
				r.is(j, "intersect") || r.is(j, "offset") || r.is(j, "fetch") || r.is(j, ";")):
				break loop
			}
		}
		end(j - 1)
	}
}

// ---- error messages -------------------------------------------------------------------------------

// athenaColumns are the columns of cloudtrail_logs, for suggestions.
var athenaColumns = []string{
	"eventversion", "useridentity", "eventtime", "eventsource", "eventname", "awsregion", "sourceipaddress",
	"useragent", "errorcode", "errormessage", "requestparameters", "responseelements", "additionaleventdata",
	"requestid", "eventid", "readonly", "resources", "eventtype", "apiversion", "recipientaccountid",
	"serviceeventdetails", "sharedeventid", "vpcendpointid", "tlsdetails", "eventcategory", "managementevent",
	"extra", "account", "region", "timestamp", "year", "month", "day", "account_partition", "region_partition",
	"date_partition", "event_time", "source_object",
}

// athenaFields are the fields of the nested columns (useridentity, resources, tlsdetails), for suggestions.
var athenaFields = []string{
	"type", "principalid", "arn", "accountid", "invokedby", "accesskeyid", "username", "sessioncontext",
	"attributes", "mfaauthenticated", "creationdate", "sessionissuer", "ec2roledelivery", "webidfederationdata",
	"tlsversion", "ciphersuite", "clientprovidedhostheader",
}

// QueryError is a query failure explained in terms of the user's SQL. Err is the database's error.
type QueryError struct {
	// Message says what is wrong, in Athena terms, with suggestions where there are any.
	Message string
	// Context is the offending line of the user's query with a caret under the problem, when known.
	Context string
	// Err is the underlying error.
	Err error
}

// Error returns the message followed by the line context.
func (e *QueryError) Error() string {
	if e.Context == "" {
		return e.Message
	}
	return e.Message + "\n" + e.Context
}

// Unwrap returns the underlying error.
func (e *QueryError) Unwrap() error { return e.Err }

var (
	reErrKind       = regexp.MustCompile(`^(?:[A-Za-z ]+ Error|Error): `)
	reColumn        = regexp.MustCompile(`Referenced column "((?:[^"]|"")*)" (?:not found|was not found)`)
	reCandidates    = regexp.MustCompile(`Candidate (?:bindings|Entries): (.*)`)
	reStructKey     = regexp.MustCompile(`Could not find key "((?:[^"]|"")*)" in struct`)
	reFunction      = regexp.MustCompile(`(?:Scalar|Aggregate|Table|Pragma) Function with name "?([^" !]+)"? does not exist`)
	reTable         = regexp.MustCompile(`Table with name "?([^" !]+)"? does not exist`)
	reNoMatch       = regexp.MustCompile(`No function matches the given name and argument types '([A-Za-z_0-9]+)\((.*)\)'`)
	reMacroArgs     = regexp.MustCompile(`Macro "?([A-Za-z_0-9]+)"?\(\) does not support the supplied arguments|Macro function '?([A-Za-z_0-9]+)\(`)
	reSyntax        = regexp.MustCompile(`syntax error at (?:or near "((?:[^"]|"")*)"|end of input)`)
	reLine          = regexp.MustCompile(`(?m)^LINE (\d+): `)
	reQuotedInCands = regexp.MustCompile(`"((?:[^"]|"")*)"`)
)

// ExplainError turns a DuckDB error from running TranslateSQL(q) into a message in terms of q: an
// unknown column or struct field is named with the closest Athena columns or fields; an unknown
// function is reported as not a supported Presto function, with close supported names; an unknown
// table points at cloudtrail_logs. When DuckDB reports a line, the context shows that line of q with
// a caret under the name at fault, or DuckDB's own context when the name cannot be placed. The result
// is a *QueryError wrapping err; nil stays nil.
func ExplainError(q string, err error) error {
	if err == nil {
		return nil
	}
	var qe *QueryError
	if errors.As(err, &qe) {
		return err
	}
	full := err.Error()
	first, rest, _ := strings.Cut(full, "\n")
	// Errors of the Go UDFs (presto.go) reach here wrapped by the driver's API error prefix.
	msg := strings.Replace(reErrKind.ReplaceAllString(first, ""), "database/sql/driver: API error: ", "", 1)
	e := &QueryError{Message: msg, Err: err}
	name := ""
	switch {
	case reColumn.MatchString(first):
		name = unquoteDQ(reColumn.FindStringSubmatch(first)[1])
		base := name
		if i := strings.LastIndexByte(base, '.'); i >= 0 {
			base = base[i+1:]
		}
		cands := append(candidatesFrom(rest), athenaColumns...)
		e.Message = fmt.Sprintf("Column '%s' cannot be resolved", name) + suggest(base, cands)
	case reStructKey.MatchString(first):
		name = unquoteDQ(reStructKey.FindStringSubmatch(first)[1])
		cands := candidatesFrom(rest)
		if len(cands) == 0 {
			cands = athenaFields
		}
		e.Message = fmt.Sprintf("Field '%s' does not exist in this struct", name) + suggest(name, cands)
	case reFunction.MatchString(first):
		name = reFunction.FindStringSubmatch(first)[1]
		e.Message = fmt.Sprintf("Function '%s' is not a supported Presto function", name) + suggest(name, prestoFunctions)
	case reTable.MatchString(first):
		name = reTable.FindStringSubmatch(first)[1]
		e.Message = fmt.Sprintf("Table '%s' does not exist: trailwatch answers queries from one table, %s", name, TableName)
	case reNoMatch.MatchString(first):
		m := reNoMatch.FindStringSubmatch(first)
		name = m[1]
		e.Message = fmt.Sprintf("Function '%s' cannot be applied to (%s)", m[1], presentTypes(m[2]))
	case reMacroArgs.MatchString(first):
		m := reMacroArgs.FindStringSubmatch(first)
		name = m[1] + m[2]
		e.Message = fmt.Sprintf("Function '%s' cannot be applied to these arguments (wrong number or types)", name)
		if strings.Contains(first, "requires") || strings.Contains(first, "positional") {
			e.Message += ": " + msg
		}
	case reSyntax.MatchString(first):
		m := reSyntax.FindStringSubmatch(first)
		if m[1] == "" {
			e.Message = "Syntax error: the query ends too early"
		} else {
			name = unquoteDQ(m[1])
			e.Message = fmt.Sprintf("Syntax error at or near '%s'", name)
		}
	}
	e.Context = lineContext(q, rest, name)
	return e
}

func unquoteDQ(s string) string { return strings.ReplaceAll(s, `""`, `"`) }

// candidatesFrom returns the names DuckDB lists as candidates, without table prefixes.
func candidatesFrom(rest string) []string {
	m := reCandidates.FindStringSubmatch(rest)
	if m == nil {
		return nil
	}
	var out []string
	for _, q := range reQuotedInCands.FindAllStringSubmatch(m[1], -1) {
		n := unquoteDQ(q[1])
		if i := strings.LastIndexByte(n, '.'); i >= 0 {
			n = n[i+1:]
		}
		out = append(out, n)
	}
	return out
}

// presentTypes renames DuckDB's literal types in an argument list (INTEGER_LITERAL -> integer).
func presentTypes(args string) string {
	args = strings.ReplaceAll(args, "STRING_LITERAL", "VARCHAR")
	args = strings.ReplaceAll(args, "INTEGER_LITERAL", "INTEGER")
	return strings.ToLower(args)
}

// suggest returns " (did you mean …?)" with up to three names close to name, or "".
func suggest(name string, candidates []string) string {
	close := closest(name, candidates, 3)
	if len(close) == 0 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", strings.Join(quoteAll(close), " or "))
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "'" + s + "'"
	}
	return out
}

// closest returns up to n distinct candidates within a small edit distance of name, nearest first;
// a candidate that contains name or is contained in it counts as close.
func closest(name string, candidates []string, n int) []string {
	name = strings.ToLower(name)
	type scored struct {
		s string
		d int
	}
	seen := map[string]bool{}
	var out []scored
	limit := max(2, len(name)/3)
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if seen[lc] || lc == name {
			continue
		}
		seen[lc] = true
		d := levenshtein(name, lc)
		if d > limit && !(len(name) >= 4 && (strings.Contains(lc, name) || strings.Contains(name, lc) && len(lc) >= 4)) {
			continue
		}
		out = append(out, scored{c, d})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].d != out[j].d {
			return out[i].d < out[j].d
		}
		return out[i].s < out[j].s
	})
	var res []string
	for i := 0; i < len(out) && i < n; i++ {
		res = append(res, out[i].s)
	}
	return res
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// lineContext renders "LINE n: <line of q>" with a caret under name when DuckDB reported line n and
// name occurs on that line outside string literals; otherwise DuckDB's own context (from rest).
func lineContext(q, rest, name string) string {
	m := reLine.FindStringSubmatchIndex(rest)
	if m == nil {
		return ""
	}
	duck := strings.TrimRight(rest[m[0]:], "\n")
	lineNo, err := strconv.Atoi(rest[m[2]:m[3]])
	if err != nil || name == "" {
		return duck
	}
	lines := strings.Split(q, "\n")
	if lineNo < 1 || lineNo > len(lines) {
		return duck
	}
	line := strings.TrimRight(lines[lineNo-1], "\r")
	col := findName(line, name)
	if col < 0 {
		return duck
	}
	prefix := fmt.Sprintf("LINE %d: ", lineNo)
	caret := strings.Repeat(" ", len(prefix)+utf8.RuneCountInString(strings.ReplaceAll(line[:col], "\t", " ")))
	return prefix + strings.ReplaceAll(line, "\t", " ") + "\n" + caret + "^"
}

// findName returns the byte offset of the first token of line that is name (an identifier, ignoring
// case, or the exact text of another token), or -1.
func findName(line, name string) int {
	toks, err := tokenize(line)
	if err != nil {
		return -1
	}
	lname := strings.ToLower(name)
	// A dotted name (t.col) is matched on its last part.
	if i := strings.LastIndexByte(lname, '.'); i >= 0 && i < len(lname)-1 {
		lname = lname[i+1:]
	}
	for _, t := range toks {
		if n, ok := identName(t); ok && n == lname {
			return t.pos
		}
		if (t.kind == tkPunct || t.kind == tkNumber || t.kind == tkString) && t.text == name {
			return t.pos
		}
	}
	return -1
}
