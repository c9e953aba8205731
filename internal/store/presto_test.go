package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// openPrestoStore opens an in-memory store for a test.
func openPrestoStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), "", Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// prestoRender prints a scanned value the same way for every test: NULL, times in RFC 3339 UTC,
// lists as [a, b], maps as {k: v}, structs as {f: v} with sorted fields.
func prestoRender(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.999999999Z")
	case []byte:
		return string(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = prestoRender(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case duckdb.OrderedMap:
		parts := []string{}
		for i, k := range x.Keys() {
			parts = append(parts, prestoRender(k)+": "+prestoRender(x.Values()[i]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + prestoRender(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case float64:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v)
}

// athenaQuery translates q, runs it, and returns the rows rendered with prestoRender.
func athenaQuery(ctx context.Context, db *sql.DB, q string) ([][]string, error) {
	dq, err := TranslateSQL(q)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, dq)
	if err != nil {
		return nil, ExplainError(q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = prestoRender(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, ExplainError(q, err)
	}
	return out, nil
}

// prestoCase is one expression and the value Presto gives for it, or "ERR: <part of the message>".
type prestoCase struct {
	expr, want string
}

func runPrestoCases(t *testing.T, cases []prestoCase) {
	t.Helper()
	s := openPrestoStore(t)
	ctx := context.Background()
	for _, c := range cases {
		rows, err := athenaQuery(ctx, s.DB, "SELECT "+c.expr)
		got := ""
		switch {
		case err != nil:
			got = "ERR: " + err.Error()
		case len(rows) != 1 || len(rows[0]) != 1:
			got = fmt.Sprintf("unexpected shape %v", rows)
		default:
			got = rows[0][0]
		}
		if strings.HasPrefix(c.want, "ERR: ") {
			if err != nil && strings.Contains(got, "API error") {
				t.Errorf("%s: the driver's prefix is still in %q", c.expr, got)
			}
			if err == nil || !strings.Contains(got, strings.TrimPrefix(c.want, "ERR: ")) {
				t.Errorf("%s\n got: %s\nwant: %s", c.expr, got, c.want)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s\n got: %s\nwant: %s", c.expr, got, c.want)
		}
	}
}

const jsonDoc = `'{"a":{"b":1},"c":[1,2],"d":"x","e":1.5,"f":true,"g":null,"h":""}'`

func TestPrestoJSON(t *testing.T) {
	runPrestoCases(t, []prestoCase{
		{"json_extract_scalar(" + jsonDoc + ", '$.a')", "NULL"},
		{"json_extract_scalar(" + jsonDoc + ", '$.c')", "NULL"},
		{"json_extract_scalar(" + jsonDoc + ", '$.d')", "x"},
		{"json_extract_scalar(" + jsonDoc + ", '$.e')", "1.5"},
		{"json_extract_scalar(" + jsonDoc + ", '$.f')", "true"},
		{"json_extract_scalar(" + jsonDoc + ", '$.g')", "NULL"},
		{"json_extract_scalar(" + jsonDoc + ", '$.h')", ""},
		{"json_extract_scalar(" + jsonDoc + ", '$.zz')", "NULL"},
		{"json_extract_scalar(" + jsonDoc + ", '$.c[1]')", "2"},
		{"json_extract_scalar(" + jsonDoc + ", '$.a.b')", "1"},
		{"json_extract_scalar(" + jsonDoc + ", '$[\"d\"]')", "x"},
		{`json_extract_scalar('{"a b":"sp","c":{"d.e":"dot"}}', '$["a b"]')`, "sp"},
		{`json_extract_scalar('{"a b":"sp","c":{"d.e":"dot"}}', '$.c["d.e"]')`, "dot"},
		{`json_extract_scalar('{"instancesSet":{"items":[{"privateIpAddress":"10.0.0.1"}]}}', '$.instancesSet.items[0].privateIpAddress')`, "10.0.0.1"},
		{`json_extract_scalar('[1,"two"]', '$[1]')`, "two"},
		{`json_extract_scalar('"str"', '$')`, "str"},
		{`json_extract_scalar('not json', '$.a')`, "NULL"},
		{`json_extract_scalar(NULL, '$.a')`, "NULL"},
		{`JSON_EXTRACT_SCALAR('{"userName":"Bob"}', '$.userName')`, "Bob"},
		{`json_format(json_extract('{"a":{"b":1}}', '$.a'))`, `{"b":1}`},
		{`json_format(json_extract('{"a":"x"}', '$.a'))`, `"x"`},
		{`typeof(json_extract('{"a":"x"}', '$.a'))`, "JSON"},
		{`json_extract('{"a":"x"}', '$.z')`, "NULL"},
		{`json_extract('not json', '$.a')`, "NULL"},
		{`CAST(json_extract('{"a":"x"}', '$.a') AS VARCHAR)`, "x"},
		{`CAST(json_extract('{"a":7}', '$.a') AS varchar)`, "7"},
		{`CAST(json_extract('{"a":[1,2]}', '$.a') AS ARRAY(INTEGER))`, "[1, 2]"},
		{`CAST(json_parse('["a","b"]') AS ARRAY(VARCHAR))`, "[a, b]"},
		{`CAST(json_parse('{"k":"v"}') AS MAP(VARCHAR, VARCHAR))`, "{k: v}"},
		{`json_array_length('[1,2,3]')`, "3"},
		{`json_array_length('[]')`, "0"},
		{`json_array_length('{"a":1}')`, "NULL"},
		{`json_array_length('bad')`, "NULL"},
		{`json_array_contains('[1,2,3]', 2)`, "true"},
		{`json_array_contains('["a","b"]', 'b')`, "true"},
		{`json_array_contains('[1]', '1')`, "false"},
		{`json_array_contains('[true]', true)`, "true"},
		{`json_array_contains('{"a":1}', 1)`, "NULL"},
		{`json_format(json_array_get('["a","b","c"]', 0))`, `"a"`},
		{`json_format(json_array_get('["a","b","c"]', -1))`, `"c"`},
		{`json_array_get('["a","b","c"]', 5)`, "NULL"},
		{`json_size('{"x":{"a":1,"b":2}}', '$.x')`, "2"},
		{`json_size('{"x":[1,2,3]}', '$.x')`, "3"},
		{`json_size('{"x":1}', '$.x')`, "0"},
		{`json_size('{"x":1}', '$.y')`, "NULL"},
		{`json_format(json_parse('{"a": 1,  "b": [1, 2]}'))`, `{"a":1,"b":[1,2]}`},
		{`json_parse('not json')`, "ERR: Malformed JSON"},
		{`json('not json')`, "ERR: Malformed JSON"},
		{`json_format(json_parse('[1, {"a": null}]'))`, `[1,{"a":null}]`},
		{`is_json_scalar('1')`, "true"},
		{`is_json_scalar('[1]')`, "false"},
	})
}

func TestPrestoDateTime(t *testing.T) {
	const ts = "TIMESTAMP '2021-07-04 15:06:07.089'" // a Sunday; day 185; ISO week 26
	runPrestoCases(t, []prestoCase{
		// from_iso8601_timestamp / from_iso8601_date / to_iso8601
		{`from_iso8601_timestamp('2020-01-02T03:04:05Z')`, "2020-01-02T03:04:05Z"},
		{`from_iso8601_timestamp('2020-01-02T03:04:05.123+02:00')`, "2020-01-02T01:04:05.123Z"},
		{`from_iso8601_timestamp('2020-01-02')`, "2020-01-02T00:00:00Z"},
		{`from_iso8601_timestamp('2020-01-02T03Z')`, "2020-01-02T03:00:00Z"},
		{`from_iso8601_timestamp('2020-01-02T03:04-0130')`, "2020-01-02T04:34:00Z"},
		{`from_iso8601_timestamp('2020-W01-3T10:00Z')`, "2020-01-01T10:00:00Z"},
		{`from_iso8601_timestamp('2020-032')`, "2020-02-01T00:00:00Z"},
		{`from_iso8601_timestamp('garbage')`, `ERR: invalid format: "garbage"`},
		{`from_iso8601_timestamp(NULL)`, "NULL"},
		{`typeof(from_iso8601_timestamp('2020-01-02T03:04:05Z'))`, "TIMESTAMP WITH TIME ZONE"},
		{`CAST(from_iso8601_date('2020-01-02') AS VARCHAR)`, "2020-01-02"},
		{`CAST(from_iso8601_date('2020-W53-7') AS VARCHAR)`, "2021-01-03"},
		{`from_iso8601_date('2020-01-02T00:00:00Z')`, "ERR: invalid format"},
		{`to_iso8601(from_iso8601_timestamp('2020-01-02T03:04:05Z'))`, "2020-01-02T03:04:05.000Z"},
		{`to_iso8601(DATE '2020-01-02')`, "2020-01-02"},
		{`to_iso8601(TIMESTAMP '2020-01-02 03:04:05.5')`, "2020-01-02T03:04:05.500"},
		// format_datetime: Joda patterns
		{"format_datetime(" + ts + ", 'yyyy-MM-dd HH:mm:ss.SSS')", "2021-07-04 15:06:07.089"},
		{"format_datetime(" + ts + ", 'Y/MM/dd')", "2021/07/04"},
		{"format_datetime(" + ts + ", 'EEE, d MMM yyyy h:mm a')", "Sun, 4 Jul 2021 3:06 PM"},
		{"format_datetime(" + ts + ", 'EEEE MMMM')", "Sunday July"},
		{"format_datetime(" + ts + ", 'yy D w e')", "21 185 26 7"},
		{"format_datetime(" + ts + ", '''T''HH''h''''')", "T15h'"},
		{"format_datetime(" + ts + ", 'ZZ Z z ZZZ')", "+00:00 +0000 UTC UTC"},
		{"format_datetime(" + ts + ", 'G C xxxx')", "AD 20 2021"},
		{"format_datetime(" + ts + ", 'SSSSSS S')", "089000 0"},
		{"format_datetime(TIMESTAMP '2021-07-04 00:00:00', 'h K k H')", "12 0 24 0"},
		{"format_datetime(DATE '2021-01-01', 'xxxx-''W''ww-e')", "2020-W53-5"},
		{"format_datetime(" + ts + ", 'yyyy-MM-dd q')", "ERR: illegal pattern component: q"},
		{"format_datetime(current_timestamp, 'Y/MM/dd') = strftime(current_timestamp, '%Y/%m/%d')", "true"},
		// parse_datetime
		{`parse_datetime('2021-07-04 15:06:07', 'yyyy-MM-dd HH:mm:ss')`, "2021-07-04T15:06:07Z"},
		{`parse_datetime('04/Jul/2021:15:06:07 +0200', 'dd/MMM/yyyy:HH:mm:ss Z')`, "2021-07-04T13:06:07Z"},
		{`parse_datetime('2021-07-04T15:06:07.5+02:00', 'yyyy-MM-dd''T''HH:mm:ss.SZZ')`, "2021-07-04T13:06:07.5Z"},
		{`parse_datetime('july 4 2021 3 pm', 'MMMM d yyyy h a')`, "2021-07-04T15:00:00Z"},
		{`parse_datetime('20210704', 'yyyyMMdd')`, "2021-07-04T00:00:00Z"},
		{`parse_datetime('21-07-04', 'yy-MM-dd')`, "2021-07-04T00:00:00Z"},
		{`parse_datetime('1/2/2021 America/New_York', 'M/d/yyyy ZZZ')`, "2021-01-02T05:00:00Z"},
		{`parse_datetime('2021-02-30', 'yyyy-MM-dd')`, "ERR: Value 30 for dayOfMonth must be in the range [1,28]"},
		{`parse_datetime('2021-07-04x', 'yyyy-MM-dd')`, `ERR: is malformed at "x"`},
		{`parse_datetime('2021-07', 'yyyy-MM-dd')`, `ERR: is too short`},
		{`parse_datetime('x', 'yyyy')`, `ERR: invalid format: "x"`},
		{`typeof(parse_datetime('2021', 'yyyy'))`, "TIMESTAMP WITH TIME ZONE"},
		// date_format / date_parse: MySQL patterns
		{"date_format(" + ts + ", '%Y-%m-%d %H:%i:%s.%f')", "2021-07-04 15:06:07.089000"},
		{"date_format(" + ts + ", '%a %b %e %c %y %j %W %M %p %h %I %l %k')", "Sun Jul 4 7 21 185 Sunday July PM 03 03 3 15"},
		{"date_format(" + ts + ", '%T|%r|%v %x')", "15:06:07|03:06:07 PM|26 2021"},
		{"date_format(" + ts + ", '%Y/%m/%d')", "2021/07/04"},
		{"date_format(" + ts + ", '100%% %q')", "100% q"},
		{"date_format(" + ts + ", '%D')", "ERR: %D not supported in date format string"},
		{"date_format(" + ts + ", '%w')", "ERR: %w not supported"},
		{"date_format(date_add('day', -30, TIMESTAMP '2021-07-31 10:00:00'), '%Y/%m/%d')", "2021/07/01"},
		{`date_parse('2021-07-04 15:06:07', '%Y-%m-%d %H:%i:%s')`, "2021-07-04T15:06:07Z"},
		{`date_parse('04/07/21', '%d/%m/%y')`, "2021-07-04T00:00:00Z"},
		{`year(date_parse('69', '%y'))`, "2069"},
		{`year(date_parse('70', '%y'))`, "1970"},
		{`date_parse('Jul 4 2021 3:06:07 PM', '%b %e %Y %l:%i:%s %p')`, "2021-07-04T15:06:07Z"},
		{`date_parse('2021-07-04 15:06:07.123456', '%Y-%m-%d %H:%i:%s.%f')`, "2021-07-04T15:06:07.123456Z"},
		{`date_parse('2021-13-01', '%Y-%m-%d')`, "ERR: Value 13 for monthOfYear"},
		{`typeof(date_parse('2021', '%Y'))`, "TIMESTAMP"},
		// date_add / date_diff / date_trunc
		{"date_add('day', -30, " + ts + ")", "2021-06-04T15:06:07.089Z"},
		{"CAST(date_add('month', 1, DATE '2020-01-31') AS VARCHAR)", "2020-02-29"},
		{"typeof(date_add('day', 1, DATE '2020-01-01'))", "DATE"},
		{"typeof(date_add('day', 1, current_timestamp))", "TIMESTAMP WITH TIME ZONE"},
		{"date_add('hour', 1, DATE '2020-01-31')", "ERR: 'hour' is not a valid DATE field"},
		{"date_add('fortnight', 1, " + ts + ")", "ERR: 'fortnight' is not a valid TIMESTAMP field"},
		{"date_add('year', 1, from_iso8601_timestamp('2020-02-29T10:00:00Z'))", "2021-02-28T10:00:00Z"},
		{"date_add('quarter', -1, from_iso8601_timestamp('2020-05-31T10:00:00Z'))", "2020-02-29T10:00:00Z"},
		{"date_add('minute', 90, " + ts + ")", "2021-07-04T16:36:07.089Z"},
		{"date_add(DATE '2020-01-01', INTERVAL 1 DAY)", "2020-01-02T00:00:00Z"},
		{"date_diff('second', from_iso8601_timestamp('2020-01-01T00:00:00Z'), from_iso8601_timestamp('2020-01-01T01:00:00Z'))", "3600"},
		{"date_diff('day', TIMESTAMP '2020-01-01 10:00', TIMESTAMP '2020-01-02 09:59')", "0"},
		{"date_diff('month', DATE '2020-01-31', DATE '2020-02-29')", "1"},
		{"date_diff('hour', TIMESTAMP '2020-01-02 00:00', TIMESTAMP '2020-01-01 00:00')", "-24"},
		{"date_trunc('hour', from_iso8601_timestamp('2020-01-02T03:04:05Z'))", "2020-01-02T03:00:00Z"},
		{"date_trunc('week', from_iso8601_timestamp('2021-07-04T03:04:05Z'))", "2021-06-28T00:00:00Z"},
		{"to_unixtime(from_iso8601_timestamp('2020-01-01T00:00:01.5Z'))", "1.5778368015e+09"},
		{"from_unixtime(1577836801)", "2020-01-01T00:00:01Z"},
		{"day_of_week(DATE '2021-07-04')", "7"},
		{"dow(DATE '2021-07-05')", "1"},
		{"day_of_year(" + ts + ")", "185"},
		{"week(" + ts + ")", "26"},
		{"year_of_week(DATE '2021-01-01')", "2020"},
		{"millisecond(" + ts + ")", "89"},
		{"hour(" + ts + ")", "15"},
		{"minute(" + ts + ")", "6"},
		{"second(" + ts + ")", "7"},
		{"CAST(last_day_of_month(DATE '2020-02-10') AS VARCHAR)", "2020-02-29"},
		{"current_timestamp - interval '1' hour < current_timestamp", "true"},
		{"date_trunc('second', now() - interval '1' hour) <= now()", "true"},
		{"CAST(date('2021-07-04') AS VARCHAR)", "2021-07-04"},
		{"CAST(date(from_iso8601_timestamp('2021-07-04T23:59:59Z')) AS VARCHAR)", "2021-07-04"},
		{"current_timezone()", "UTC"},
	})
}

func TestPrestoStrings(t *testing.T) {
	const loginTo = "'https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true'"
	runPrestoCases(t, []prestoCase{
		{"replace('arn:aws:s3:::bucket', 'arn:aws:s3:::')", "bucket"},
		{"replace('aXbX', 'X', 'Y')", "aYbY"},
		{"concat('a', NULL, 'b')", "NULL"},
		{"concat('a', 'b', 'c')", "abc"},
		{"concat(ARRAY[1], ARRAY[2, 3])", "[1, 2, 3]"},
		{"trim(chr(9) || ' a ' || chr(10))", "a"},
		{"ltrim('  a ')", "a "},
		{"rtrim('  a ')", "  a"},
		{"trim('xxaxx', 'x')", "a"},
		{"substr('hello', 0)", ""},
		{"substr('hello', -3)", "llo"},
		{"substr('hello', 2, 3)", "ell"},
		{"substr('hello', 10)", ""},
		{"substr(NULL, 0)", "NULL"},
		{"substring('hello', 2)", "ello"},
		{"split_part('a,b,c', ',', 2)", "b"},
		{"split_part('a,b,c', ',', 4)", "NULL"},
		{"split_part('a,b', ',', 0)", "ERR: index must be greater than zero"},
		{"split('a,b,c', ',')", "[a, b, c]"},
		{"split('a,b,c', ',', 2)", "[a, b,c]"},
		{"strpos('hello', 'l')", "3"},
		{"strpos('hello', 'z')", "0"},
		{"position('l' IN 'hello')", "3"},
		{"length('héllo')", "5"},
		{"lower('ABC') || upper('def')", "abcDEF"},
		{"levenshtein_distance('kitten', 'sitting')", "3"},
		{"url_extract_host(" + loginTo + ")", "console.aws.amazon.com"},
		{"url_extract_path(" + loginTo + ")", "/console/home"},
		{"url_extract_query(" + loginTo + ")", "state=hashArgs%23&isauthcode=true"},
		{"url_extract_parameter(" + loginTo + ", 'isauthcode')", "true"},
		{"url_extract_parameter(" + loginTo + ", 'nope')", "NULL"},
		{"url_extract_protocol(" + loginTo + ")", "https"},
		{"url_extract_port('http://a.example:8080/x')", "8080"},
		{"url_extract_port('http://a.example/x')", "NULL"},
		{"url_extract_fragment('http://a.example/b#frag')", "frag"},
		{"url_extract_host('not a url')", "NULL"},
		{"url_extract_parameter('http://a.example/?x=1&x=2', 'x')", "1"},
		// regular expressions
		{"regexp_like('AKIAIOSFODNN7EXAMPLE', '^AKIA[A-Z0-9]{16}$')", "true"},
		{"regexp_like('ASIAIOSFODNN7EXAMPLE', '^AKIA')", "false"},
		{"regexp_extract('abc123def456', '\\d+')", "123"},
		{"regexp_extract('abc', '\\d+')", "NULL"},
		{"regexp_extract('abc123def456', '(\\d+)def(\\d+)', 2)", "456"},
		{"regexp_extract_all('a1b22c333', '\\d+')", "[1, 22, 333]"},
		{"regexp_extract_all('abc', '\\d')", "[]"},
		{"regexp_replace('a1b22', '\\d')", "ab"},
		{"regexp_replace('a1b22', '\\d', 'X')", "aXbXX"},
		{"regexp_replace('john smith', '(\\w+) (\\w+)', '$2, $1')", "smith, john"},
		{"regexp_replace('a.b', '\\.', '\\$')", "a$b"},
		{"regexp_replace('a.b', '\\.', '${name}')", "ERR: illegal group reference"},
		{"regexp_count('a1b22c333', '\\d')", "6"},
	})
}

func TestPrestoCollections(t *testing.T) {
	runPrestoCases(t, []prestoCase{
		{"cardinality(ARRAY[1, 2, 3])", "3"},
		{"cardinality(MAP(ARRAY['a', 'b'], ARRAY[1, 2]))", "2"},
		{"cardinality(filter(ARRAY[1], x -> x > 5))", "0"},
		{"cardinality(CAST(NULL AS INTEGER[]))", "NULL"},
		{"element_at(ARRAY['a', 'b', 'c'], 1)", "a"},
		{"element_at(ARRAY['a', 'b', 'c'], -1)", "c"},
		{"element_at(ARRAY['a', 'b', 'c'], 5)", "NULL"},
		{"element_at(MAP(ARRAY['a'], ARRAY[1]), 'a')", "1"},
		{"element_at(MAP(ARRAY['a'], ARRAY[1]), 'z')", "NULL"},
		{"ARRAY['x', 'y'][2]", "y"},
		{"contains(ARRAY['a', 'b'], 'b')", "true"},
		{"contains(ARRAY['a'], 'z')", "false"},
		{"array_join(ARRAY['a', NULL, 'b'], ',')", "a,b"},
		{"array_join(ARRAY['a', NULL, 'b'], ',', 'N')", "a,N,b"},
		{"array_join(ARRAY[1, 2], '-')", "1-2"},
		{"array_distinct(ARRAY[3, 1, 3, 2, 1])", "[3, 1, 2]"},
		{"array_position(ARRAY['a', 'b'], 'b')", "2"},
		{"array_position(ARRAY['a', 'b'], 'z')", "0"},
		{"slice(ARRAY[1, 2, 3, 4, 5], 2, 2)", "[2, 3]"},
		{"slice(ARRAY[1, 2, 3, 4, 5], -2, 2)", "[4, 5]"},
		{"sequence(1, 3)", "[1, 2, 3]"},
		{"filter(ARRAY[1, 2, 3], x -> x > 1)", "[2, 3]"},
		{"transform(ARRAY[1, 2], x -> x * 2)", "[2, 4]"},
		{"array_max(ARRAY[1, 5, 3])", "5"},
		{"array_min(ARRAY[4, 2, 3])", "2"},
		{"map_keys(MAP(ARRAY['a'], ARRAY[1]))", "[a]"},
		{"CAST(ROW(1, 'a') AS ROW(x INTEGER, y VARCHAR)).y", "a"},
	})
}

func TestPrestoMisc(t *testing.T) {
	runPrestoCases(t, []prestoCase{
		{"5 / 2", "2"},
		{"5.0 / 2", "2.5"},
		{"7 % 3", "1"},
		{"try(CAST('x' AS INTEGER))", "NULL"},
		{"try_cast('12' AS BIGINT)", "12"},
		{"try_cast('x' AS BIGINT)", "NULL"},
		{"coalesce(NULL, 'a')", "a"},
		{"if(1 > 0, 'y', 'n')", "y"},
		{"CAST(12 AS varchar)", "12"},
		{"CAST('12' AS integer) + 1", "13"},
		{"CAST(DATE '2021-07-04' AS varchar)", "2021-07-04"},
		{"nullif('a', 'a')", "NULL"},
		{"typeof('x')", "VARCHAR"},
	})
}

func TestPrestoAggregates(t *testing.T) {
	s := openPrestoStore(t)
	ctx := context.Background()
	cases := []struct{ q, want string }{
		{"SELECT approx_distinct(x) FROM (VALUES 1, 1, 2, NULL) t(x)", "2"},
		{"SELECT count_if(x > 1) FROM (VALUES 1, 1, 2) t(x)", "1"},
		{"SELECT array_agg(x ORDER BY x) FROM (VALUES 2, 1, 1) t(x)", "[1, 1, 2]"},
		{"SELECT array_agg(DISTINCT(x) ORDER BY x) FROM (VALUES 'b', 'a', 'b') t(x)", "[a, b]"},
		{"SELECT map_agg(k, v) FROM (VALUES ('a', 1), ('b', 2)) t(k, v)", "{a: 1, b: 2}"},
		{"SELECT cardinality(map_agg(k, v)) FROM (VALUES ('a', 1), ('a', 3), (NULL, 4)) t(k, v)", "1"},
		{"SELECT max_by(k, v) FROM (VALUES ('a', 1), ('b', 2)) t(k, v)", "b"},
		{"SELECT every(x > 0) FROM (VALUES 1, 2) t(x)", "true"},
		{"SELECT bool_or(x > 1) FROM (VALUES 1, 2) t(x)", "true"},
		{"SELECT arbitrary(x) FROM (VALUES 7) t(x)", "7"},
		{"SELECT approx_percentile(x, 0.5) FROM (VALUES 1, 2, 3) t(x)", "2"},
		{"SELECT count(*) / 2 FROM (VALUES 1, 2, 3) t(x)", "1"},
	}
	for _, c := range cases {
		rows, err := athenaQuery(ctx, s.DB, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		if len(rows) != 1 || rows[0][0] != c.want {
			t.Errorf("%s\n got: %v\nwant: %s", c.q, rows, c.want)
		}
	}
}

// TestPrestoEveryConnection checks that the macros, including those built on Go UDFs, exist on every
// pooled connection, not only on the first.
func TestPrestoEveryConnection(t *testing.T) {
	s := openPrestoStore(t)
	ctx := context.Background()
	var conns []*sql.Conn
	for i := 0; i < 3; i++ {
		c, err := s.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var got string
		err := c.QueryRowContext(ctx, `SELECT format_datetime(date_add('day', 1, from_iso8601_timestamp('2021-07-04T00:00:00Z')), 'yyyy/MM/dd')
			|| regexp_replace('a1', '\d', '$0$0') || json_extract_scalar('{"a":"b"}', '$.a')`).Scan(&got)
		if err != nil || got != "2021/07/05a11b" {
			t.Errorf("connection %d: %q, %v", i, got, err)
		}
		c.Close()
	}
}

// TestPrestoFunctionList checks that every name ExplainError offers as a supported Presto function
// resolves on a store connection.
func TestPrestoFunctionList(t *testing.T) {
	s := openPrestoStore(t)
	ctx := context.Background()
	syntax := map[string]string{"coalesce": "coalesce(1)", "if": "if(true, 1, 2)", "try": "try(1)"}
	known := map[string]bool{}
	rows, err := s.DB.QueryContext(ctx, `SELECT DISTINCT function_name FROM duckdb_functions()`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		known[n] = true
	}
	rows.Close()
	for _, name := range prestoFunctions {
		if expr, ok := syntax[name]; ok {
			if _, err := s.DB.ExecContext(ctx, "SELECT "+expr); err != nil {
				t.Errorf("function %s: %v", name, err)
			}
			continue
		}
		if !known[name] {
			t.Errorf("function %s: not found", name)
		}
	}
}

// TestPrestoReadOnly checks that a read-only store gets the functions too (temp macros write nothing).
func TestPrestoReadOnly(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/ro.duckdb"
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ro, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open read-only: %v", err)
	}
	defer ro.Close()
	rows, err := athenaQuery(ctx, ro.DB, `SELECT count(*), format_datetime(from_iso8601_timestamp('2021-07-04T00:00:00Z'), 'Y/MM/dd') FROM "default"."cloudtrail_logs"`)
	if err != nil || len(rows) != 1 || rows[0][0] != "0" || rows[0][1] != "2021/07/04" {
		t.Fatalf("read-only query: %v %v", rows, err)
	}
}

// TestPrestoStoredMacros checks where a connection finds the macros: in the store's prestoSchema once a
// writable open has put this version there (no temp macro is created), as TEMP macros when the store holds
// another version (a store an older trailwatch wrote, opened read-only), and that the next writable open
// replaces the stale version.
func TestPrestoStoredMacros(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/m.duckdb"
	open := func(readOnly bool) *Store {
		t.Helper()
		s, err := Open(ctx, path, Options{ReadOnly: readOnly})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// check runs Presto-only behaviour (concat with a NULL is NULL, ["key"] paths) and counts the temp
	// macros and the stored ones named json_extract_scalar.
	check := func(s *Store, wantTemp, wantStored int) {
		t.Helper()
		var got sql.NullString
		var temp, stored int
		err := s.DB.QueryRowContext(ctx, `SELECT concat(json_extract_scalar('{"a b":"x"}', '$["a b"]'), 'y', NULL),
			count(*) FILTER (WHERE database_name = 'temp'), count(*) FILTER (WHERE schema_name = 'tw_presto')
			FROM duckdb_functions() WHERE function_name = 'json_extract_scalar'`).Scan(&got, &temp, &stored)
		if err != nil || got.Valid || temp != wantTemp || stored != wantStored {
			t.Fatalf("got %v, %d temp and %d stored macros, %v; want NULL, %d and %d", got, temp, stored, err, wantTemp, wantStored)
		}
		var x string
		if err := s.DB.QueryRowContext(ctx, `SELECT json_extract_scalar('{"a b":"x"}', '$["a b"]') || date_diff('day', DATE '2024-01-01', DATE '2024-01-03')`).Scan(&x); err != nil || x != "x2" {
			t.Fatalf("got %q, %v; want x2", x, err)
		}
	}
	s := open(false)
	s.Close()
	s = open(true)
	check(s, 0, 1)
	s.Close()

	// A writable connection with the stored macros on its path still creates unqualified tables in main.
	s = open(false)
	var schema, where string
	if _, err := s.DB.ExecContext(ctx, `CREATE TABLE mine (x INT)`); err != nil {
		t.Fatal(err)
	}
	if err := s.DB.QueryRowContext(ctx, `SELECT current_schema(), (SELECT schema_name FROM duckdb_tables() WHERE table_name = 'mine')`).Scan(&schema, &where); err != nil || schema != "main" || where != "main" {
		t.Fatalf("current schema %q, new table in %q (%v); want main", schema, where, err)
	}
	// Another version: its macros go (one named old_only here), anything else in the schema stays.
	for _, q := range []string{`UPDATE tw_meta SET value = 'older' WHERE key = 'presto_macros'`,
		`CREATE MACRO tw_presto.old_only() AS 1`, `CREATE TABLE tw_presto.keep (x INT)`} {
		if _, err := s.DB.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(true)
	check(s, 1, 1)
	s.Close()
	s = open(false)
	s.Close()
	s = open(true)
	check(s, 0, 1)
	var oldOnly, keep int
	if err := s.DB.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM duckdb_functions() WHERE function_name = 'old_only'),
		(SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'tw_presto' AND table_name = 'keep')`).Scan(&oldOnly, &keep); err != nil || oldOnly != 0 || keep != 1 {
		t.Fatalf("after the new version: %d old macros, %d kept tables (%v); want 0 and 1", oldOnly, keep, err)
	}
	s.Close()
}

func TestPrestoJodaFormat(t *testing.T) {
	ts := time.Date(2021, 7, 4, 15, 6, 7, 89_123_456, time.UTC)
	cases := []struct{ pattern, want string }{
		{"yyyy-MM-dd'T'HH:mm:ss.SSSZZ", "2021-07-04T15:06:07.089+00:00"},
		{"yyyyy", "02021"},
		{"y", "2021"},
		{"SSSSSSSSS", "089123456"},
		{"SSSSSSSSSSS", "08912345600"},
		{"''", "'"},
		{"'it''s' h", "it's 3"},
		{"MMM MMMM M MM", "Jul July 7 07"},
		{"E EEEE e", "Sun Sunday 7"},
		{"z zzzz", "UTC Coordinated Universal Time"},
		{"- / : , .", "- / : , ."},
		{"yyyy 'open", "2021 open"},
	}
	for _, c := range cases {
		f, err := compileJoda(c.pattern)
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		if got := f.format(ts); got != c.want {
			t.Errorf("%q: got %q, want %q", c.pattern, got, c.want)
		}
	}
	for _, bad := range []string{"yyyy Q", "bb", "A"} {
		if _, err := compileJoda(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	bc := time.Date(-43, 3, 15, 0, 0, 0, 0, time.UTC) // 44 BC in the proleptic calendar
	f, _ := compileJoda("G Y y")
	if got := f.format(bc); got != "BC 44 -43" {
		t.Errorf("BC year: got %q", got)
	}
}

func TestPrestoJodaParse(t *testing.T) {
	cases := []struct{ pattern, in, want string }{
		{"yyyy-MM-dd HH:mm:ss", "2021-07-04 15:06:07", "2021-07-04T15:06:07Z"},
		{"yyyy-MM-dd", "2021-7-4", "2021-07-04T00:00:00Z"},
		{"yyyyMMddHHmm", "202107041506", "2021-07-04T15:06:00Z"},
		{"dd MMM yyyy", "04 JUL 2021", "2021-07-04T00:00:00Z"},
		{"EEE dd MMM yyyy", "Wed 04 Jul 2021", "2021-06-30T00:00:00Z"}, // Joda moves the date to the parsed weekday
		{"xxxx-'W'ww-e", "2020-W53-7", "2021-01-03T00:00:00Z"},
		{"yyyy-DDD", "2020-366", "2020-12-31T00:00:00Z"},
		{"hh:mm a", "12:30 AM", "1970-01-01T00:30:00Z"},
		{"hh:mm a", "12:30 PM", "1970-01-01T12:30:00Z"},
		{"KK:mm a", "11:30 PM", "1970-01-01T23:30:00Z"},
		{"kk:mm", "24:15", "1970-01-01T00:15:00Z"},
		{"yyyy-MM-dd HH:mm z", "2021-07-04 10:00 PDT", "2021-07-04T17:00:00Z"},
		{"yyyy-MM-dd HH:mm Z", "2021-07-04 10:00 -0700", "2021-07-04T17:00:00Z"},
		{"yyyy-MM-dd HH:mm Z", "2021-07-04 10:00 Z", "2021-07-04T10:00:00Z"},
		{"yy", "95", "1995-01-01T00:00:00Z"},
		{"yy", "2095", "2095-01-01T00:00:00Z"}, // lenient two-digit year: more digits are a full year
		{"yyyy", "-0044", "-0044-01-01T00:00:00Z"},
		{"s.SSS", "5.1", "1970-01-01T00:00:05.1Z"},
		{"'at' HH", "AT 05", "1970-01-01T05:00:00Z"},
	}
	for _, c := range cases {
		f, err := compileJoda(c.pattern)
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		got, err := f.parse(c.in)
		if err != nil {
			t.Errorf("%q %q: %v", c.pattern, c.in, err)
			continue
		}
		if s := got.Format("2006-01-02T15:04:05.999999999Z"); s != c.want {
			t.Errorf("%q %q: got %s, want %s", c.pattern, c.in, s, c.want)
		}
	}
	bad := []struct{ pattern, in, want string }{
		{"yyyy-MM-dd", "2021-07-32", "Value 32 for dayOfMonth"},
		{"HH:mm", "24:00", "Value 24 for hourOfDay"},
		{"yyyy-MM-dd", "2021/07/04", `malformed at "/07/04"`},
		{"yyyy-MM-dd", "", "too short"},
		{"MMM", "Foo", `invalid format: "Foo"`},
		{"yyyy-MM-dd HH:mm z", "2021-07-04 10:00 XYZ", "malformed"},
		{"SSS", "1234", "malformed"},
	}
	for _, c := range bad {
		f, err := compileJoda(c.pattern)
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		if _, err := f.parse(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %q: error %v, want %q", c.pattern, c.in, err, c.want)
		}
	}
}

func TestPrestoMySQLFormat(t *testing.T) {
	ts := time.Date(2021, 1, 3, 0, 5, 9, 7_000_000, time.UTC) // Sunday, ISO week 53 of 2020
	cases := []struct{ pattern, want string }{
		{"%Y-%m-%d %H:%i:%S.%f", "2021-01-03 00:05:09.007000"},
		{"%c/%e/%y %l:%i %p", "1/3/21 12:05 AM"},
		{"%h %I %k", "12 12 0"},
		{"%j", "003"},
		{"%v %x", "53 2020"},
		{"%a %W %b %M", "Sun Sunday Jan January"},
		{"%r", "12:05:09 AM"},
		{"%", ""},
		{"abc%", "abc"},
		{"%%Y", "%Y"},
	}
	for _, c := range cases {
		f, err := compileMySQL(c.pattern)
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		if got := f.format(ts); got != c.want {
			t.Errorf("%q: got %q, want %q", c.pattern, got, c.want)
		}
	}
	for _, bad := range []string{"%D", "%U", "%u", "%V", "%w", "%X"} {
		if _, err := compileMySQL(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	parse := []struct{ pattern, in, want string }{
		{"%Y-%m-%d", "2021-01-03", "2021-01-03T00:00:00Z"},
		{"%Y%m%d", "20210103", "2021-01-03T00:00:00Z"},
		{"%d/%b/%Y:%T", "03/Jan/2021:10:11:12", "2021-01-03T10:11:12Z"},
		{"%Y-%m-%d %h:%i:%s %p", "2021-01-03 12:00:00 PM", "2021-01-03T12:00:00Z"},
		{"%Y-%j", "2021-034", "2021-02-03T00:00:00Z"},
		{"%x-%v", "2020-53", "2020-12-28T00:00:00Z"},
		{"%y", "69", "2069-01-01T00:00:00Z"},
		{"%y", "70", "1970-01-01T00:00:00Z"},
		{"%f", "5", "1970-01-01T00:00:00.5Z"},
	}
	for _, c := range parse {
		f, err := compileMySQL(c.pattern)
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		got, err := f.parse(c.in)
		if err != nil {
			t.Errorf("%q %q: %v", c.pattern, c.in, err)
			continue
		}
		if s := got.Format("2006-01-02T15:04:05.999999999Z"); s != c.want {
			t.Errorf("%q %q: got %s, want %s", c.pattern, c.in, s, c.want)
		}
	}
	f, _ := compileMySQL("%y")
	if _, err := f.parse("2021"); err == nil {
		t.Error("%y parses exactly two digits: want an error for 2021")
	}
}

func TestPrestoParseISO8601(t *testing.T) {
	good := map[string]string{
		"2020":                           "2020-01-01T00:00:00Z",
		"2020-02":                        "2020-02-01T00:00:00Z",
		"2020-02-03T04:05:06,789Z":       "2020-02-03T04:05:06.789Z",
		"2020-02-03T04:05:06.123456789Z": "2020-02-03T04:05:06.123456789Z",
		"2020-02-03T04:05+01":            "2020-02-03T03:05:00Z",
		"T10:00Z":                        "1970-01-01T10:00:00Z",
		"2021-W01":                       "2021-01-04T00:00:00Z",
	}
	for in, want := range good {
		got, err := parseISO8601(in, true)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if s := got.Format("2006-01-02T15:04:05.999999999Z"); s != want {
			t.Errorf("%q: got %s, want %s", in, s, want)
		}
	}
	for _, in := range []string{"", "2020-13-01", "2020-02-30", "2020-02-03 04:05", "2020-02-03T25:00Z", "20-02-03", "2020-02-03T04:05Zjunk", "2020-W54"} {
		if _, err := parseISO8601(in, true); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}

func TestPrestoJavaReplacement(t *testing.T) {
	cases := map[string]string{`$1-$2`: `\1-\2`, `\$1`: `$1`, `a\\b`: `a\\b`, `plain`: `plain`, `$0`: `\0`}
	for in, want := range cases {
		got, err := javaReplacementToRE2(in)
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`$`, `\`, `${x}`} {
		if _, err := javaReplacementToRE2(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}
