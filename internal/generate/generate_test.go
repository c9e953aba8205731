package generate

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/cloudtrail"
)

// small is the data set most tests share: big enough for every scenario, small enough to read in full.
var small = Options{Accounts: 4, Regions: 3, Days: 2, EventsPerDay: 3000, Seed: 7, Workers: 2}

// generated is the output of one Run, read back.
type generated struct {
	dir      string
	sum      Summary
	manifest Manifest
	files    []logFile
}

type logFile struct {
	rel     string // slash-separated path under the output folder
	records []map[string]json.RawMessage
}

var (
	smallOnce sync.Once
	smallGen  *generated
	smallErr  error
)

// smallOutput generates small once per test binary and reads it back.
func smallOutput(t *testing.T) *generated {
	t.Helper()
	smallOnce.Do(func() {
		dir, err := os.MkdirTemp("", "generate-test-")
		if err != nil {
			smallErr = err
			return
		}
		o := small
		o.Out = dir
		smallGen, smallErr = runAndRead(o)
	})
	if smallErr != nil {
		t.Fatal(smallErr)
	}
	return smallGen
}

func runAndRead(o Options) (*generated, error) {
	sum, err := Run(context.Background(), o)
	if err != nil {
		return nil, err
	}
	g := &generated{dir: o.Out, sum: sum}
	b, err := os.ReadFile(filepath.Join(o.Out, ManifestName))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g.manifest); err != nil {
		return nil, err
	}
	err = filepath.WalkDir(filepath.Join(o.Out, "AWSLogs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(o.Out, path)
		f := logFile{rel: filepath.ToSlash(rel)}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		if zr.Name != "" || !zr.ModTime.IsZero() {
			return errors.New(rel + ": gzip header has a name or a time")
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			return err
		}
		var doc struct {
			Records []map[string]json.RawMessage
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return errors.New(rel + ": " + err.Error())
		}
		f.records = doc.Records
		g.files = append(g.files, f)
		return nil
	})
	return g, err
}

func TestTotalsMatchFiles(t *testing.T) {
	g := smallOutput(t)
	events := 0
	perDay := map[string]int{}
	for _, f := range g.files {
		events += len(f.records)
		k := cloudtrail.ParseKey(f.rel)
		perDay[k.Timestamp()] += len(f.records)
	}
	if events != g.manifest.Totals.Events || events != g.sum.Events {
		t.Errorf("records in files %d, scenarios.json totals %d, summary %d", events, g.manifest.Totals.Events, g.sum.Events)
	}
	if len(g.files) != g.manifest.Totals.Files || len(g.files) != g.sum.Files {
		t.Errorf("files %d, scenarios.json totals %d, summary %d", len(g.files), g.manifest.Totals.Files, g.sum.Files)
	}
	if len(perDay) != small.Days {
		t.Errorf("days with files: %v, want %d", perDay, small.Days)
	}
	for day, n := range perDay {
		if n != small.EventsPerDay {
			t.Errorf("day %s has %d events, want exactly %d", day, n, small.EventsPerDay)
		}
	}
	if g.sum.Scenarios != len(g.manifest.Scenarios) {
		t.Errorf("summary counts %d scenarios, scenarios.json lists %d", g.sum.Scenarios, len(g.manifest.Scenarios))
	}
}

var (
	fileName = regexp.MustCompile(`^AWSLogs/(o-[a-z0-9]{10})/(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$`)
	uuidV4   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func TestLayoutAndWindows(t *testing.T) {
	g := smallOutput(t)
	org := g.manifest.Organization
	accounts := map[string]bool{}
	for _, a := range org.Accounts {
		accounts[a.ID] = true
	}
	for _, f := range g.files {
		m := fileName.FindStringSubmatch(f.rel)
		if m == nil {
			t.Fatalf("%s: not in the CloudTrail layout", f.rel)
		}
		if m[1] != org.ID || m[2] != m[7] || m[3] != m[8] || !accounts[m[2]] || !slices.Contains(org.Regions, m[3]) {
			t.Fatalf("%s: organization, account or region do not match (org %s)", f.rel, org.ID)
		}
		fileTime, err := time.Parse("20060102T1504Z", m[9])
		if err != nil {
			t.Fatalf("%s: %v", f.rel, err)
		}
		if got := m[4] + m[5] + m[6]; got != fileTime.Format("20060102") {
			t.Fatalf("%s: folder date %s is not the file's date", f.rel, got)
		}
		if fileTime.Minute()%5 != 0 {
			t.Fatalf("%s: file time is not on a five-minute boundary", f.rel)
		}
		k := cloudtrail.ParseKey(f.rel)
		if !k.InLayout || k.Kind != cloudtrail.KindLog || k.Org != m[1] || k.Account != m[2] || k.Region != m[3] {
			t.Fatalf("%s: cloudtrail.ParseKey reads %+v", f.rel, k)
		}
		if len(f.records) == 0 {
			t.Fatalf("%s: no records", f.rel)
		}
		for i, r := range f.records {
			var et string
			if err := json.Unmarshal(r["eventTime"], &et); err != nil {
				t.Fatalf("%s record %d: eventTime: %v", f.rel, i, err)
			}
			tm, err := time.Parse(time.RFC3339, et)
			if err != nil {
				t.Fatalf("%s record %d: %v", f.rel, i, err)
			}
			if tm.Before(fileTime.Add(-5*time.Minute)) || !tm.Before(fileTime) {
				t.Fatalf("%s record %d: eventTime %s outside the file's window", f.rel, i, et)
			}
			var acct, region string
			_ = json.Unmarshal(r["recipientAccountId"], &acct)
			_ = json.Unmarshal(r["awsRegion"], &region)
			if acct != m[2] || region != m[3] {
				t.Fatalf("%s record %d: account %s region %s", f.rel, i, acct, region)
			}
		}
	}
}

func TestRecordsAreCloudTrail(t *testing.T) {
	g := smallOutput(t)
	seen := map[string]bool{}
	types := map[string]int{}
	eventTypes := map[string]int{}
	failures := 0
	total := 0
	for _, f := range g.files {
		for i, r := range f.records {
			total++
			for _, k := range []string{"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
				"sourceIPAddress", "userAgent", "requestParameters", "responseElements", "eventID", "readOnly", "eventType",
				"managementEvent", "recipientAccountId", "eventCategory"} {
				if _, ok := r[k]; !ok {
					t.Fatalf("%s record %d: no %s", f.rel, i, k)
				}
			}
			var e struct {
				EventVersion string `json:"eventVersion"`
				EventID      string `json:"eventID"`
				EventType    string `json:"eventType"`
				EventName    string `json:"eventName"`
				UserIdentity struct {
					Type      string `json:"type"`
					AccountID string `json:"accountId"`
				} `json:"userIdentity"`
				ErrorCode    string `json:"errorCode"`
				ErrorMessage string `json:"errorMessage"`
			}
			raw, _ := json.Marshal(r)
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("%s record %d: %v", f.rel, i, err)
			}
			if !slices.Contains([]string{"1.08", "1.09"}, e.EventVersion) {
				t.Fatalf("%s record %d: eventVersion %q", f.rel, i, e.EventVersion)
			}
			if !uuidV4.MatchString(e.EventID) {
				t.Fatalf("%s record %d: eventID %q is not a UUID v4", f.rel, i, e.EventID)
			}
			if seen[e.EventID] {
				t.Fatalf("%s record %d: eventID %s seen before", f.rel, i, e.EventID)
			}
			seen[e.EventID] = true
			if e.UserIdentity.Type == "" {
				t.Fatalf("%s record %d: userIdentity without type: %s", f.rel, i, r["userIdentity"])
			}
			types[e.UserIdentity.Type]++
			eventTypes[e.EventType]++
			if e.ErrorCode != "" || e.ErrorMessage != "" {
				failures++
			}
		}
	}
	for _, want := range []string{"IAMUser", "AssumedRole", "AWSService", "Root", "IdentityCenterUser"} {
		if types[want] == 0 {
			t.Errorf("no userIdentity of type %s (have %v)", want, types)
		}
	}
	for _, want := range []string{"AwsApiCall", "AwsConsoleSignIn", "AwsServiceEvent"} {
		if eventTypes[want] == 0 {
			t.Errorf("no event of type %s (have %v)", want, eventTypes)
		}
	}
	if rate := float64(failures) / float64(total); rate < 0.01 || rate > 0.08 {
		t.Errorf("%.1f%% of the calls failed, want a few percent", 100*rate)
	}
}

func TestScenarios(t *testing.T) {
	g := smallOutput(t)
	type where struct{ account, region string }
	byID := map[string]where{}
	for _, f := range g.files {
		m := fileName.FindStringSubmatch(f.rel)
		for _, r := range f.records {
			var id string
			_ = json.Unmarshal(r["eventID"], &id)
			byID[id] = where{m[2], m[3]}
		}
	}
	want := []string{"root-console-login", "root-api-calls", "console-login-failures", "cloudtrail-stopped",
		"cloudtrail-update-delete", "security-group-open-world", "iam-admin-group", "log-bucket-read",
		"kms-key-deletion", "iam-backdoor-admin-user", "guardduty-detector-deleted", "config-recorder-stopped",
		"console-login-no-mfa", "access-denied-storm", "xss-payload", "new-account"}
	var names []string
	for _, s := range g.manifest.Scenarios {
		names = append(names, s.Name)
		if len(s.EventIDs) == 0 || len(s.PCI) == 0 || s.Description == "" || s.Principal == "" || s.SourceIP == "" {
			t.Errorf("scenario %s is incomplete: %+v", s.Name, s)
		}
		start, err1 := time.Parse(time.RFC3339, s.Start)
		end, err2 := time.Parse(time.RFC3339, s.End)
		if err1 != nil || err2 != nil || end.Before(start) {
			t.Errorf("scenario %s: start %q end %q", s.Name, s.Start, s.End)
		}
		for _, id := range s.EventIDs {
			w, ok := byID[id]
			if !ok {
				t.Errorf("scenario %s: event %s is in no file", s.Name, id)
				continue
			}
			if s.Name != "new-account" && (w.account != s.Account || w.region != s.Region) {
				t.Errorf("scenario %s: event %s is in %v, scenario says %s %s", s.Name, id, w, s.Account, s.Region)
			}
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("scenarios\n got %v\nwant %v", names, want)
	}
}

// TestScenarioContent checks the planted events say what their scenario claims.
func TestScenarioContent(t *testing.T) {
	g := smallOutput(t)
	records := map[string]map[string]json.RawMessage{}
	for _, f := range g.files {
		for _, r := range f.records {
			var id string
			_ = json.Unmarshal(r["eventID"], &id)
			records[id] = r
		}
	}
	events := func(name string) []string {
		for _, s := range g.manifest.Scenarios {
			if s.Name == name {
				var out []string
				for _, id := range s.EventIDs {
					out = append(out, string(mustJSON(t, records[id])))
				}
				return out
			}
		}
		t.Fatalf("no scenario %s", name)
		return nil
	}
	contains := func(name string, each bool, subs ...string) {
		t.Helper()
		evs := events(name)
		for _, sub := range subs {
			n := 0
			for _, e := range evs {
				if strings.Contains(e, sub) {
					n++
				}
			}
			if (each && n != len(evs)) || n == 0 {
				t.Errorf("scenario %s: %d of %d events contain %s", name, n, len(evs), sub)
			}
		}
	}
	contains("root-console-login", true, `"type":"Root"`, `"eventName":"ConsoleLogin"`, `"MFAUsed":"No"`)
	contains("root-api-calls", true, `"type":"Root"`)
	contains("console-login-failures", true, `"ConsoleLogin":"Failure"`, `"errorMessage":"Failed authentication"`)
	if n := len(events("console-login-failures")); n < 6 {
		t.Errorf("console-login-failures has %d events, want at least 6", n)
	}
	contains("cloudtrail-stopped", false, `"eventName":"StopLogging"`, `"eventName":"StartLogging"`)
	contains("cloudtrail-update-delete", false, `"eventName":"UpdateTrail"`, `"eventName":"DeleteTrail"`)
	contains("security-group-open-world", true, `"ipPermissions":{"items":[{`, `"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"`)
	contains("iam-admin-group", true, `"eventName":"AddUserToGroup"`, `"groupName":"Admins"`)
	contains("log-bucket-read", true, `"bucketName":"`+g.manifest.Organization.LogBucket+`"`)
	contains("log-bucket-read", false, `"eventName":"GetObject"`)
	contains("kms-key-deletion", false, `"eventName":"ScheduleKeyDeletion"`)
	contains("iam-backdoor-admin-user", false, `"eventName":"CreateUser"`, `"eventName":"CreateAccessKey"`,
		`"policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"`)
	contains("guardduty-detector-deleted", true, `"eventName":"DeleteDetector"`)
	contains("config-recorder-stopped", true, `"eventName":"StopConfigurationRecorder"`)
	contains("console-login-no-mfa", true, `"type":"IAMUser"`, `"MFAUsed":"No"`, `"ConsoleLogin":"Success"`)
	contains("xss-payload", true, `<script>alert(1)</script>`)
	contains("xss-payload", false, `"value":"\"><script>alert(1)</script>`)
	storm := events("access-denied-storm")
	denied := 0
	for _, e := range storm {
		if strings.Contains(e, `"errorCode":"AccessDenied"`) || strings.Contains(e, `"errorCode":"Client.UnauthorizedOperation"`) {
			denied++
		}
	}
	if denied < 20 {
		t.Errorf("access-denied-storm has %d denied calls", denied)
	}
	contains("new-account", false, `"eventName":"CreateAccount"`)
}

func mustJSON(t *testing.T, r map[string]json.RawMessage) []byte {
	t.Helper()
	// Re-encode without HTML escaping, so the test sees the text as CloudTrail wrote it.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(buf.Bytes())
}

func TestMissingAndNewAccount(t *testing.T) {
	g := smallOutput(t)
	if len(g.manifest.Missing) != 1 {
		t.Fatalf("missing = %+v, want one", g.manifest.Missing)
	}
	m := g.manifest.Missing[0]
	var joined AccountInfo
	for _, a := range g.manifest.Organization.Accounts {
		if a.Joined != "" {
			joined = a
		}
	}
	if joined.ID == "" || len(g.manifest.Organization.Accounts) != small.Accounts+1 {
		t.Fatalf("accounts = %+v, want %d and one joining", g.manifest.Organization.Accounts, small.Accounts+1)
	}
	lastDay := small.End
	if lastDay.IsZero() {
		lastDay = DefaultEnd
	}
	otherDays := 0
	for _, f := range g.files {
		k := cloudtrail.ParseKey(f.rel)
		day := k.Date().Format(time.DateOnly)
		if k.Account == m.Account && k.Region == m.Region {
			if day == m.Day {
				t.Errorf("%s: a file for the missing account, region and day", f.rel)
			} else {
				otherDays++
			}
		}
		if k.Account == joined.ID && day != lastDay.Format(time.DateOnly) {
			t.Errorf("%s: a file of the joining account before the last day", f.rel)
		}
	}
	if otherDays == 0 {
		t.Errorf("account %s region %s has no files at all", m.Account, m.Region)
	}
	dir := filepath.Join(g.dir, "AWSLogs", g.manifest.Organization.ID, m.Account, "CloudTrail", m.Region, strings.ReplaceAll(m.Day, "-", "/"))
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("folder %s exists", dir)
	}
}

func TestDeterministic(t *testing.T) {
	o := Options{Accounts: 3, Regions: 2, Days: 2, EventsPerDay: 1500, Seed: 11}
	run := func(o Options, workers int) map[string][]byte {
		t.Helper()
		o.Out, o.Workers = t.TempDir(), workers
		if _, err := Run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		return readTree(t, o.Out)
	}
	a, b := run(o, 1), run(o, 4)
	if len(a) != len(b) {
		t.Fatalf("runs wrote %d and %d files", len(a), len(b))
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Fatalf("%s differs between two runs with the same seed", name)
		}
	}
	o.Seed = 12
	c := run(o, 2)
	if bytes.Equal(a[ManifestName], c[ManifestName]) {
		t.Error("a different seed gave the same scenarios.json")
	}
	for name := range c {
		if _, ok := a[name]; ok && name != ManifestName {
			t.Fatalf("a different seed wrote the same file %s", name)
		}
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b, err := os.ReadFile(path)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOneDayNoEvents(t *testing.T) {
	o := Options{Out: t.TempDir(), Accounts: 1, Regions: 1, Days: 1, EventsPerDay: 0, End: time.Date(2024, 2, 29, 15, 0, 0, 0, time.FixedZone("x", 3600))}
	sum, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if sum != (Summary{}) {
		t.Errorf("summary %+v, want nothing", sum)
	}
	var m Manifest
	b, err := os.ReadFile(filepath.Join(o.Out, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.GeneratedWith.End != "2024-02-29" || m.Totals != (Totals{}) || len(m.Scenarios) != 0 || len(m.Missing) != 0 {
		t.Errorf("manifest %+v", m)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	err := Options{Accounts: 0, Regions: 99, Days: 0, EventsPerDay: -1, Workers: -1}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"output folder", "accounts 0", "regions 99", "days 0", "events per day -1", "workers -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := Run(context.Background(), Options{}); err == nil {
		t.Error("Run accepted empty options")
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{Out: t.TempDir(), Accounts: 2, Regions: 1, Days: 1, EventsPerDay: 1000})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestAppendTime(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, u := range []int64{0, -1, 951782400 /* 2000-02-29 */, 1711929599, 4102444800} {
		if got, want := string(appendTime(nil, u)), time.Unix(u, 0).UTC().Format("2006-01-02T15:04:05Z"); got != want {
			t.Errorf("appendTime(%d) = %s, want %s", u, got, want)
		}
	}
	for range 10000 {
		u := r.Int64N(4102444800)
		if got, want := string(appendTime(nil, u)), time.Unix(u, 0).UTC().Format("2006-01-02T15:04:05Z"); got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", u, got, want)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "new\nline\ttab\r\x00\x1f\x7f", "<script>alert(1)</script>&",
		"héllo wörld ✓ 😀", "bad \xff utf-8", "\u2028\u2029"} {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("appendString(%q) = %s: %v", s, b, err)
			continue
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); got != want {
			t.Errorf("appendString(%q) decodes to %q", s, got)
		}
		if strings.Contains(s, "<") && !bytes.Contains(b, []byte("<")) {
			t.Errorf("appendString(%q) = %s: HTML characters must stay as they are", s, b)
		}
	}
}

// BenchmarkGenerate writes 100,000 events per iteration.
func BenchmarkGenerate(b *testing.B) {
	o := Options{Accounts: 5, Regions: 3, Days: 1, EventsPerDay: 100_000, Seed: 1}
	var sum Summary
	for b.Loop() {
		o.Out = b.TempDir()
		var err error
		if sum, err = Run(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sum.Events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.SetBytes(sum.Bytes)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if smallGen != nil {
		os.RemoveAll(smallGen.dir)
	}
	os.Exit(code)
}

func TestKebab(t *testing.T) {
	for in, want := range map[string]string{"DescribeDBClusters": "describe-db-clusters", "GetObject": "get-object",
		"ListFunctions": "list-functions", "GetSecretValue": "get-secret-value", "DescribeVpcs": "describe-vpcs"} {
		if got := kebab(in); got != want {
			t.Errorf("kebab(%s) = %s, want %s", in, got, want)
		}
	}
}
