package sigma_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/trailwatch/trailwatch/internal/sigma"
	"github.com/trailwatch/trailwatch/internal/store"
)

// TestJSONValuesFastPath checks that a JSON path field's values, read by DuckDB's JSON reader where the
// dialect allows it, are exactly what tw_json_values gives, on random documents full of the cases the fast
// path must hand over: numbers, null, escaped strings (quotes, backslashes, \u escapes, lone surrogates),
// arrays on the way and at the end, objects, repeated keys, odd spacing and malformed text.
func TestJSONValuesFastPath(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	conn, err := st.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE docs (doc VARCHAR)`); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	docs := []string{`{"a":"x"}`, `{"a":""}`, `{"a":"\""}`, `{"a":"\\"}`, `{"a":"\u00e9"}`, `{"a":"\ud800"}`,
		`{"a":1.50}`, `{"a":-0}`, `{"a":1e3}`, `{"a":true}`, `{"a":false}`, `{"a":null}`, `{"a":[]}`, `{"a":["x",1,null]}`,
		`{"a":{"b":"y"}}`, `{"a":[{"b":"y"},{"b":"z"}]}`, `{"a":"x","a":"y"}`, ` { "a" : "sp" } `, `[{"a":"x"}]`,
		`{"a":"x"`, `{"a": tru}`, `{"a":"x"} junk`, `{"a":"tr` + "\t" + `ue"}`, `{"a":"true"}`, `{"A":"x"}`,
		`{"a":{"b":{"c":false}}}`, `{"items":[{"a":"x"}]}`, `{"a":{"items":[{"b":"v"}]}}`, `"a"`, `12`, ``}
	for range 3000 {
		docs = append(docs, randomDoc(rng, 0))
	}
	for _, d := range docs {
		if _, err := conn.ExecContext(ctx, `INSERT INTO docs VALUES (?)`, d); err != nil {
			t.Fatal(err)
		}
	}
	paths := [][]string{{"a"}, {"b"}, {"a", "b"}, {"a", "b", "c"}, {"items", "a"}, {"a", "items", "b"}, {"A"}, {"k"}}
	for _, p := range paths {
		f := sigma.Field{Kind: sigma.JSONPath, Column: "doc", Path: p}
		fast := sigma.DuckDB{}.Value(f)
		old := fmt.Sprintf(`CASE WHEN contains(doc, '"%s"') THEN tw_json_values(doc, '%s') END`, p[len(p)-1], strings.Join(p, "\x1f"))
		rows, err := conn.QueryContext(ctx, `SELECT doc, CAST(`+fast+` AS VARCHAR), CAST(`+old+` AS VARCHAR) FROM docs
			WHERE (`+fast+`) IS DISTINCT FROM (`+old+`)`)
		if err != nil {
			t.Fatalf("path %v: %v\n%s", p, err, fast)
		}
		for rows.Next() {
			var doc string
			var got, want *string
			if err := rows.Scan(&doc, &got, &want); err != nil {
				t.Fatal(err)
			}
			t.Errorf("path %v, document %q: got %v, want %v", p, doc, deref(got), deref(want))
		}
		rows.Close()
	}
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

// randomDoc writes a random JSON value over a few keys, with the scalars and escapes of the test above.
func randomDoc(rng *rand.Rand, depth int) string {
	keys := []string{"a", "b", "c", "items", "k"}
	scalars := []string{`"x"`, `""`, `"a\"b"`, `"back\\slash"`, `"\u00e9t\u00e9"`, `"\ud83d\ude00"`, `"\udc00"`, `"tab\tx"`,
		`"true"`, `1`, `1.50`, `-2e-3`, `true`, `false`, `null`}
	n := rng.IntN(10)
	switch {
	case depth >= 3 || n < 4:
		return scalars[rng.IntN(len(scalars))]
	case n < 6:
		var parts []string
		for range rng.IntN(3) {
			parts = append(parts, randomDoc(rng, depth+1))
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		var parts []string
		for range 1 + rng.IntN(3) {
			sp := []string{"", " ", "\n"}[rng.IntN(3)]
			parts = append(parts, sp+`"`+keys[rng.IntN(len(keys))]+`"`+sp+":"+sp+randomDoc(rng, depth+1))
		}
		doc := "{" + strings.Join(parts, ",") + "}"
		if depth == 0 && rng.IntN(20) == 0 {
			doc = doc[:rng.IntN(len(doc))] // malformed
		}
		return doc
	}
}
