package cli_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/trailwatch/trailwatch/internal/generate"
	"github.com/trailwatch/trailwatch/internal/testenv"
)

// The end-to-end tests run the real binary, built once, as a user would.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trailwatch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "trailwatch")
	out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/trailwatch").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build trailwatch: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := result{stdout: so.String(), stderr: se.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = -int(ws.Signal())
		}
	case err != nil:
		t.Fatalf("run %v: %v", args, err)
	}
	return r
}

func mustRun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := run(t, env, "", args...)
	if r.code != 0 {
		t.Fatalf("trailwatch %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// scenarios is the part of generate's ground truth the tests read.
type scenarios struct {
	Totals struct {
		Events int `json:"events"`
		Files  int `json:"files"`
	} `json:"totals"`
	Scenarios []struct {
		Name     string   `json:"name"`
		EventIDs []string `json:"event_ids"`
	} `json:"scenarios"`
}

var (
	genOnce sync.Map // options string → *genResult
)

type genResult struct {
	once sync.Once
	dir  string
	sc   scenarios
	err  error
}

// generated returns a folder of generated logs, made once per option set for the whole test binary.
func generated(t *testing.T, o generate.Options) (string, scenarios) {
	t.Helper()
	key := fmt.Sprintf("%+v", o)
	v, _ := genOnce.LoadOrStore(key, &genResult{})
	g := v.(*genResult)
	g.once.Do(func() {
		g.dir, g.err = os.MkdirTemp("", "trailwatch-gen-")
		if g.err != nil {
			return
		}
		o.Out = g.dir
		if _, g.err = generate.Run(context.Background(), o); g.err != nil {
			return
		}
		var b []byte
		if b, g.err = os.ReadFile(filepath.Join(g.dir, "scenarios.json")); g.err == nil {
			g.err = json.Unmarshal(b, &g.sc)
		}
	})
	if g.err != nil {
		t.Fatal(g.err)
	}
	return g.dir, g.sc
}

var small = generate.Options{Accounts: 2, Regions: 2, Days: 2, EventsPerDay: 6000, Seed: 3}

func dbEnv(t *testing.T) []string {
	return []string{"TRAILWATCH_DB=" + filepath.Join(t.TempDir(), "tw.duckdb")}
}

func queryInt(t *testing.T, env []string, q string) int {
	t.Helper()
	r := mustRun(t, env, "query", "--format", "csv", q)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("query %s: %q", q, r.stdout)
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil {
		t.Fatalf("query %s: %q", q, r.stdout)
	}
	return n
}

func TestIngestGeneratedExactlyOnce(t *testing.T) {
	dir, sc := generated(t, small)
	env := dbEnv(t)
	r := mustRun(t, env, "ingest", "--quiet", dir)
	if !strings.Contains(r.stdout, fmt.Sprintf("%d added, 0 duplicates", sc.Totals.Events)) {
		t.Errorf("summary: %s", r.stdout)
	}
	if n := queryInt(t, env, "SELECT count(*) FROM cloudtrail_logs"); n != sc.Totals.Events {
		t.Fatalf("%d events stored, ground truth %d", n, sc.Totals.Events)
	}
	r = mustRun(t, env, "ingest", dir)
	if !strings.Contains(r.stdout, "0 read") || !strings.Contains(r.stdout, "0 added") {
		t.Errorf("re-run: %s", r.stdout)
	}
	if n := queryInt(t, env, "SELECT count(*) FROM cloudtrail_logs"); n != sc.Totals.Events {
		t.Fatalf("after re-run %d events, ground truth %d", n, sc.Totals.Events)
	}
	// Every planted event is there, once.
	var ids []string
	for _, s := range sc.Scenarios {
		for _, id := range s.EventIDs {
			if strings.ContainsAny(id, "'\\") {
				t.Fatalf("unexpected id %q", id)
			}
			ids = append(ids, "'"+id+"'")
		}
	}
	if len(ids) == 0 {
		t.Fatal("no planted events")
	}
	if n := queryInt(t, env, "SELECT count(*) FROM cloudtrail_logs WHERE eventid IN ("+strings.Join(ids, ",")+")"); n != len(ids) {
		t.Errorf("%d of %d planted events stored", n, len(ids))
	}
}

// TestCrashAndRerun kills ingest with SIGKILL at each point of a commit, and once from outside, and checks
// that the next run stores every event exactly once.
func TestCrashAndRerun(t *testing.T) {
	dir, sc := generated(t, small)
	points := []string{"staged:1", "staged:3", "in-transaction:2", "committed:1", "committed:4"}
	for _, p := range points {
		t.Run(p, func(t *testing.T) {
			env := dbEnv(t)
			r := run(t, append(env, "TRAILWATCH_TEST_CRASH="+p), "", "ingest", "--quiet", "--batch-events", "1500", dir)
			if r.code != -int(syscall.SIGKILL) {
				t.Fatalf("expected a SIGKILL at %s, got exit %d: %s", p, r.code, r.stderr)
			}
			mustRun(t, env, "ingest", "--quiet", dir)
			checkExactlyOnce(t, env, sc.Totals.Events)
		})
	}
	t.Run("external-kill", func(t *testing.T) {
		env := dbEnv(t)
		cmd := exec.Command(binPath, "ingest", "--quiet", "--batch-events", "1000", dir)
		cmd.Env = append(append(os.Environ(), env...), "TRAILWATCH_TEST_CRASH=trace")
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc2 := bufio.NewScanner(stderr)
		for sc2.Scan() {
			if sc2.Text() == "committed 2" {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		go io.Copy(io.Discard, stderr)
		cmd.Wait()
		mustRun(t, env, "ingest", "--quiet", dir)
		checkExactlyOnce(t, env, sc.Totals.Events)
	})
}

func checkExactlyOnce(t *testing.T, env []string, want int) {
	t.Helper()
	n := queryInt(t, env, "SELECT count(*) FROM cloudtrail_logs")
	d := queryInt(t, env, "SELECT count(DISTINCT (eventid, recipientaccountid)) FROM cloudtrail_logs")
	if n != want || d != want {
		t.Fatalf("%d events (%d distinct), ground truth %d", n, d, want)
	}
}

// TestQueryDuringIngest runs a query while an ingest is in the middle of its work.
func TestQueryDuringIngest(t *testing.T) {
	dir, sc := generated(t, small)
	env := dbEnv(t)
	cmd := exec.Command(binPath, "ingest", "--quiet", "--batch-events", "500", "--workers", "1", dir)
	cmd.Env = append(append(os.Environ(), env...), "TRAILWATCH_TEST_CRASH=trace")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := bufio.NewScanner(stderr)
	for s.Scan() && s.Text() != "committed 2" {
	}
	var rest bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&rest, stderr); close(done) }()
	// The ingest is running: the query must still answer, with some but not necessarily all events.
	n := queryInt(t, env, "SELECT count(*) FROM cloudtrail_logs")
	if n == 0 || n > sc.Totals.Events {
		t.Errorf("query during ingest saw %d events", n)
	}
	<-done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ingest: %v\n%s", err, rest.String())
	}
	checkExactlyOnce(t, env, sc.Totals.Events)
}

func TestBadFilesExitStatus(t *testing.T) {
	dir := t.TempDir()
	good := `{"Records":[{"eventVersion":"1.08","eventTime":"2024-03-01T10:00:00Z","eventID":"a1","eventName":"ListUsers","recipientAccountId":"111122223333"}]}`
	write := func(name, body string) {
		p := filepath.Join(dir, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	write("good.json", good)
	write("broken.json", good[:50])
	write("empty.json.gz", "")
	env := dbEnv(t)
	r := run(t, env, "", "ingest", dir)
	if r.code != 3 {
		t.Fatalf("exit %d, want 3 (some files failed)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"broken.json: truncated", "empty.json.gz: empty file", "2 files failed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "1 read") || !strings.Contains(r.stdout, "2 failed") {
		t.Errorf("summary: %s", r.stdout)
	}
	if n := queryInt(t, env, "SELECT count(*) FROM cloudtrail_logs"); n != 1 {
		t.Errorf("%d events", n)
	}
	// Usage errors and fatal errors are told apart.
	if r := run(t, env, "", "ingest", "--since", "last tuesday", dir); r.code != 2 {
		t.Errorf("bad --since: exit %d", r.code)
	}
	if r := run(t, env, "", "ingest", filepath.Join(dir, "nope")); r.code != 1 {
		t.Errorf("missing source: exit %d", r.code)
	}
}

func TestQueryFormatsAndInputs(t *testing.T) {
	dir, _ := generated(t, small)
	env := dbEnv(t)
	mustRun(t, env, "ingest", "--quiet", dir)
	q := `SELECT eventname, count(*) AS n FROM "default"."cloudtrail_logs" WHERE useridentity.type = 'Root' GROUP BY 1 ORDER BY 2 DESC, 1`
	table := mustRun(t, env, "query", q).stdout
	csvOut := mustRun(t, env, "query", "--format", "csv", q).stdout
	jsonl := mustRun(t, env, "query", "--format", "jsonl", q).stdout
	fromStdin := run(t, env, q, "query", "--format", "csv")
	f := filepath.Join(t.TempDir(), "q.sql")
	os.WriteFile(f, []byte(q+";\n"), 0o644)
	fromFile := mustRun(t, env, "query", "--format", "csv", "-f", f).stdout
	if fromStdin.code != 0 || fromStdin.stdout != csvOut || fromFile != csvOut {
		t.Errorf("stdin/file/argument differ:\n%s\n%s\n%s", fromStdin.stdout, fromFile, csvOut)
	}
	if !strings.HasPrefix(csvOut, "eventname,n\n") || !strings.Contains(table, "rows)") {
		t.Errorf("csv %q table %q", csvOut, table)
	}
	for _, line := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["eventname"] == nil {
			t.Errorf("jsonl line %q: %v", line, err)
		}
	}
	r := run(t, env, "", "query", "SELECT nosuchcolumn FROM cloudtrail_logs")
	if r.code == 0 || !strings.Contains(r.stderr, "nosuchcolumn") {
		t.Errorf("bad column: exit %d: %s", r.code, r.stderr)
	}
}

// TestSeedQueriesAgainstRawFiles runs seed-article queries, as published with their placeholders filled,
// and compares the answers with an evaluation of the raw log files in Go.
func TestSeedQueriesAgainstRawFiles(t *testing.T) {
	dir, _ := generated(t, small)
	env := dbEnv(t)
	mustRun(t, env, "ingest", "--quiet", dir)
	recs := rawRecords(t, dir)
	day := recs[len(recs)-1].day // the last day: "year='2024' AND month='03' AND day='31'"
	y, m, d := day[0:4], day[5:7], day[8:10]
	where := fmt.Sprintf(" AND year='%s' AND month='%s' AND day='%s'", y, m, d)
	type check struct {
		name string
		sql  string
		want func(r rawRecord) bool
	}
	checks := []check{
		{"000 failed logons", "SELECT count(*) FROM mydb.cloudtrail_logs WHERE eventname = 'ConsoleLogin' AND responseelements LIKE '%Failure%'" + where,
			func(r rawRecord) bool {
				return r.day == day && r.ev["eventName"] == "ConsoleLogin" && strings.Contains(r.json("responseElements"), "Failure")
			}},
		{"000 audit log stopped/started (parenthesised)", "SELECT count(*) FROM mydb.cloudtrail_logs WHERE (eventname = 'StopLogging' OR eventname = 'StartLogging')" + where,
			func(r rawRecord) bool {
				return r.day == day && (r.ev["eventName"] == "StopLogging" || r.ev["eventName"] == "StartLogging")
			}},
		{"000 admin group", "SELECT count(*) FROM mydb.cloudtrail_logs WHERE eventname LIKE '%AddUserToGroup%' AND requestparameters LIKE '%Admin%'" + where,
			func(r rawRecord) bool {
				return r.day == day && strings.Contains(fmt.Sprint(r.ev["eventName"]), "AddUserToGroup") && strings.Contains(r.json("requestParameters"), "Admin")
			}},
		{"003 root activity", "select count (*) as TotalEvents from cloudtrail_logs where eventtime >= '2017-01-01T00:00:00Z' and useridentity.type = 'Root'",
			func(r rawRecord) bool { return r.identity("type") == "Root" }},
		{"003 mobile or outside network", "select count(*) from default.cloudtrail_logs where eventname = 'ConsoleLogin' and (json_extract_scalar(additionaleventdata, '$.MobileVersion') = 'Yes' or sourceipaddress not like '72.21.%')",
			func(r rawRecord) bool {
				if r.ev["eventName"] != "ConsoleLogin" {
					return false
				}
				var a map[string]any
				json.Unmarshal([]byte(r.json("additionalEventData")), &a)
				return a["MobileVersion"] == "Yes" || !strings.HasPrefix(fmt.Sprint(r.ev["sourceIPAddress"]), "72.21.")
			}},
		{"004 resource deletion", `SELECT count(*) FROM "default"."cloudtrail_logs" WHERE "timestamp" = '` + day + `' AND (lower(eventName) like '%delete%' OR lower(eventName) like '%remove%')`,
			func(r rawRecord) bool {
				n := strings.ToLower(fmt.Sprint(r.ev["eventName"]))
				return r.day == day && (strings.Contains(n, "delete") || strings.Contains(n, "remove"))
			}},
	}
	for _, c := range checks {
		want := 0
		for _, r := range recs {
			if c.want(r) {
				want++
			}
		}
		if got := queryInt(t, env, c.sql); got != want {
			t.Errorf("%s: trailwatch %d, raw files %d", c.name, got, want)
		}
		if want == 0 && c.name != "003 mobile or outside network" {
			t.Logf("%s: no matching events in the generated data", c.name)
		}
	}
}

type rawRecord struct {
	day string // delivery day from the key, yyyy/MM/dd
	ev  map[string]any
}

func (r rawRecord) json(k string) string {
	v, ok := r.ev[k]
	if !ok || v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (r rawRecord) identity(k string) string {
	ui, _ := r.ev["userIdentity"].(map[string]any)
	s, _ := ui[k].(string)
	return s
}

func rawRecords(t *testing.T, dir string) []rawRecord {
	var out []rawRecord
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".json.gz") {
			return err
		}
		parts := strings.Split(filepath.ToSlash(p), "/")
		n := len(parts)
		day := parts[n-4] + "/" + parts[n-3] + "/" + parts[n-2]
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		var doc struct{ Records []map[string]any }
		if err := json.NewDecoder(zr).Decode(&doc); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, r := range doc.Records {
			out = append(out, rawRecord{day: day, ev: r})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// order by day so the caller can pick the last one
	sortByDay(out)
	return out
}

func sortByDay(rs []rawRecord) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].day < rs[j-1].day; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// TestIngestS3 ingests generated logs from a real S3-compatible server (MinIO) on loopback.
func TestIngestS3(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MinIO")
	}
	dir, sc := generated(t, small)
	m := testenv.StartMinIO(t)
	m.MakeBucket(t, "org-trail")
	days := map[string]int{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m.Put(t, "org-trail", "trail/"+filepath.ToSlash(rel), b)
		if parts := strings.Split(filepath.ToSlash(rel), "/"); len(parts) > 8 {
			days[strings.Join(parts[len(parts)-4:len(parts)-1], "-")]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	env := append(dbEnv(t), m.Env()...)
	// One day first: only that day's files are read.
	var last string
	for d := range days {
		if d > last {
			last = d
		}
	}
	r := mustRun(t, env, "ingest", "--endpoint", m.Endpoint, "--since", last, "--until", last, "s3://org-trail/trail/")
	if !strings.Contains(r.stdout, fmt.Sprintf("%d files listed", days[last])) {
		t.Errorf("one-day ingest listed other days (want %d files): %s", days[last], r.stdout)
	}
	r = mustRun(t, env, "ingest", "--endpoint", m.Endpoint, "s3://org-trail/trail/")
	if n := queryInt(t, env, "SELECT count(*) FROM cloudtrail_logs"); n != sc.Totals.Events {
		t.Fatalf("%d events from S3, ground truth %d: %s", n, sc.Totals.Events, r.stdout)
	}
	r = mustRun(t, env, "ingest", "--endpoint", m.Endpoint, "s3://org-trail/trail/")
	if !strings.Contains(r.stdout, "0 added") {
		t.Errorf("re-run from S3: %s", r.stdout)
	}
	if n := queryInt(t, env, "SELECT count(DISTINCT source_object) FROM cloudtrail_logs WHERE source_object LIKE 's3://org-trail/trail/AWSLogs/%'"); n == 0 {
		t.Error("source_object does not name the S3 objects")
	}
	if r := run(t, env, "", "ingest", "--endpoint", m.Endpoint, "s3://no-such-bucket/x/"); r.code != 1 || !strings.Contains(r.stderr, "no-such-bucket") {
		t.Errorf("missing bucket: exit %d %s", r.code, r.stderr)
	}
}

func TestHelpIsTrue(t *testing.T) {
	r := mustRun(t, nil, "--help")
	for _, c := range []string{"ingest", "query", "generate", "demo"} {
		if !strings.Contains(r.stdout, c) {
			t.Errorf("--help lacks %s", c)
		}
	}
	if runtime.GOOS != "linux" {
		return
	}
	r = mustRun(t, nil, "ingest", "--help")
	if !strings.Contains(r.stdout, "--since") || !strings.Contains(r.stdout, "Exit status") {
		t.Errorf("ingest --help: %s", r.stdout)
	}
}
