package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
)

// TestDirectVectorWrites checks that tw_stream writes its text columns straight into DuckDB's vectors
// (the driver's fields were found), and that every kind of string comes back exactly: empty, inline
// (up to 12 bytes), just out of line, multi-byte across the 4-byte prefix, long, and missing (NULL),
// in chunks that mix them and span files.
func TestDirectVectorWrites(t *testing.T) {
	if !vectorFields.ok {
		t.Fatal("duckdb-go's vector fields were not found: ingest falls back to one cgo call per value (see vectors.go)")
	}
	agents := testStrings()
	dir := t.TempDir()
	want := map[string]*string{}
	for f := range 3 {
		var recs []map[string]any
		for i := range 3000 { // more than a chunk (2048 rows) per file
			id := fmt.Sprintf("ev-%d-%d", f, i)
			rec := map[string]any{"eventVersion": "1.08", "eventTime": "2024-05-01T00:00:00Z", "eventID": id,
				"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "recipientAccountId": "111122223333"}
			if n := (f*3000 + i) % (len(agents) + 1); n < len(agents) {
				rec["userAgent"] = agents[n]
				want[id] = &agents[n]
			} else {
				want[id] = nil // no userAgent: NULL
			}
			recs = append(recs, rec)
		}
		data, err := json.Marshal(map[string]any{"Records": recs})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.json", f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st := openTemp(t)
	if sum := ingestDir(t, st, dir); sum.Added != int64(len(want)) {
		t.Fatalf("added %d of %d events", sum.Added, len(want))
	}
	rows, err := st.DB.Query(`SELECT eventid, useragent, source_object FROM cloudtrail_logs`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, obj string
		var agent *string
		if err := rows.Scan(&id, &agent, &obj); err != nil {
			t.Fatal(err)
		}
		w, ok := want[id]
		switch {
		case !ok:
			t.Fatalf("unexpected event %q", id)
		case (w == nil) != (agent == nil) || (w != nil && *w != *agent):
			t.Fatalf("%s: userAgent %v, want %v", id, show(agent), show(w))
		case !strings.HasSuffix(obj, fmt.Sprintf("f%c.json", id[3])):
			t.Fatalf("%s: source_object %q", id, obj)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("read %d of %d events back", n, len(want))
	}
	// Equality and ordering go through the string_t prefix and inline bytes DuckDB compares.
	if got := count(t, st, `SELECT count(*) FROM cloudtrail_logs WHERE useragent = '1234567890123'`); got != 900 {
		t.Errorf("useragent = '1234567890123': %d rows, want 900", got)
	}
	if got := count(t, st, `SELECT count(DISTINCT useragent) FROM cloudtrail_logs`); got != len(agents) {
		t.Errorf("%d distinct user agents, want %d", got, len(agents))
	}
}

func show(s *string) string {
	if s == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *s)
}

// testStrings are strings of every kind a string_t holds: empty, inline (up to 12 bytes), just out of
// line, multi-byte across the 4-byte prefix, long, attacker text.
func testStrings() []string {
	return []string{"", "x", "123456789012", "1234567890123", "héllo wörld!", "ab€cdefghijklm", "日本語のユーザーエージェント",
		strings.Repeat("long agent ", 300), `quote " backslash \ <script>`}
}

// textSource is a table function whose one column cycles through testStrings and NULL, written by
// textColumn, so queries can compare the string_t values before anything copies them.
type textSource struct {
	rows, sent int
	text       textColumn
	mem        arena
}

func (s *textSource) ColumnInfos() []duckdb.ColumnInfo {
	t, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	return []duckdb.ColumnInfo{{Name: "v", T: t}}
}
func (s *textSource) Cardinality() *duckdb.CardinalityInfo { return nil }
func (s *textSource) Init()                                {}
func (s *textSource) FillChunk(ch duckdb.DataChunk) error {
	vals := testStrings()
	s.text.reset()
	s.mem.reset()
	for ; s.sent < s.rows && len(s.text.vals) < duckdb.GetDataChunkCapacity(); s.sent++ {
		n := s.sent % (len(vals) + 1)
		if n == len(vals) {
			s.text.add("", false)
		} else {
			s.text.add(vals[n], true)
		}
	}
	if err := s.text.put(&ch, 0, &s.mem); err != nil {
		return err
	}
	return ch.SetSize(len(s.text.vals))
}

// TestTextColumnStringT compares the string_t values textColumn writes inside one query, where DuckDB
// compares prefixes and inline bytes rather than copies of the strings.
func TestTextColumnStringT(t *testing.T) {
	st := openTemp(t)
	ctx := context.Background()
	conn, err := st.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const rows = 5000 // three chunks
	err = duckdb.RegisterTableUDF(conn, "tw_text_test", duckdb.ChunkTableFunction{
		BindArguments: func(map[string]any, ...any) (duckdb.ChunkTableSource, error) {
			src := &textSource{rows: rows}
			t.Cleanup(src.mem.free) // after the queries, which bind a source each
			return src, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	vals := testStrings()
	per := rows / (len(vals) + 1)
	for _, v := range vals {
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM tw_text_test() WHERE v = $1`, v).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != per {
			t.Errorf("v = %q: %d rows, want %d", v, n, per)
		}
	}
	var distinct, nulls, sorted int
	err = conn.QueryRowContext(ctx, `SELECT count(DISTINCT v), count(*) FILTER (WHERE v IS NULL),
		count(*) FILTER (WHERE v < 'ab€d' AND v > 'ab€c') FROM tw_text_test()`).Scan(&distinct, &nulls, &sorted)
	if err != nil {
		t.Fatal(err)
	}
	if distinct != len(vals) || nulls != per || sorted != per {
		t.Errorf("%d distinct (want %d), %d NULL (want %d), %d between (want %d)", distinct, len(vals), nulls, per, sorted, per)
	}
}
