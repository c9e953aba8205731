package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailwatch/trailwatch/internal/source"
)

const sharedData = "../../testdata/cloudtrail" // real records, copied with their licences

func openTemp(t testing.TB) *Store {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.duckdb"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func ingestDir(t testing.TB, st *Store, dir string) Summary {
	t.Helper()
	src, err := source.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := st.Ingest(context.Background(), src, IngestOptions{BatchEvents: 50})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func count(t testing.TB, st *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := st.DB.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// uniqueEvents counts, with encoding/json, the distinct (eventID, recipientAccountId) records with an
// eventTime in the files — the independent count the store must match. Records without an eventID count
// once per distinct content.
func uniqueEvents(t *testing.T, files []string) int {
	seen := map[string]bool{}
	var walk func(v any, inEvents bool)
	walk = func(v any, inEvents bool) {
		switch x := v.(type) {
		case []any:
			for _, it := range x {
				walk(it, inEvents)
			}
		case map[string]any:
			if r, ok := x["Records"]; ok && !inEvents {
				walk(r, false)
				return
			}
			if r, ok := x["Events"]; ok && !inEvents {
				walk(r, true)
				return
			}
			if _, ok := x["eventTime"]; !ok {
				return
			}
			id, _ := x["eventID"].(string)
			if id == "" {
				b, _ := json.Marshal(x)
				id = "content:" + string(b)
			}
			acct, _ := x["recipientAccountId"].(string)
			seen[id+"|"+acct] = true
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		walk(v, false)
	}
	return len(seen)
}

func copyShared(t *testing.T) (string, []string) {
	dir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(sharedData, "stratus-red-team", "*.json"))
	files = append(files, filepath.Join(sharedData, "aws-docs-examples", "awsdocs_records.json"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.Base(filepath.Dir(f))+"-"+filepath.Base(f))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, dst)
	}
	return dir, out
}

func TestIngestSharedDataExactlyOnce(t *testing.T) {
	dir, files := copyShared(t)
	want := uniqueEvents(t, files)
	st := openTemp(t)
	sum := ingestDir(t, st, dir)
	// One AWS documentation example is a userIdentity fragment without eventTime: that file is reported.
	if sum.Failed != 1 || sum.Read != len(files)-1 || !strings.Contains(sum.Failures[0].Err.Error(), "record 11: record has no eventTime") {
		t.Fatalf("summary %+v", sum)
	}
	if got := count(t, st, `SELECT count(*) FROM cloudtrail_logs`); got != want {
		t.Fatalf("stored %d events, independent count %d", got, want)
	}
	if int(sum.Added) != want {
		t.Errorf("summary added %d, want %d", sum.Added, want)
	}
	again := ingestDir(t, st, dir)
	if again.Added != 0 || again.Unchanged != len(files)-1 || again.Failed != 1 {
		t.Errorf("re-run: %+v", again)
	}
	if got := count(t, st, `SELECT count(*) FROM cloudtrail_logs`); got != want {
		t.Fatalf("after re-run %d events, want %d", got, want)
	}
	// Nested columns answer Athena paths.
	if n := count(t, st, `SELECT count(*) FROM cloudtrail_logs WHERE useridentity.sessioncontext.sessionissuer.username IS NOT NULL`); n == 0 {
		t.Error("no session issuer user names")
	}
	if n := count(t, st, `SELECT count(*) FROM cloudtrail_logs t CROSS JOIN UNNEST(t.resources) u(r) WHERE u.r.arn IS NOT NULL`); n == 0 {
		t.Error("no resources")
	}
	if n := count(t, st, `SELECT count(*) FROM cloudtrail_logs WHERE json_extract_string(extra, '$.insightDetails.state') = 'Start'`); n == 0 {
		t.Error("insightDetails, outside the Athena schema, is not queryable through extra")
	}
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func rec(id, account string) string {
	return `{"eventVersion":"1.08","eventTime":"2024-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","eventID":"` + id + `","recipientAccountId":"` + account + `","userIdentity":{"type":"IAMUser","userName":"alice"}}`
}

func records(ids ...string) []byte {
	var parts []string
	for _, id := range ids {
		parts = append(parts, rec(id, "111122223333"))
	}
	return gzipBytes([]byte(`{"Records":[` + strings.Join(parts, ",") + `]}`))
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

const dayDir = "AWSLogs/o-abc1234567/111122223333/CloudTrail/us-east-1/2024/03/01/"

func TestIngestIncrementalRewriteAndDuplicates(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, dayDir, "a.json.gz"), records("e1", "e2"))
	st := openTemp(t)
	ingestDir(t, st, dir)
	// A new file adds only its events; the same event delivered twice is stored once.
	write(t, filepath.Join(dir, dayDir, "b.json.gz"), records("e2", "e3", "e3"))
	sum := ingestDir(t, st, dir)
	if sum.Read != 1 || sum.Added != 1 || sum.Duplicates != 2 || sum.Unchanged != 1 {
		t.Errorf("new file: %+v", sum)
	}
	if n := count(t, st, `SELECT count(*) FROM cloudtrail_logs`); n != 3 {
		t.Fatalf("%d events, want 3", n)
	}
	// The same eventID in another account is another event.
	write(t, filepath.Join(dir, dayDir, "c.json.gz"), gzipBytes([]byte(`{"Records":[`+rec("e1", "444455556666")+`]}`)))
	ingestDir(t, st, dir)
	if n := count(t, st, `SELECT count(*) FROM cloudtrail_logs`); n != 4 {
		t.Fatalf("%d events, want 4", n)
	}
	// A rewritten object is read again and replaces its events.
	write(t, filepath.Join(dir, dayDir, "a.json.gz"), records("e1", "e9"))
	os.Chtimes(filepath.Join(dir, dayDir, "a.json.gz"), timeNow().Add(1e9), timeNow().Add(1e9))
	sum = ingestDir(t, st, dir)
	if sum.Read != 1 {
		t.Errorf("rewrite: %+v", sum)
	}
	got := count(t, st, `SELECT count(*) FROM cloudtrail_logs`)
	ids := count(t, st, `SELECT count(DISTINCT (eventid, recipientaccountid)) FROM cloudtrail_logs`)
	if got != ids {
		t.Fatalf("duplicates after rewrite: %d rows, %d distinct", got, ids)
	}
	// e1, e2 (kept: stored events are never removed), e9 from a; e3 from b; e1@444455556666 from c.
	if got != 5 {
		t.Fatalf("%d events after rewrite, want 5", got)
	}
	if n := count(t, st, `SELECT count(*) FROM cloudtrail_logs WHERE account = '111122223333' AND region = 'us-east-1' AND "timestamp" = '2024/03/01' AND year = '2024' AND month = '03' AND day = '01' AND date_partition = '2024/03/01'`); n != 5 {
		t.Errorf("partition columns: %d rows", n)
	}
}

// Two files of one transaction carrying the same event: it is stored once, and the files' records say which
// added it and which repeated it.
func TestIngestDuplicatesWithinOneTransaction(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, dayDir, "a.json.gz"), records("e1", "e2"))
	write(t, filepath.Join(dir, dayDir, "b.json.gz"), records("e2", "e3"))
	// The same eventID for two recipient accounts is two events; without a recipient account (NULL) twice,
	// one event, and not the same as an empty recipient.
	noRecipient := strings.Replace(rec("e4", ""), `"recipientAccountId":"",`, "", 1)
	write(t, filepath.Join(dir, dayDir, "c.json"), []byte(`{"Records":[`+rec("e1", "444455556666")+`,`+noRecipient+`,`+rec("e4", "")+`]}`))
	write(t, filepath.Join(dir, dayDir, "d.json"), []byte(`{"Records":[`+noRecipient+`]}`))
	st := openTemp(t)
	src, err := source.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := st.Ingest(context.Background(), src, IngestOptions{}) // one transaction for both files
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 4 || sum.Events != 8 || sum.Added != 6 || sum.Duplicates != 2 {
		t.Errorf("summary: %+v", sum)
	}
	if n := count(t, st, `SELECT count(*) FROM cloudtrail_logs WHERE eventid = 'e1'`); n != 2 {
		t.Errorf("e1 (two recipients) stored %d times", n)
	}
	if n := count(t, st, `SELECT count(*) FROM cloudtrail_logs WHERE eventid = 'e4' AND recipientaccountid IS NULL`); n != 1 {
		t.Errorf("e4 without a recipient stored %d times", n)
	}
	if n := count(t, st, `SELECT count(*) FROM cloudtrail_logs WHERE eventid = 'e2'`); n != 1 {
		t.Errorf("e2 stored %d times", n)
	}
	if n := count(t, st, `SELECT sum(added) FROM tw_files`); n != 6 {
		t.Errorf("files record %d added", n)
	}
	if n := count(t, st, `SELECT sum(duplicates) FROM tw_files`); n != 2 {
		t.Errorf("files record %d duplicates", n)
	}
}

func TestIngestBadInput(t *testing.T) {
	dir := t.TempDir()
	good := records("g1", "g2")
	write(t, filepath.Join(dir, dayDir, "good.json.gz"), good)
	trunc := gzipBytes([]byte(`{"Records":[` + rec("t1", "111122223333") + `,` + rec("t2", "111122223333")[:40]))
	cases := map[string]struct {
		data []byte
		want string
	}{
		"corrupt.json.gz":   {good[:len(good)-12], "corrupt gzip"},
		"truncated.json.gz": {trunc, "truncated"},
		"notct.json":        {[]byte(`{"hello":"world"}`), "not a CloudTrail"},
		"notime.json":       {[]byte(`{"Records":[{"eventID":"x1"},` + rec("n1", "111122223333") + `]}`), "no eventTime"},
		"empty.json.gz":     {nil, "empty file"},
		"utf8.json":         {[]byte("{\"Records\":[{\"eventTime\":\"2024-03-01T10:00:00Z\",\"eventID\":\"u1\",\"userAgent\":\"bad\xff\xfe\"}]}"), ""},
	}
	for name, c := range cases {
		write(t, filepath.Join(dir, "bad", name), c.data)
	}
	st := openTemp(t)
	src, _ := source.NewLocal(dir)
	results := map[string]FileResult{}
	sum, err := st.Ingest(context.Background(), src, IngestOptions{OnFile: func(r FileResult) { results[filepath.Base(r.URI)] = r }})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range cases {
		r := results[name]
		if c.want == "" {
			if r.Err != nil || r.Status != StatusOK || len(r.Warnings) == 0 {
				t.Errorf("%s: %+v, want ok with a warning", name, r)
			}
			continue
		}
		if r.Status != StatusFailed || r.Err == nil || !strings.Contains(r.Err.Error(), c.want) {
			t.Errorf("%s: status %s err %v, want failed with %q", name, r.Status, r.Err, c.want)
		}
	}
	if sum.Failed != 5 || sum.Read != 2 {
		t.Errorf("summary %+v", sum)
	}
	// Recoverable events are kept: the good file, the record before the truncation, the record with a time.
	for _, id := range []string{"g1", "g2", "t1", "n1", "u1"} {
		if count(t, st, `SELECT count(*) FROM cloudtrail_logs WHERE eventid = ?`, id) != 1 {
			t.Errorf("event %s not stored", id)
		}
	}
	if count(t, st, `SELECT count(*) FROM cloudtrail_logs WHERE useragent = 'bad'||chr(65533)`) != 1 {
		t.Error("invalid UTF-8 not repaired")
	}
	// Failed files are retried on the next run, without duplicating what they gave before.
	sum, err = st.Ingest(context.Background(), src, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 5 || sum.Unchanged != 2 || sum.Added != 0 {
		t.Errorf("retry summary %+v", sum)
	}
	if n := count(t, st, `SELECT count(*) FROM tw_files WHERE status = 'failed' AND error IS NOT NULL`); n != 5 {
		t.Errorf("%d failed files recorded", n)
	}
}
