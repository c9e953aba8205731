package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// The Presto/Trino functions Athena users call, made available on DuckDB in three ways:
//
//   - DuckDB built-ins that already behave as in Presto are left alone (lower, upper, length, strpos,
//     position, coalesce, try, try_cast, count_if, arbitrary, array_agg, regexp_extract_all, split, …).
//   - Macros (prestoMacros) rename or adjust a built-in. A macro with a built-in's name hides the
//     built-in, which is how date_add, date_diff, cardinality, element_at, split_part, regexp_replace,
//     concat, … get Presto's signature and semantics; the hidden built-in stays reachable as
//     system.main.<name>. A writable open keeps them in the store's own schema tw_presto, which every
//     connection puts ahead of the built-ins on its search path (see prestoSchema); a store without the
//     current version of them gets them as per-connection TEMP macros, which write nothing, so read-only
//     stores work too.
//   - Go scalar UDFs (prestoUDFs) where Presto's exact behaviour needs Go: Joda-Time patterns
//     (format_datetime, parse_datetime), MySQL-style patterns (date_format, date_parse), ISO-8601
//     printing and strict parsing, type-preserving date_add, and java.net.URI-like URL functions.
//
// Known differences from Presto are noted next to the definitions and summed up above prestoFunctions.

// prestoSettings are set on every connection so that arithmetic follows Presto: integer / integer
// is an integer division in Presto (5 / 2 = 2), a DOUBLE division in DuckDB unless this is set.
var prestoSettings = []string{
	"SET integer_division = true",
}

// prestoWhitespace is the set of characters Presto's trim, ltrim and rtrim remove (Java whitespace in ASCII).
const prestoWhitespace = `(' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31))`

// prestoMacros are created on every connection. Each entry is one macro (all of its overloads).
var prestoMacros = []string{
	// --- JSON -------------------------------------------------------------------------------------
	// Presto's JSONPath allows ["key"] for keys that are not identifiers; DuckDB spells that ."key".
	`presto_json_path(p) AS system.main.regexp_replace(p, '\["((?:[^"\\]|\\.)*)"\]', '."\1"', 'g')`,
	// json_extract_scalar: the scalar at path as text; NULL for objects, arrays, JSON null, a missing
	// path, and malformed JSON (Presto returns NULL rather than failing on malformed input).
	// Gap: numbers come back normalised by DuckDB (1.50 -> 1.5, 1e3 -> 1000.0) where Presto keeps the text.
	`json_extract_scalar(j, p) AS try(json_extract_string(json_value(j, presto_json_path(p)), '$'))`,
	// json_extract: the JSON value at path; NULL for a missing path or malformed JSON.
	`json_extract(j, p) AS try(system.main.json_extract(j, presto_json_path(p)))`,
	`json_array_length(j) AS try(CASE WHEN json_type(j) = 'ARRAY' THEN system.main.json_array_length(j) END),
	 (j, p) AS try(system.main.json_array_length(j, p))`,
	// json_array_contains: true when the JSON array holds a value equal to v (compared as JSON text,
	// so 'a' matches "a" and 2 matches 2 but not "2"); NULL when j is not an array.
	`json_array_contains(j, v) AS try(CASE WHEN json_type(j) = 'ARRAY'
		THEN list_contains(CAST(system.main.json_extract(j, '$[*]') AS VARCHAR[]), CAST(to_json(v) AS VARCHAR)) END)`,
	// json_array_get: element i (0-based, negative from the end) of a JSON array, as JSON.
	`json_array_get(j, i) AS try(CASE WHEN json_type(j) = 'ARRAY' THEN
		system.main.json_extract(j, CASE WHEN i >= 0 THEN '$[' || CAST(i AS VARCHAR) || ']' ELSE '$[#' || CAST(i AS VARCHAR) || ']' END) END)`,
	// json_size: number of members of the object or array at path, 0 for a scalar, NULL if missing.
	`json_size(j, p) AS try(CASE
		WHEN json_type(j, presto_json_path(p)) = 'ARRAY' THEN system.main.json_array_length(j, presto_json_path(p))
		WHEN json_type(j, presto_json_path(p)) = 'OBJECT' THEN len(json_keys(j, presto_json_path(p)))
		WHEN json_type(j, presto_json_path(p)) IS NOT NULL THEN 0 END)`,
	// DuckDB's own json(x) is a macro over json_extract(x, '$'): with json_extract hidden above it would
	// turn NULL on malformed input, so it is restored here; json_parse fails on malformed input as in Presto.
	`json(x) AS system.main.json_extract(x, '$')`,
	`json_format(j) AS CAST(system.main.json_extract(j, '$') AS VARCHAR)`,
	`json_parse(s) AS system.main.json_extract(s, '$')`,
	`is_json_scalar(j) AS json_type(j) NOT IN ('OBJECT', 'ARRAY')`,
	// Used by TranslateSQL for CAST(json_extract(...) AS VARCHAR): Presto unquotes a JSON string.
	`presto_json_to_varchar(j) AS json_extract_string(j, '$')`,

	// --- date and time --------------------------------------------------------------------------
	// from_iso8601_timestamp: DuckDB's cast handles the usual forms fast; the Go UDF handles the rest
	// of Joda's ISO grammar (2020-01-02T03Z, week dates, …) and fails on invalid input as Presto does.
	// date_diff counts whole units elapsed (Presto, Joda), which DuckDB calls date_sub.
	`date_diff(unit, a, b) AS system.main.date_sub(unit, a, b)`,
	`to_unixtime(x) AS epoch(x)`,
	`from_unixtime(x) AS to_timestamp(x),
	 (x, zone) AS timezone(zone, to_timestamp(x))`,
	`day_of_week(x) AS isodow(x)`,
	`dow(x) AS isodow(x)`,
	`day_of_month(x) AS dayofmonth(x)`,
	`day_of_year(x) AS dayofyear(x)`,
	`doy(x) AS dayofyear(x)`,
	`week_of_year(x) AS weekofyear(x)`,
	`year_of_week(x) AS isoyear(x)`,
	`yow(x) AS isoyear(x)`,
	// DuckDB's millisecond includes the seconds (5.123 s -> 5123); Presto's is 0-999.
	`millisecond(x) AS system.main.millisecond(x) % 1000`,
	`last_day_of_month(x) AS last_day(x)`,
	`truncate(x) AS trunc(x)`,
	`e() AS exp(1)`,
	`current_timezone() AS current_setting('TimeZone')`,

	// --- strings ----------------------------------------------------------------------------------
	`replace(s, f) AS system.main.replace(s, f, ''), (s, f, r) AS system.main.replace(s, f, r)`,
	// concat: NULL if any argument is NULL (DuckDB's concat skips NULLs); also concatenates arrays.
	concatMacro(12),
	`trim(s) AS system.main.trim(s, ` + prestoWhitespace + `), (s, chars) AS system.main.trim(s, chars)`,
	`ltrim(s) AS system.main.ltrim(s, ` + prestoWhitespace + `), (s, chars) AS system.main.ltrim(s, chars)`,
	`rtrim(s) AS system.main.rtrim(s, ` + prestoWhitespace + `), (s, chars) AS system.main.rtrim(s, chars)`,
	// substr from position 0 is the empty string in Presto (DuckDB returns the whole string).
	`substr(s, p) AS CASE WHEN p = 0 AND s IS NOT NULL THEN '' ELSE system.main.substr(s, p) END,
	 (s, p, n) AS CASE WHEN p = 0 AND s IS NOT NULL AND n IS NOT NULL THEN '' ELSE system.main.substr(s, p, n) END`,
	`substring(s, p) AS CASE WHEN p = 0 AND s IS NOT NULL THEN '' ELSE system.main.substring(s, p) END,
	 (s, p, n) AS CASE WHEN p = 0 AND s IS NOT NULL AND n IS NOT NULL THEN '' ELSE system.main.substring(s, p, n) END`,
	// split_part: NULL past the last field (DuckDB returns ''); index < 1 is an error as in Presto.
	`split_part(s, d, i) AS CASE
		WHEN i < 1 THEN error('split_part: index must be greater than zero')
		WHEN i > len(string_split(s, d)) THEN NULL
		ELSE string_split(s, d)[i] END`,
	// split with a limit: at most n fields, the last holding the rest of the string.
	`split(s, d) AS string_split(s, d),
	 (s, d, n) AS CASE
		WHEN n < 1 THEN error('split: limit must be positive')
		WHEN len(string_split(s, d)) <= n THEN string_split(s, d)
		ELSE list_append(string_split(s, d)[1:n - 1], array_to_string(string_split(s, d)[n:], d)) END`,
	`levenshtein_distance(a, b) AS levenshtein(a, b)`,
	`hamming_distance(a, b) AS hamming(a, b)`,
	`to_utf8(s) AS encode(s)`,
	`from_utf8(b) AS decode(b)`,
	`codepoint(s) AS unicode(s)`,

	// --- regular expressions (RE2 syntax: Java-only constructs such as look-arounds are rejected) ---
	`regexp_like(s, p) AS regexp_matches(s, p)`,
	// regexp_extract: NULL when there is no match (DuckDB returns '').
	`regexp_extract(s, p) AS CASE WHEN regexp_matches(s, p) THEN system.main.regexp_extract(s, p) END,
	 (s, p, g) AS CASE WHEN regexp_matches(s, p) THEN system.main.regexp_extract(s, p, g) END`,
	`regexp_count(s, p) AS len(regexp_extract_all(s, p))`,
	`regexp_split(s, p) AS regexp_split_to_array(s, p)`,

	// --- arrays and maps --------------------------------------------------------------------------
	// cardinality works on arrays and maps (DuckDB's only on maps); the JSON round trip is what lets
	// one macro accept both types.
	`cardinality(x) AS CASE json_type(to_json(x))
		WHEN 'OBJECT' THEN len(json_keys(to_json(x)))
		WHEN 'ARRAY' THEN system.main.json_array_length(to_json(x)) END`,
	// element_at: arrays 1-based, negative from the end, NULL out of range; maps by key.
	`element_at(x, i) AS x[i]`,
	`array_join(a, d) AS array_to_string(a, d),
	 (a, d, nullrep) AS array_to_string(list_transform(a, lambda e: coalesce(CAST(e AS VARCHAR), nullrep)), d)`,
	// array_distinct keeps the first occurrence of each element, in order (DuckDB's list_distinct does not).
	`array_distinct(a) AS list_filter(a, lambda e, i: list_position(a, e) = i)`,
	`array_max(a) AS list_max(a)`,
	`array_min(a) AS list_min(a)`,
	`array_position(a, v) AS CASE WHEN a IS NOT NULL THEN coalesce(system.main.array_position(a, v), 0) END`,
	`slice(a, s, n) AS CASE WHEN s > 0 THEN list_slice(a, s, s + n - 1)
		ELSE list_slice(a, len(a) + s + 1, len(a) + s + n) END`,
	`sequence(a, b) AS generate_series(a, b), (a, b, step) AS generate_series(a, b, step)`,

	// --- aggregates -------------------------------------------------------------------------------
	// approx_distinct is answered exactly (within any error bound Presto promises).
	`approx_distinct(x) AS count(DISTINCT x), (x, e) AS count(DISTINCT x)`,
	`approx_percentile(x, p) AS quantile_disc(x, p)`,
	`every(x) AS bool_and(x)`,
	// map_agg: one entry per distinct non-NULL key (the first value seen), NULL for no rows.
	`map_agg(k, v) AS map_from_entries(list_filter(
		list({'key': k, 'value': v}) FILTER (WHERE k IS NOT NULL),
		lambda e, i: list_position(list_transform(list({'key': k, 'value': v}) FILTER (WHERE k IS NOT NULL), lambda x: x.key), e.key) = i))`,
}

// prestoLateMacros call Go UDFs, so they can only be created once registerPrestoUDFs has run: DuckDB
// resolves a macro's functions when the macro is created.
var prestoLateMacros = []string{
	`from_iso8601_timestamp(s) AS coalesce(try_cast(s AS TIMESTAMPTZ), presto_from_iso8601_timestamp(s))`,
	`date_add(unit, n, x) AS presto_date_add(unit, n, x), (d, i) AS system.main.date_add(d, i)`,
	// regexp_replace replaces every match (DuckDB: the first) and understands Java's $1 references.
	`regexp_replace(s, p) AS system.main.regexp_replace(s, p, '', 'g'),
	 (s, p, r) AS system.main.regexp_replace(s, p, presto_regexp_replacement(r), 'g')`,
}

// concatMacro returns the concat macro with overloads for 1..n arguments.
func concatMacro(n int) string {
	var b strings.Builder
	b.WriteString("concat")
	for k := 1; k <= n; k++ {
		if k > 1 {
			b.WriteString(", ")
		}
		args := make([]string, k)
		for i := range args {
			args[i] = "a" + strconv.Itoa(i+1)
		}
		fmt.Fprintf(&b, "(%s) AS %s", strings.Join(args, ", "), strings.Join(args, " || "))
	}
	return b.String()
}

// Known differences from Athena (also in the report of the change that added this file):
//   - CAST(timestamp AS VARCHAR) prints DuckDB's form (2020-01-02 03:04:05+00), not Presto's
//     (2020-01-02 03:04:05.000 UTC): use to_iso8601 or format_datetime.
//   - CAST(json AS VARCHAR) unquotes a JSON string only when the operand is a json_extract/json_parse
//     call (TranslateSQL rewrites that form); JSON values reach Go callers decoded by the driver.
//   - json_extract_scalar returns numbers normalised (1.50 -> 1.5).
//   - Regular expressions use RE2 syntax: Java look-arounds and possessive quantifiers are rejected.
//   - date_trunc on a DATE returns a TIMESTAMP; from_iso8601_timestamp keeps microseconds.
//   - contains(array, x) is false rather than NULL when x is absent and the array holds a NULL;
//     greatest and least ignore NULLs; division by zero gives NULL instead of failing.
//   - Lambda functions other than filter and transform (reduce, any_match, zip_with, …) are missing.

// prestoFunctions are the Presto/Trino function names a query can use: the macros and UDFs above and the
// DuckDB built-ins that already behave as in Presto. ExplainError suggests from this list; a test checks
// that each one resolves on a store connection.
var prestoFunctions = []string{
	// JSON
	"json_extract_scalar", "json_extract", "json_array_length", "json_array_contains", "json_array_get",
	"json_size", "json_format", "json_parse", "is_json_scalar",
	// date and time
	"from_iso8601_timestamp", "from_iso8601_date", "to_iso8601", "date_parse", "parse_datetime",
	"format_datetime", "date_format", "date_add", "date_diff", "date_trunc", "to_unixtime", "from_unixtime",
	"now", "current_timezone", "day_of_week", "dow", "day", "day_of_month", "day_of_year", "doy",
	"week", "week_of_year", "year_of_week", "yow", "year", "quarter", "month", "hour", "minute", "second",
	"millisecond", "last_day_of_month", "timezone_hour", "timezone_minute",
	// strings
	"length", "lower", "upper", "substr", "substring", "replace", "trim", "ltrim", "rtrim", "concat",
	"strpos", "position", "split", "split_part", "lpad", "rpad", "reverse", "starts_with", "chr", "codepoint",
	"levenshtein_distance", "hamming_distance", "to_utf8", "from_utf8", "to_base64", "from_base64", "to_hex",
	"from_hex", "md5", "sha256", "url_extract_host", "url_extract_path", "url_extract_port",
	"url_extract_protocol", "url_extract_query", "url_extract_fragment", "url_extract_parameter",
	"url_encode", "url_decode",
	// regular expressions
	"regexp_like", "regexp_extract", "regexp_extract_all", "regexp_replace", "regexp_count", "regexp_split",
	// arrays and maps
	"cardinality", "element_at", "contains", "array_join", "array_distinct", "array_max", "array_min",
	"array_position", "array_sort", "slice", "sequence", "flatten", "filter", "map_keys", "map_values",
	"map", "map_from_entries", "map_concat",
	// conditional and conversion
	"coalesce", "nullif", "if", "try", "greatest", "least", "typeof",
	// math
	"abs", "ceil", "ceiling", "floor", "round", "truncate", "mod", "power", "sqrt", "ln", "log2", "log10",
	"sign", "random", "pi", "e",
	// aggregates
	"count", "count_if", "sum", "avg", "min", "max", "min_by", "max_by", "arbitrary", "any_value",
	"array_agg", "map_agg", "histogram", "approx_distinct", "approx_percentile", "bool_and", "bool_or",
	"every", "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "corr",
}

// prestoSchema is where a store keeps prestoMacros once a writable open has created them there
// (persistMacros). A connection to such a store only puts the schema on its search path, after main (where
// anything created unqualified still goes) and ahead of DuckDB's built-ins, instead of creating every macro
// again: creating them took 20-45 ms per connection, a sixth of a short `trailwatch query`. Stores without them (read-only opens of a store an older trailwatch wrote,
// before any writable open) get the macros as TEMP macros on each connection, as before.
const prestoSchema = "tw_presto"

// prestoMacrosVersion names the macro texts; tw_meta's presto_macros row says which version prestoSchema holds.
var prestoMacrosVersion = func() string {
	h := sha256.Sum256([]byte(strings.Join(prestoMacros, "\x00")))
	return hex.EncodeToString(h[:8])
}()

// prestoInit defines, on each new connection, the Presto/Trino functions Athena users call: it applies
// prestoSettings, finds prestoMacros in the store or creates them as TEMP macros, and creates
// prestoLateMacros once the Go UDFs exist (udfs; every connection but the very first, which
// registerPrestoUDFs completes).
func prestoInit(ctx context.Context, ex driver.ExecerContext, udfs bool) error {
	for _, s := range prestoSettings {
		if _, err := ex.ExecContext(ctx, s, nil); err != nil {
			return fmt.Errorf("presto functions: %s: %w", s, err)
		}
	}
	stored, err := macrosStored(ctx, ex)
	if err != nil {
		return err
	}
	if stored {
		if _, err := ex.ExecContext(ctx, prestoSearchPath, nil); err != nil {
			return fmt.Errorf("presto functions: %w", err)
		}
	} else if err := createMacros(ctx, ex, tempMacro, prestoMacros); err != nil {
		return err
	}
	if !udfs {
		return nil
	}
	return createMacros(ctx, ex, tempMacro, prestoLateMacros)
}

const prestoSearchPath = "SET search_path = 'main," + prestoSchema + "'"

// The two ways createMacros creates a macro: for this connection, or in the store's prestoSchema.
const (
	tempMacro   = "CREATE OR REPLACE TEMP MACRO "
	storedMacro = "CREATE MACRO " + prestoSchema + "."
)

func createMacros(ctx context.Context, ex driver.ExecerContext, create string, macros []string) error {
	for _, m := range macros {
		if _, err := ex.ExecContext(ctx, create+m, nil); err != nil {
			name, _, _ := strings.Cut(m, "(")
			return fmt.Errorf("presto functions: create macro %s: %w", name, err)
		}
	}
	return nil
}

// macrosStored reports whether the store holds this version of prestoMacros in prestoSchema.
func macrosStored(ctx context.Context, ex driver.ExecerContext) (bool, error) {
	meta, err := firstColumn(ctx, ex, `SELECT table_name FROM duckdb_tables()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'tw_meta'`)
	if err != nil || len(meta) == 0 {
		return false, err
	}
	v, err := firstColumn(ctx, ex, `SELECT value FROM tw_meta WHERE key = 'presto_macros'`)
	return len(v) == 1 && v[0] == prestoMacrosVersion, err
}

// firstColumn returns the first column of every row of query, as text.
func firstColumn(ctx context.Context, ex driver.ExecerContext, query string) ([]string, error) {
	q, ok := ex.(driver.QueryerContext)
	if !ok {
		return nil, fmt.Errorf("presto functions: connection %T cannot query", ex)
	}
	rows, err := q.QueryContext(ctx, query, nil)
	if err != nil {
		return nil, fmt.Errorf("presto functions: %w", err)
	}
	defer rows.Close()
	var out []string
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("presto functions: %w", err)
		}
		v, _ := dest[0].(string)
		out = append(out, v)
	}
}

// persistMacros stores this version of prestoMacros in prestoSchema of a writable store, in one
// transaction, on one connection (which keeps prestoSchema on its search path, as every later connection
// will). Another version's macros are dropped one by one, never the schema: whatever else somebody put
// there stays.
func persistMacros(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("presto functions: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			return fmt.Errorf("presto functions: connection %T cannot execute", dc)
		}
		if stored, err := macrosStored(ctx, ex); err != nil || stored {
			return err
		}
		old, err := firstColumn(ctx, ex, `SELECT DISTINCT function_name FROM duckdb_functions()
			WHERE database_name = current_database() AND schema_name = '`+prestoSchema+`' AND function_type = 'macro'`)
		if err != nil {
			return err
		}
		stmts := []string{"BEGIN", "CREATE SCHEMA IF NOT EXISTS " + prestoSchema}
		for _, name := range old {
			stmts = append(stmts, "DROP MACRO IF EXISTS "+prestoSchema+`."`+strings.ReplaceAll(name, `"`, `""`)+`"`)
		}
		// The macros call one another unqualified, and DuckDB resolves a macro's functions when it is created.
		stmts = append(stmts, prestoSearchPath)
		write := func() error {
			for _, stmt := range stmts {
				if _, err := ex.ExecContext(ctx, stmt, nil); err != nil {
					return fmt.Errorf("presto functions: %s: %w", stmt, err)
				}
			}
			if err := createMacros(ctx, ex, storedMacro, prestoMacros); err != nil {
				return err
			}
			if _, err := ex.ExecContext(ctx, `INSERT OR REPLACE INTO tw_meta VALUES ('presto_macros', ?)`,
				[]driver.NamedValue{{Ordinal: 1, Value: prestoMacrosVersion}}); err != nil {
				return fmt.Errorf("presto functions: %w", err)
			}
			if _, err := ex.ExecContext(ctx, "COMMIT", nil); err != nil {
				return fmt.Errorf("presto functions: %w", err)
			}
			return nil
		}
		if err := write(); err != nil {
			ex.ExecContext(ctx, "ROLLBACK", nil)
			return err
		}
		return nil
	})
}

// registerPrestoUDFs registers the Go scalar functions shared by every pooled connection, then creates
// the macros that use them on the connection it registered them with (the pool's first).
func registerPrestoUDFs(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("presto functions: %w", err)
	}
	defer conn.Close()
	for _, u := range append(prestoUDFs(), ruleUDFs()...) {
		fns := make([]duckdb.ScalarFunc, len(u.overloads))
		for i := range u.overloads {
			fns[i] = &u.overloads[i]
		}
		if err := duckdb.RegisterScalarUDFSet(conn, u.name, fns...); err != nil {
			return fmt.Errorf("presto functions: register %s: %w", u.name, err)
		}
	}
	return conn.Raw(func(dc any) error {
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			return fmt.Errorf("presto functions: connection %T cannot execute", dc)
		}
		return createMacros(ctx, ex, tempMacro, prestoLateMacros)
	})
}

// goFunc is one overload of a Go scalar UDF. Unless nullable is set, a NULL argument gives NULL
// without calling fn.
type goFunc struct {
	in       []duckdb.Type
	out      duckdb.Type
	outInfo  duckdb.TypeInfo // instead of out, for nested result types
	fn       func(args []driver.Value) (any, error)
	nullable bool
}

var _ duckdb.ScalarFunc = (*goFunc)(nil)

// Config describes the overload's signature to DuckDB.
func (f *goFunc) Config() duckdb.ScalarFuncConfig {
	in := make([]duckdb.TypeInfo, len(f.in))
	for i, t := range f.in {
		in[i] = mustTypeInfo(t)
	}
	out := f.outInfo
	if out == nil {
		out = mustTypeInfo(f.out)
	}
	return duckdb.ScalarFuncConfig{
		InputTypeInfos:      in,
		ResultTypeInfo:      out,
		SpecialNullHandling: f.nullable,
	}
}

// Executor runs the overload row by row.
func (f *goFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: f.fn}
}

func mustTypeInfo(t duckdb.Type) duckdb.TypeInfo {
	info, err := duckdb.NewTypeInfo(t)
	if err != nil {
		panic(fmt.Sprintf("duckdb type %v: %v", t, err)) // only primitive types are used: a programming error
	}
	return info
}

type udfSet struct {
	name      string
	overloads []goFunc
}

// timeTypes are the argument types of the date/time UDFs, in DuckDB's preference order.
var timeTypes = []duckdb.Type{duckdb.TYPE_TIMESTAMP_TZ, duckdb.TYPE_TIMESTAMP, duckdb.TYPE_DATE}

func prestoUDFs() []udfSet {
	V, B, TZ, TS, D := duckdb.TYPE_VARCHAR, duckdb.TYPE_BIGINT, duckdb.TYPE_TIMESTAMP_TZ, duckdb.TYPE_TIMESTAMP, duckdb.TYPE_DATE
	perTime := func(extraBefore, extraAfter []duckdb.Type, out func(t duckdb.Type) duckdb.Type, fn func(t duckdb.Type) func([]driver.Value) (any, error)) []goFunc {
		var fs []goFunc
		for _, t := range timeTypes {
			in := append(append(append([]duckdb.Type{}, extraBefore...), t), extraAfter...)
			fs = append(fs, goFunc{in: in, out: out(t), fn: fn(t)})
		}
		return fs
	}
	sameType := func(t duckdb.Type) duckdb.Type { return t }
	varchar := func(duckdb.Type) duckdb.Type { return V }
	return []udfSet{
		{"format_datetime", perTime(nil, []duckdb.Type{V}, varchar, func(duckdb.Type) func([]driver.Value) (any, error) {
			return func(a []driver.Value) (any, error) {
				f, err := compileJoda(a[1].(string))
				if err != nil {
					return nil, err
				}
				return f.format(a[0].(time.Time)), nil
			}
		})},
		{"date_format", perTime(nil, []duckdb.Type{V}, varchar, func(duckdb.Type) func([]driver.Value) (any, error) {
			return func(a []driver.Value) (any, error) {
				f, err := compileMySQL(a[1].(string))
				if err != nil {
					return nil, err
				}
				return f.format(a[0].(time.Time)), nil
			}
		})},
		{"parse_datetime", []goFunc{{in: []duckdb.Type{V, V}, out: TZ, fn: func(a []driver.Value) (any, error) {
			f, err := compileJoda(a[1].(string))
			if err != nil {
				return nil, err
			}
			return f.parse(a[0].(string))
		}}}},
		{"date_parse", []goFunc{{in: []duckdb.Type{V, V}, out: TS, fn: func(a []driver.Value) (any, error) {
			f, err := compileMySQL(a[1].(string))
			if err != nil {
				return nil, err
			}
			return f.parse(a[0].(string))
		}}}},
		{"to_iso8601", perTime(nil, nil, varchar, func(t duckdb.Type) func([]driver.Value) (any, error) {
			return func(a []driver.Value) (any, error) { return toISO8601(a[0].(time.Time), t), nil }
		})},
		{"presto_from_iso8601_timestamp", []goFunc{{in: []duckdb.Type{V}, out: TZ, fn: func(a []driver.Value) (any, error) {
			return parseISO8601(a[0].(string), true)
		}}}},
		{"from_iso8601_date", []goFunc{{in: []duckdb.Type{V}, out: D, fn: func(a []driver.Value) (any, error) {
			return parseISO8601(a[0].(string), false)
		}}}},
		{"presto_date_add", perTime([]duckdb.Type{V, B}, nil, sameType, func(t duckdb.Type) func([]driver.Value) (any, error) {
			return func(a []driver.Value) (any, error) {
				return dateAdd(a[0].(string), a[1].(int64), a[2].(time.Time), t == D)
			}
		})},
		{"presto_regexp_replacement", []goFunc{{in: []duckdb.Type{V}, out: V, fn: func(a []driver.Value) (any, error) {
			return javaReplacementToRE2(a[0].(string))
		}}}},
		{"url_extract_parameter", []goFunc{{in: []duckdb.Type{V, V}, out: V, fn: func(a []driver.Value) (any, error) {
			return urlParameter(a[0].(string), a[1].(string)), nil
		}}}},
		urlUDF("url_extract_host", "host", V),
		urlUDF("url_extract_path", "path", V),
		urlUDF("url_extract_protocol", "protocol", V),
		urlUDF("url_extract_query", "query", V),
		urlUDF("url_extract_fragment", "fragment", V),
		urlUDF("url_extract_port", "port", B),
	}
}

func urlUDF(name, part string, out duckdb.Type) udfSet {
	return udfSet{name, []goFunc{{in: []duckdb.Type{duckdb.TYPE_VARCHAR}, out: out, fn: func(a []driver.Value) (any, error) {
		v := urlPart(a[0].(string), part)
		if s, ok := v.(string); ok && out == duckdb.TYPE_BIGINT {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, nil
			}
			return n, nil
		}
		return v, nil
	}}}}
}

// ---- ISO 8601 ---------------------------------------------------------------------------------------

// toISO8601 prints as Presto's to_iso8601: a date, a timestamp with milliseconds, or a timestamp with
// time zone with milliseconds and Z (values are in UTC here).
func toISO8601(t time.Time, typ duckdb.Type) string {
	t = t.UTC()
	switch typ {
	case duckdb.TYPE_DATE:
		return t.Format("2006-01-02")
	case duckdb.TYPE_TIMESTAMP:
		return t.Format("2006-01-02T15:04:05.000")
	default:
		return t.Format("2006-01-02T15:04:05.000Z07:00")
	}
}

// parseISO8601 parses Joda's ISODateTimeFormat.dateTimeParser grammar (withTime) or its date
// element grammar (!withTime): yyyy[-MM[-dd]] | yyyy-Www[-e] | yyyy-DDD, then optionally
// 'T'HH[:mm[:ss[.fff]]] and an offset Z | ±HH[[:]mm]. A missing offset means UTC (the session zone).
func parseISO8601(s string, withTime bool) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("invalid format: %q", s)
	}
	p := &scan{s: s}
	var date time.Time
	if withTime && p.peek() == 'T' {
		date = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	} else {
		y, ok := p.num(4, 4)
		if !ok {
			return bad()
		}
		date = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		if p.eat('-') {
			switch {
			case p.eat('W'):
				w, ok := p.num(2, 2)
				if !ok || w < 1 || w > 53 {
					return bad()
				}
				dow := 1
				if p.eat('-') {
					if dow, ok = p.num(1, 1); !ok || dow < 1 || dow > 7 {
						return bad()
					}
				}
				date = isoWeekDate(y, w, dow)
			case len(p.s)-p.i >= 3 && isDigits(p.s[p.i:p.i+3]) && (len(p.s)-p.i == 3 || !isDigit(p.s[p.i+3])) && !(len(p.s)-p.i > 3 && p.s[p.i+3] == '-'):
				doy, _ := p.num(3, 3)
				if doy < 1 || doy > daysIn(y) {
					return bad()
				}
				date = date.AddDate(0, 0, doy-1)
			default:
				m, ok := p.num(2, 2)
				if !ok || m < 1 || m > 12 {
					return bad()
				}
				d := 1
				if p.eat('-') {
					if d, ok = p.num(2, 2); !ok || d < 1 || d > daysInMonth(y, time.Month(m)) {
						return bad()
					}
				}
				date = time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
			}
		}
	}
	if !withTime {
		if p.i != len(s) {
			return bad()
		}
		return date, nil
	}
	var h, mi, sec, nanos int
	if p.eat('T') {
		var ok bool
		if h, ok = p.num(2, 2); !ok || h > 23 {
			return bad()
		}
		if p.eat(':') {
			if mi, ok = p.num(2, 2); !ok || mi > 59 {
				return bad()
			}
			if p.eat(':') {
				if sec, ok = p.num(2, 2); !ok || sec > 59 {
					return bad()
				}
				if p.eat('.') || p.eat(',') {
					start := p.i
					for p.i < len(s) && isDigit(s[p.i]) {
						p.i++
					}
					frac := s[start:p.i]
					if frac == "" {
						return bad()
					}
					nanos = fractionNanos(frac)
				}
			}
		}
	}
	loc := time.UTC
	if p.i < len(s) {
		off, ok := p.offset()
		if !ok {
			return bad()
		}
		loc = time.FixedZone("", off)
	}
	if p.i != len(s) {
		return bad()
	}
	return time.Date(date.Year(), date.Month(), date.Day(), h, mi, sec, nanos, loc).UTC(), nil
}

// scan is a small cursor over a string for the hand-written parsers.
type scan struct {
	s string
	i int
}

func (p *scan) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *scan) eat(c byte) bool {
	if p.peek() == c && p.i < len(p.s) {
		p.i++
		return true
	}
	return false
}

// num reads between min and max ASCII digits.
func (p *scan) num(min, max int) (int, bool) {
	start := p.i
	for p.i < len(p.s) && p.i-start < max && isDigit(p.s[p.i]) {
		p.i++
	}
	if p.i-start < min {
		p.i = start
		return 0, false
	}
	n, err := strconv.Atoi(p.s[start:p.i])
	return n, err == nil
}

// offset reads Z, ±HH, ±HHmm or ±HH:mm and returns seconds east of UTC.
func (p *scan) offset() (int, bool) {
	if p.eat('Z') || p.eat('z') {
		return 0, true
	}
	sign := 1
	switch {
	case p.eat('+'):
	case p.eat('-'):
		sign = -1
	default:
		return 0, false
	}
	h, ok := p.num(2, 2)
	if !ok || h > 23 {
		return 0, false
	}
	m := 0
	colon := p.eat(':')
	if mm, ok := p.num(2, 2); ok {
		m = mm
	} else if colon {
		return 0, false
	}
	if m > 59 {
		return 0, false
	}
	return sign * (h*3600 + m*60), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// fractionNanos turns the digits after the decimal point into nanoseconds (truncating past 9 digits).
func fractionNanos(frac string) int {
	if len(frac) > 9 {
		frac = frac[:9]
	}
	n, _ := strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
	return n
}

func daysIn(y int) int {
	if time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC).YearDay() == 366 {
		return 366
	}
	return 365
}

func daysInMonth(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// isoWeekDate returns the date of ISO week-year y, week w, day of week dow (1 = Monday).
func isoWeekDate(y, w, dow int) time.Time {
	jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC)
	wd := int(jan4.Weekday())
	if wd == 0 {
		wd = 7
	}
	monday := jan4.AddDate(0, 0, 1-wd)
	return monday.AddDate(0, 0, (w-1)*7+dow-1)
}

// ---- date_add ---------------------------------------------------------------------------------------

// dateAdd adds n units to t as Presto's date_add does: months and years clamp to the end of the
// month (Jan 31 + 1 month = Feb 28/29), time units are rejected for a DATE.
func dateAdd(unit string, n int64, t time.Time, isDate bool) (time.Time, error) {
	u := strings.ToLower(strings.TrimSpace(unit))
	switch u {
	case "millisecond", "second", "minute", "hour":
		if isDate {
			return time.Time{}, fmt.Errorf("'%s' is not a valid DATE field", unit)
		}
	}
	switch u {
	case "millisecond":
		return t.Add(time.Duration(n) * time.Millisecond), nil
	case "second":
		return t.Add(time.Duration(n) * time.Second), nil
	case "minute":
		return t.Add(time.Duration(n) * time.Minute), nil
	case "hour":
		return t.Add(time.Duration(n) * time.Hour), nil
	case "day":
		return t.AddDate(0, 0, int(n)), nil
	case "week":
		return t.AddDate(0, 0, 7*int(n)), nil
	case "month":
		return addMonths(t, int(n)), nil
	case "quarter":
		return addMonths(t, 3*int(n)), nil
	case "year":
		return addMonths(t, 12*int(n)), nil
	}
	if isDate {
		return time.Time{}, fmt.Errorf("'%s' is not a valid DATE field", unit)
	}
	return time.Time{}, fmt.Errorf("'%s' is not a valid TIMESTAMP field", unit)
}

func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	total := int(m) - 1 + n
	ny := y + total/12
	nm := total % 12
	if nm < 0 {
		nm += 12
		ny--
	}
	month := time.Month(nm + 1)
	if last := daysInMonth(ny, month); d > last {
		d = last
	}
	return time.Date(ny, month, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}

// ---- regexp_replace -----------------------------------------------------------------------------------

// javaReplacementToRE2 turns a Java (Presto) regexp replacement string into DuckDB's RE2 form:
// $n is group n, \x is a literal x; RE2 writes groups as \n and a literal backslash as \\.
func javaReplacementToRE2(r string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '\\':
			if i+1 >= len(r) {
				return "", fmt.Errorf("regexp_replace: character to be escaped is missing in replacement %q", r)
			}
			i++
			if r[i] == '\\' {
				b.WriteString(`\\`)
			} else {
				b.WriteByte(r[i])
			}
		case c == '$':
			if i+1 < len(r) && isDigit(r[i+1]) {
				b.WriteByte('\\')
				b.WriteByte(r[i+1])
				i++
			} else {
				return "", fmt.Errorf("regexp_replace: illegal group reference in replacement %q (named groups are not supported)", r)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// ---- URL functions ------------------------------------------------------------------------------------

// urlPart returns a component of an absolute URL as Presto's url_extract_* functions do; nil when the
// URL does not parse or lacks the component.
func urlPart(raw, part string) any {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	switch part {
	case "host":
		if h := u.Hostname(); h != "" {
			return h
		}
	case "path":
		return u.EscapedPath()
	case "protocol":
		if u.Scheme != "" {
			return u.Scheme
		}
	case "query":
		if u.RawQuery != "" || u.ForceQuery {
			return u.RawQuery
		}
	case "fragment":
		if u.Fragment != "" {
			return u.EscapedFragment()
		}
	case "port":
		if p := u.Port(); p != "" {
			return p
		}
	}
	return nil
}

// urlParameter returns the first value of query parameter name, nil if absent.
func urlParameter(raw, name string) any {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		k, v, hasValue := strings.Cut(kv, "=")
		if k == name {
			if !hasValue {
				return ""
			}
			return v
		}
	}
	return nil
}

// ---- Joda-Time and MySQL date patterns ---------------------------------------------------------------

// dtField is a date-time field a pattern element prints or parses.
type dtField int

const (
	fLiteral dtField = iota
	fEra
	fCentury
	fYearOfEra
	fYear
	fWeekyear
	fWeekOfWeekyear
	fDayOfWeek
	fDayOfYear
	fMonth
	fDay
	fHalfday
	fHourOfHalfday      // K: 0-11
	fClockhourOfHalfday // h: 1-12
	fHourOfDay          // H: 0-23
	fClockhourOfDay     // k: 1-24
	fMinute
	fSecond
	fFraction
	fZoneOffset
	fZoneID
	fZoneName
	numFields
)

var fieldNames = [numFields]string{"", "era", "centuryOfEra", "yearOfEra", "year", "weekyear", "weekOfWeekyear",
	"dayOfWeek", "dayOfYear", "monthOfYear", "dayOfMonth", "halfdayOfDay", "hourOfHalfday", "clockhourOfHalfday",
	"hourOfDay", "clockhourOfDay", "minuteOfHour", "secondOfMinute", "millisOfSecond", "timeZone", "timeZone", "timeZone"}

// dtItem is one element of a compiled pattern, modelled on Joda's DateTimeFormatterBuilder.
type dtItem struct {
	field    dtField
	lit      string // fLiteral
	min, max int    // digits printed at least / parsed at most
	signed   bool
	text     int  // 0 number, 1 short text, 2 full text
	twoDigit bool // two-digit year: printed year % 100, parsed around pivot
	pivot    int
	lenient  bool // two-digit year: more than two digits parse as a full year
	sep      bool // zone offset printed as +hh:mm
}

// dtFormat is a compiled Joda or MySQL pattern.
type dtFormat struct {
	pattern string
	items   []dtItem
}

var (
	monthNames   = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	weekdayNames = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	// zoneShortNames are the names Joda parses for pattern z (DateTimeUtils.getDefaultTimeZoneNames).
	zoneShortNames = map[string]string{"UT": "UTC", "UTC": "UTC", "GMT": "UTC", "EST": "America/New_York",
		"EDT": "America/New_York", "CST": "America/Chicago", "CDT": "America/Chicago", "MST": "America/Denver",
		"MDT": "America/Denver", "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles"}
)

// formatCache holds compiled patterns; patterns are nearly always constants, so a small cache is enough.
type formatCache struct {
	mu sync.Mutex
	m  map[string]*dtFormat
}

func (c *formatCache) get(key string, compile func() (*dtFormat, error)) (*dtFormat, error) {
	c.mu.Lock()
	f, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := compile()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 512 {
		c.m = map[string]*dtFormat{}
	}
	c.m[key] = f
	c.mu.Unlock()
	return f, nil
}

var jodaCache, mysqlCache formatCache

// compileJoda compiles a Joda-Time DateTimeFormat pattern (format_datetime, parse_datetime): runs of a
// letter are fields, text in single quotes and other characters are literal, ” is a quote, and an
// unknown letter is an error ("Illegal pattern component").
func compileJoda(pattern string) (*dtFormat, error) {
	return jodaCache.get(pattern, func() (*dtFormat, error) { return compileJodaUncached(pattern) })
}

type jodaToken struct {
	letter byte // 0 for literal text
	n      int
	text   string
}

func jodaTokens(pattern string) ([]jodaToken, error) {
	var toks []jodaToken
	isLetter := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case isLetter(c):
			j := i
			for j < len(pattern) && pattern[j] == c {
				j++
			}
			toks = append(toks, jodaToken{letter: c, n: j - i})
			i = j
		case c == '\'':
			// Quoted text; '' is a quote, inside or outside quotes.
			if i+1 < len(pattern) && pattern[i+1] == '\'' {
				toks = append(toks, jodaToken{text: "'"})
				i += 2
				continue
			}
			// An unterminated quote runs to the end of the pattern, as in Joda.
			var b strings.Builder
			j := i + 1
			for j < len(pattern) {
				if pattern[j] == '\'' {
					if j+1 < len(pattern) && pattern[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					j++
					break
				}
				b.WriteByte(pattern[j])
				j++
			}
			toks = append(toks, jodaToken{text: b.String()})
			i = j
		default:
			j := i
			for j < len(pattern) && !isLetter(pattern[j]) && pattern[j] != '\'' {
				j++
			}
			toks = append(toks, jodaToken{text: pattern[i:j]})
			i = j
		}
	}
	return toks, nil
}

// isNumericJoda reports whether a token parses as a number (DateTimeFormat.isNumericToken).
func isNumericJoda(t jodaToken) bool {
	switch t.letter {
	case 'c', 'C', 'x', 'y', 'Y', 'd', 'h', 'H', 'm', 's', 'S', 'e', 'D', 'F', 'W', 'k', 'K', 'w':
		return true
	case 'M':
		return t.n <= 2
	}
	return false
}

func compileJodaUncached(pattern string) (*dtFormat, error) {
	toks, err := jodaTokens(pattern)
	if err != nil {
		return nil, err
	}
	f := &dtFormat{pattern: pattern}
	for i, t := range toks {
		nextNumeric := i+1 < len(toks) && isNumericJoda(toks[i+1])
		n := t.n
		num := func(field dtField, max int) dtItem { return dtItem{field: field, min: n, max: max} }
		var it dtItem
		switch t.letter {
		case 0:
			it = dtItem{field: fLiteral, lit: t.text}
		case 'G':
			it = dtItem{field: fEra, text: 1}
		case 'C':
			it = num(fCentury, n)
		case 'x', 'y', 'Y':
			field := map[byte]dtField{'x': fWeekyear, 'y': fYear, 'Y': fYearOfEra}[t.letter]
			if n == 2 {
				it = dtItem{field: field, min: 2, max: 2, twoDigit: true, pivot: time.Now().Year() - 30, lenient: !nextNumeric}
			} else {
				max := 9
				if nextNumeric {
					max = n
				}
				it = dtItem{field: field, min: n, max: max, signed: t.letter != 'Y'}
			}
		case 'M':
			switch {
			case n >= 4:
				it = dtItem{field: fMonth, text: 2}
			case n == 3:
				it = dtItem{field: fMonth, text: 1}
			default:
				it = num(fMonth, 2)
			}
		case 'd':
			it = num(fDay, 2)
		case 'a':
			it = dtItem{field: fHalfday, text: 1}
		case 'h':
			it = num(fClockhourOfHalfday, 2)
		case 'H':
			it = num(fHourOfDay, 2)
		case 'k':
			it = num(fClockhourOfDay, 2)
		case 'K':
			it = num(fHourOfHalfday, 2)
		case 'm':
			it = num(fMinute, 2)
		case 's':
			it = num(fSecond, 2)
		case 'S':
			it = num(fFraction, n)
		case 'e':
			it = num(fDayOfWeek, 1)
		case 'E':
			it = dtItem{field: fDayOfWeek, text: 1}
			if n >= 4 {
				it.text = 2
			}
		case 'D':
			it = num(fDayOfYear, 3)
		case 'w':
			it = num(fWeekOfWeekyear, 2)
		case 'z':
			it = dtItem{field: fZoneName, text: 1}
			if n >= 4 {
				it.text = 2
			}
		case 'Z':
			switch n {
			case 1:
				it = dtItem{field: fZoneOffset}
			case 2:
				it = dtItem{field: fZoneOffset, sep: true}
			default:
				it = dtItem{field: fZoneID}
			}
		default:
			return nil, fmt.Errorf("illegal pattern component: %s", strings.Repeat(string(t.letter), n))
		}
		f.items = append(f.items, it)
	}
	return f, nil
}

// compileMySQL compiles a MySQL date_format pattern as Presto does (date_format, date_parse).
func compileMySQL(pattern string) (*dtFormat, error) {
	return mysqlCache.get(pattern, func() (*dtFormat, error) { return compileMySQLUncached(pattern) })
}

func compileMySQLUncached(pattern string) (*dtFormat, error) {
	f := &dtFormat{pattern: pattern}
	lit := func(s string) { f.items = append(f.items, dtItem{field: fLiteral, lit: s}) }
	add := func(items ...dtItem) { f.items = append(f.items, items...) }
	n2 := func(field dtField) dtItem { return dtItem{field: field, min: 2, max: 2} }
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' {
			lit(string(c))
			continue
		}
		i++
		if i >= len(pattern) {
			break // a trailing % is ignored, as in Presto
		}
		switch c = pattern[i]; c {
		case 'a':
			add(dtItem{field: fDayOfWeek, text: 1})
		case 'b':
			add(dtItem{field: fMonth, text: 1})
		case 'c':
			add(dtItem{field: fMonth, min: 1, max: 2})
		case 'd':
			add(n2(fDay))
		case 'e':
			add(dtItem{field: fDay, min: 1, max: 2})
		case 'f':
			add(dtItem{field: fFraction, min: 6, max: 9})
		case 'H':
			add(n2(fHourOfDay))
		case 'h', 'I':
			add(n2(fClockhourOfHalfday))
		case 'i':
			add(n2(fMinute))
		case 'j':
			add(dtItem{field: fDayOfYear, min: 3, max: 3})
		case 'k':
			add(dtItem{field: fHourOfDay, min: 1, max: 2})
		case 'l':
			add(dtItem{field: fClockhourOfHalfday, min: 1, max: 2})
		case 'M':
			add(dtItem{field: fMonth, text: 2})
		case 'm':
			add(n2(fMonth))
		case 'p':
			add(dtItem{field: fHalfday, text: 1})
		case 'r':
			add(n2(fClockhourOfHalfday), dtItem{lit: ":"}, n2(fMinute), dtItem{lit: ":"}, n2(fSecond), dtItem{lit: " "}, dtItem{field: fHalfday, text: 1})
		case 'S', 's':
			add(n2(fSecond))
		case 'T':
			add(n2(fHourOfDay), dtItem{lit: ":"}, n2(fMinute), dtItem{lit: ":"}, n2(fSecond))
		case 'v':
			add(n2(fWeekOfWeekyear))
		case 'x':
			add(dtItem{field: fWeekyear, min: 4, max: 4, signed: true})
		case 'W':
			add(dtItem{field: fDayOfWeek, text: 2})
		case 'Y':
			add(dtItem{field: fYear, min: 4, max: 4, signed: true})
		case 'y':
			add(dtItem{field: fYear, min: 2, max: 2, twoDigit: true, pivot: 2020})
		case 'D', 'U', 'u', 'V', 'w', 'X':
			return nil, fmt.Errorf("%%%c not supported in date format string", c)
		default:
			lit(string(c))
		}
	}
	return f, nil
}

func pad(n, min int) string {
	if n < 0 {
		return "-" + pad(-n, min)
	}
	s := strconv.Itoa(n)
	if len(s) < min {
		s = strings.Repeat("0", min-len(s)) + s
	}
	return s
}

// format prints t (taken in UTC, the session zone) with the pattern.
func (f *dtFormat) format(t time.Time) string {
	t = t.UTC()
	var b strings.Builder
	b.Grow(len(f.pattern) + 8)
	year := t.Year()
	isoYear, isoWeek := t.ISOWeek()
	dow := int(t.Weekday())
	if dow == 0 {
		dow = 7
	}
	yoe := year
	if yoe <= 0 {
		yoe = 1 - yoe
	}
	for _, it := range f.items {
		switch it.field {
		case fLiteral:
			b.WriteString(it.lit)
		case fEra:
			if year > 0 {
				b.WriteString("AD")
			} else {
				b.WriteString("BC")
			}
		case fCentury:
			b.WriteString(pad(yoe/100, it.min))
		case fYearOfEra, fYear, fWeekyear:
			v := year
			switch it.field {
			case fYearOfEra:
				v = yoe
			case fWeekyear:
				v = isoYear
			}
			if it.twoDigit {
				if v < 0 {
					v = -v
				}
				b.WriteString(pad(v%100, 2))
			} else {
				b.WriteString(pad(v, it.min))
			}
		case fWeekOfWeekyear:
			b.WriteString(pad(isoWeek, it.min))
		case fDayOfWeek:
			switch it.text {
			case 0:
				b.WriteString(pad(dow, it.min))
			case 1:
				b.WriteString(weekdayNames[dow-1][:3])
			default:
				b.WriteString(weekdayNames[dow-1])
			}
		case fDayOfYear:
			b.WriteString(pad(t.YearDay(), it.min))
		case fMonth:
			switch it.text {
			case 0:
				b.WriteString(pad(int(t.Month()), it.min))
			case 1:
				b.WriteString(monthNames[t.Month()-1][:3])
			default:
				b.WriteString(monthNames[t.Month()-1])
			}
		case fDay:
			b.WriteString(pad(t.Day(), it.min))
		case fHalfday:
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case fHourOfHalfday:
			b.WriteString(pad(t.Hour()%12, it.min))
		case fClockhourOfHalfday:
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b.WriteString(pad(h, it.min))
		case fHourOfDay:
			b.WriteString(pad(t.Hour(), it.min))
		case fClockhourOfDay:
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			b.WriteString(pad(h, it.min))
		case fMinute:
			b.WriteString(pad(t.Minute(), it.min))
		case fSecond:
			b.WriteString(pad(t.Second(), it.min))
		case fFraction:
			// Digits of the fraction truncated to max, then trailing zeros dropped down to min.
			digits := fmt.Sprintf("%09d", t.Nanosecond())
			if it.max > 9 {
				digits += strings.Repeat("0", it.max-9)
			}
			digits = digits[:it.max]
			for len(digits) > it.min && digits[len(digits)-1] == '0' {
				digits = digits[:len(digits)-1]
			}
			b.WriteString(digits)
		case fZoneOffset:
			if it.sep {
				b.WriteString("+00:00")
			} else {
				b.WriteString("+0000")
			}
		case fZoneID:
			b.WriteString("UTC")
		case fZoneName:
			if it.text == 2 {
				b.WriteString("Coordinated Universal Time")
			} else {
				b.WriteString("UTC")
			}
		}
	}
	return b.String()
}

// parse reads s with the pattern as Joda's DateTimeFormatter.parseDateTime does: unset fields default to
// 1970-01-01T00:00:00, field values are range-checked, text is matched ignoring case, and the whole
// input must be consumed. The result is the instant in UTC (a parsed zone or offset is applied).
func (f *dtFormat) parse(s string) (time.Time, error) {
	var val [numFields]int
	var set [numFields]bool
	loc := time.UTC
	p := &scan{s: s}
	malformed := func() (time.Time, error) { // Joda's wording
		if p.i == 0 && s != "" {
			return time.Time{}, fmt.Errorf("invalid format: %q", s)
		}
		if p.i >= len(s) {
			return time.Time{}, fmt.Errorf("invalid format: %q is too short", s)
		}
		return time.Time{}, fmt.Errorf("invalid format: %q is malformed at %q", s, s[p.i:])
	}
	for _, it := range f.items {
		switch {
		case it.field == fLiteral:
			if len(s)-p.i < len(it.lit) || !strings.EqualFold(s[p.i:p.i+len(it.lit)], it.lit) {
				return malformed()
			}
			p.i += len(it.lit)
			continue
		case it.field == fZoneOffset:
			off, ok := p.offset()
			if !ok {
				return malformed()
			}
			loc = time.FixedZone("", off)
			continue
		case it.field == fZoneID || it.field == fZoneName:
			start := p.i
			for p.i < len(s) && (isDigit(s[p.i]) || s[p.i] >= 'a' && s[p.i] <= 'z' || s[p.i] >= 'A' && s[p.i] <= 'Z' || strings.IndexByte("_/+-", s[p.i]) >= 0) {
				p.i++
			}
			name := s[start:p.i]
			if it.field == fZoneName {
				name = zoneShortNames[strings.ToUpper(name)]
			}
			l, err := time.LoadLocation(name)
			if name == "" || err != nil {
				p.i = start
				return malformed()
			}
			loc = l
			continue
		case it.text > 0:
			var names []string
			switch it.field {
			case fMonth:
				names = monthNames
			case fDayOfWeek:
				names = weekdayNames
			case fHalfday:
				names = []string{"AM", "PM"}
			case fEra:
				names = []string{"BC", "AD"}
			}
			v, n := matchName(s[p.i:], names)
			if n == 0 {
				return malformed()
			}
			p.i += n
			val[it.field], set[it.field] = v, true
			continue
		}
		// Numbers.
		start := p.i
		if it.twoDigit {
			if it.lenient {
				neg := p.eat('-')
				n, ok := p.num(1, 9)
				if !ok {
					p.i = start
					return malformed()
				}
				if p.i-start == 2 && !neg {
					val[it.field] = twoDigitYear(n, it.pivot)
				} else if neg {
					val[it.field] = -n
				} else {
					val[it.field] = n
				}
			} else {
				n, ok := p.num(2, 2)
				if !ok {
					return malformed()
				}
				val[it.field] = twoDigitYear(n, it.pivot)
			}
			set[it.field] = true
			continue
		}
		if it.field == fFraction {
			for p.i < len(s) && p.i-start < it.max && isDigit(s[p.i]) {
				p.i++
			}
			if p.i == start {
				return malformed()
			}
			val[fFraction], set[fFraction] = fractionNanos(s[start:p.i]), true
			continue
		}
		neg := false
		if it.signed {
			if p.eat('-') {
				neg = true
			} else {
				p.eat('+')
			}
		}
		n, ok := p.num(1, it.max)
		if !ok {
			p.i = start
			return malformed()
		}
		if neg {
			n = -n
		}
		val[it.field], set[it.field] = n, true
	}
	if p.i != len(s) {
		return malformed()
	}
	return buildDateTime(s, val, set, loc)
}

// matchName matches the longest name (full, then three-letter short form) at the start of s, ignoring
// case; it returns the index (1-based for months and weekdays, 0-based for AM/PM and eras) and length.
func matchName(s string, names []string) (int, int) {
	base := 1
	if len(names) == 2 {
		base = 0
	}
	for _, full := range []bool{true, false} {
		for i, name := range names {
			if !full {
				if len(name) <= 3 {
					continue
				}
				name = name[:3]
			}
			if len(s) >= len(name) && strings.EqualFold(s[:len(name)], name) {
				return i + base, len(name)
			}
		}
	}
	return 0, 0
}

// twoDigitYear places a two-digit year in the century around pivot: [pivot-50, pivot+49].
func twoDigitYear(yy, pivot int) int {
	low := pivot - 50
	var t int
	if low >= 0 {
		t = low % 100
	} else {
		t = 99 + (low+1)%100
	}
	y := yy + low - t
	if yy < t {
		y += 100
	}
	return y
}

// buildDateTime assembles parsed fields into an instant, range-checking them as Joda does.
func buildDateTime(s string, val [numFields]int, set [numFields]bool, loc *time.Location) (time.Time, error) {
	check := func(f dtField, lo, hi int) error {
		if set[f] && (val[f] < lo || val[f] > hi) {
			return fmt.Errorf("cannot parse %q: Value %d for %s must be in the range [%d,%d]", s, val[f], fieldNames[f], lo, hi)
		}
		return nil
	}
	for _, c := range []struct {
		f      dtField
		lo, hi int
	}{
		{fMonth, 1, 12}, {fDay, 1, 31}, {fDayOfYear, 1, 366}, {fWeekOfWeekyear, 1, 53}, {fDayOfWeek, 1, 7},
		{fHourOfDay, 0, 23}, {fClockhourOfDay, 1, 24}, {fHourOfHalfday, 0, 11}, {fClockhourOfHalfday, 1, 12},
		{fMinute, 0, 59}, {fSecond, 0, 59}, {fYearOfEra, 1, 292278993}, {fCentury, 0, 2922789},
	} {
		if err := check(c.f, c.lo, c.hi); err != nil {
			return time.Time{}, err
		}
	}
	year := 1970
	if set[fCentury] {
		year = val[fCentury]*100 + year%100
	}
	if set[fYearOfEra] {
		year = val[fYearOfEra]
		if set[fEra] && val[fEra] == 0 {
			year = 1 - year
		}
	}
	if set[fYear] {
		year = val[fYear]
	}
	var date time.Time
	switch {
	case set[fWeekyear] || set[fWeekOfWeekyear]:
		wy := year
		if set[fWeekyear] {
			wy = val[fWeekyear]
		}
		w, d := 1, 1
		if set[fWeekOfWeekyear] {
			w = val[fWeekOfWeekyear]
		}
		if set[fDayOfWeek] {
			d = val[fDayOfWeek]
		}
		date = isoWeekDate(wy, w, d)
	case set[fDayOfYear]:
		if val[fDayOfYear] > daysIn(year) {
			return time.Time{}, fmt.Errorf("cannot parse %q: Value %d for dayOfYear must be in the range [1,%d]", s, val[fDayOfYear], daysIn(year))
		}
		date = time.Date(year, 1, val[fDayOfYear], 0, 0, 0, 0, time.UTC)
	default:
		m, d := 1, 1
		if set[fMonth] {
			m = val[fMonth]
		}
		if set[fDay] {
			d = val[fDay]
		}
		if last := daysInMonth(year, time.Month(m)); d > last {
			return time.Time{}, fmt.Errorf("cannot parse %q: Value %d for dayOfMonth must be in the range [1,%d]", s, d, last)
		}
		date = time.Date(year, time.Month(m), d, 0, 0, 0, 0, time.UTC)
		if set[fDayOfWeek] {
			// Joda applies the day of week last: it moves the date within its (Monday-based) week.
			cur := int(date.Weekday())
			if cur == 0 {
				cur = 7
			}
			date = date.AddDate(0, 0, val[fDayOfWeek]-cur)
		}
	}
	hour := 0
	switch {
	case set[fHourOfDay]:
		hour = val[fHourOfDay]
	case set[fClockhourOfDay]:
		hour = val[fClockhourOfDay] % 24
	case set[fHourOfHalfday] || set[fClockhourOfHalfday]:
		if set[fHourOfHalfday] {
			hour = val[fHourOfHalfday]
		} else {
			hour = val[fClockhourOfHalfday] % 12
		}
		if set[fHalfday] && val[fHalfday] == 1 {
			hour += 12
		}
	case set[fHalfday] && val[fHalfday] == 1:
		hour = 12
	}
	return time.Date(date.Year(), date.Month(), date.Day(), hour, val[fMinute], val[fSecond], val[fFraction], loc).UTC(), nil
}
