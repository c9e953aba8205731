package sigma

import (
	"fmt"
	"regexp"
	"strings"
)

// Dialect renders the pieces of SQL that differ between engines. The compiler decides what to match; the
// dialect says how the engine spells it. Every value reaches SQL through String, never spliced raw.
type Dialect interface {
	// Name names the engine, e.g. "duckdb".
	Name() string
	// String quotes a string literal.
	String(s string) string
	// Value renders a field of kind Scalar (text), List (a list of text) or JSONPath (a list of text).
	Value(f Field) string
	// Exists tests that a field is present, even when empty or null.
	Exists(f Field) string
	// Any is true when pred, given an element expression, holds for some element of a list.
	Any(list string, pred func(x string) string) string
	// Lower lower-cases text.
	Lower(x string) string
	// In tests that x equals one of several literals (already rendered).
	In(x string, literals []string) string
	// Like matches a LIKE pattern with `\` as escape.
	Like(x, pattern string) string
	// Regexp is a regular-expression search (RE2 syntax, flags inline).
	Regexp(x, re string) string
	// Contains tests that x holds text, case-sensitively.
	Contains(x, text string) string
	// CIDR tests that x is an IP address inside the network.
	CIDR(x, network string) string
	// Number converts text to a number, NULL when it is not one.
	Number(x string) string
	// FullText is all the text of an event, for keyword searches.
	FullText() string
	// Principal is who acted, resolved through assumed roles to the human where the record says so.
	Principal() string
	// LocalClock returns expressions for the ISO day of week (1 = Monday) and minute of day of the event
	// time in a time zone.
	LocalClock(tz string) (dow, minute string)
	// EventTime is the event time as a timestamp with time zone.
	EventTime() string
	// Table is the table rules read.
	Table() string
}

// DuckDB is the dialect of the embedded store. Its JSON paths go through tw_json_values and tw_json_has,
// its network tests through tw_cidr_match, Go functions the store registers.
type DuckDB struct{}

var _ Dialect = DuckDB{}

// Name implements Dialect.
func (DuckDB) Name() string { return "duckdb" }

// String implements Dialect: standard SQL quoting, where only the quote is special.
func (DuckDB) String(s string) string {
	return "'" + strings.ReplaceAll(strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD"), "'", "''") + "'"
}

func (d DuckDB) jsonPath(path []string) string { return d.String(strings.Join(path, "\x1f")) }

// Value implements Dialect.
func (d DuckDB) Value(f Field) string {
	switch f.Kind {
	case List:
		return fmt.Sprintf("list_transform(%s, r -> r.%s)", f.Column, f.Path[0])
	case JSONPath:
		// The text test is cheap and spares the rest the documents without the key.
		return fmt.Sprintf("CASE WHEN %s THEN %s END", d.hasKeyText(f), d.jsonValues(f))
	case Virtual:
		return d.Principal()
	}
	x := f.Column
	for _, p := range f.Path {
		x += "." + p
	}
	if f.Text {
		return "CAST(to_json(" + x + ") AS VARCHAR)"
	}
	return x
}

// jsonValues is the list of values a JSON path reaches, as tw_json_values gives it. A string without escapes
// or a boolean reached by keys alone is read by DuckDB's own JSON reader instead, which spares a call into Go
// per event (the library over 1M events: 0.2 s less CPU for the whole detect, median of 8 runs; 0.3-0.5 s
// in DuckDB's profile of the events query); anything else goes to tw_json_values: a number
// (whose text DuckDB normalises, 1.50 -> 1.5), null, an object, an array on the way or at the end, an escaped
// string, a malformed document (try gives NULL). Paths through AWS's array wrapper "items" go to
// tw_json_values directly.
func (d DuckDB) jsonValues(f Field) string {
	udf := fmt.Sprintf("tw_json_values(%s, %s)", f.Column, d.jsonPath(f.Path))
	jp := "$"
	for _, k := range f.Path {
		if k == "items" || !plainKey.MatchString(k) {
			return udf
		}
		jp += `."` + k + `"`
	}
	v := fmt.Sprintf("try(json_value(%s, %s))", f.Column, d.String(jp))
	return fmt.Sprintf(`CASE WHEN starts_with(%[1]s, '"') AND NOT contains(%[1]s, '\') THEN [%[1]s[2:-2]] `+
		`WHEN %[1]s = 'true' OR %[1]s = 'false' THEN [%[1]s] ELSE %[2]s END`, v, udf)
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Exists implements Dialect.
func (d DuckDB) Exists(f Field) string {
	if f.Kind == JSONPath {
		return fmt.Sprintf("(%s AND tw_json_has(%s, %s))", d.hasKeyText(f), f.Column, d.jsonPath(f.Path))
	}
	x := f.Column
	for _, p := range f.Path {
		x += "." + p
	}
	return "(" + x + " IS NOT NULL)"
}

// hasKeyText is a necessary condition for a JSON path to be present: the document's text holds its last
// key, quoted.
func (d DuckDB) hasKeyText(f Field) string {
	key := f.Path[len(f.Path)-1]
	if strings.ContainsAny(key, "\"\\") || key == "" {
		return "(" + f.Column + " IS NOT NULL)"
	}
	return d.Contains(f.Column, `"`+key+`"`)
}

// Any implements Dialect.
func (DuckDB) Any(list string, pred func(x string) string) string {
	return fmt.Sprintf("(len(list_filter(%s, x -> %s)) > 0)", list, pred("x"))
}

// Lower implements Dialect.
func (DuckDB) Lower(x string) string { return "lower(" + x + ")" }

// In implements Dialect. A list function, not IN: DuckDB's optimizer turns an IN list of five or more
// constants into a join on the table, which evaluates it for every event, outside the CASE that was to
// guard it (measured on 1M events: the library's events query took 3.5-4.7 s in DuckDB's profile against
// 2.8-3.3 s without that rewrite).
func (DuckDB) In(x string, literals []string) string {
	return "list_contains([" + strings.Join(literals, ", ") + "], " + x + ")"
}

// Like implements Dialect.
func (d DuckDB) Like(x, pattern string) string {
	return x + " LIKE " + d.String(pattern) + ` ESCAPE '\'`
}

// Regexp implements Dialect.
func (d DuckDB) Regexp(x, re string) string { return "regexp_matches(" + x + ", " + d.String(re) + ")" }

// Contains implements Dialect.
func (d DuckDB) Contains(x, text string) string { return "contains(" + x + ", " + d.String(text) + ")" }

// CIDR implements Dialect.
func (d DuckDB) CIDR(x, network string) string {
	return "tw_cidr_match(" + x + ", " + d.String(network) + ")"
}

// Number implements Dialect.
func (DuckDB) Number(x string) string { return "TRY_CAST(" + x + " AS DOUBLE)" }

// FullText implements Dialect.
func (DuckDB) FullText() string {
	return "concat_ws(' ', eventsource, eventname, awsregion, sourceipaddress, useragent, errorcode, errormessage, " +
		"CAST(to_json(useridentity) AS VARCHAR), requestparameters, responseelements, additionaleventdata, " +
		"serviceeventdetails, CAST(to_json(resources) AS VARCHAR), extra)"
}

// Principal implements Dialect. In order: the source identity a role session carries; the person behind an
// Identity Center (AWSReservedSSO_*) session; role/session for other role sessions; the user name of IAM
// users and of failed sign-ins; root; the service for AWS services; else the ARN or principal ID.
func (DuckDB) Principal() string {
	return `coalesce(
	CASE WHEN contains(extra, '"sourceIdentity"') THEN json_extract_string(extra, '$.userIdentity.sessionContext.sourceIdentity') END,
	CASE
		WHEN useridentity.type = 'Root' THEN 'root'
		WHEN useridentity.type = 'AssumedRole' AND useridentity.sessioncontext.sessionissuer.username LIKE 'AWSReservedSSO\_%' ESCAPE '\'
			THEN regexp_extract(useridentity.arn, '[^/]+$')
		WHEN useridentity.type = 'AssumedRole'
			THEN coalesce(useridentity.sessioncontext.sessionissuer.username, regexp_extract(useridentity.arn, 'assumed-role/([^/]+)', 1)) || '/' || regexp_extract(useridentity.arn, '[^/]+$')
		WHEN useridentity.type = 'AWSService' THEN useridentity.invokedby
		WHEN useridentity.type = 'IdentityCenterUser' THEN coalesce(json_extract_string(additionaleventdata, '$.UserName'), json_extract_string(extra, '$.userIdentity.onBehalfOf.userId'))
	END,
	useridentity.username,
	CASE WHEN contains(additionaleventdata, '"UserName"') THEN json_extract_string(additionaleventdata, '$.UserName') END,
	useridentity.arn,
	useridentity.principalid,
	useridentity.invokedby)`
}

// LocalClock implements Dialect.
func (d DuckDB) LocalClock(tz string) (dow, minute string) {
	local := "timezone(" + d.String(tz) + ", event_time)"
	return "isodow(" + local + ")", "(hour(" + local + ") * 60 + minute(" + local + "))"
}

// EventTime implements Dialect.
func (DuckDB) EventTime() string { return "event_time" }

// Table implements Dialect.
func (DuckDB) Table() string { return "cloudtrail_logs" }
