package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/cloudtrail"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

// writeTree creates the files (slash-separated paths) under a new temporary folder.
func writeTree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func listKeys(t *testing.T, src Source, f Filter) []string {
	t.Helper()
	var keys []string
	err := src.List(context.Background(), f, func(o Object) error {
		keys = append(keys, o.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", src, err)
	}
	return keys
}

const (
	orgA = "AWSLogs/o-abc123/111111111111/"
	orgB = "AWSLogs/o-abc123/222222222222/"
)

// localTree has, besides log files, files that only pruning keeps out: they sit in folders the filters
// exclude but are too short to parse as the layout, so Filter.Match alone would let them through.
var localTree = []string{
	orgA + "CloudTrail/us-east-1/2024/05/01/a1.json.gz",
	orgA + "CloudTrail/us-east-1/2024/05/02/a2.json.gz",
	orgA + "CloudTrail/us-east-1/2023/stray.json",               // pruned by the year
	orgA + "CloudTrail/eu-west-1/2024/05/01/a3.json.gz",         //
	orgA + "CloudTrail/eu-west-1/stray.json",                    // pruned by the region
	orgA + "CloudTrail-Insight/us-east-1/2024/05/01/i1.json.gz", // Insights events are read too
	orgA + "CloudTrail-Digest/us-east-1/2024/05/01/d1.json.gz",  // digests never
	orgB + "CloudTrail/us-east-1/2024/04/30/b1.json.gz",
	orgB + "stray.json", // pruned by the account
	orgB + "Config/us-east-1/2024/05/01/config.json.gz", // another service: never listed
	orgB + "Config/ConfigWritabilityCheckFile.json",     //
	"exports/x.json",
	"exports/y.jsonl.gz",
	"notes.txt",
	"scenarios.json",
	".hidden.json.gz",
}

// TestLocalList checks the walk (lexical order within each folder, so CloudTrail/ before
// CloudTrail-Insight/), the filters, and the pruning of excluded folders.
func TestLocalList(t *testing.T) {
	root := writeTree(t, localTree...)
	src, err := NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"no filter", Filter{}, []string{
			orgA + "CloudTrail/eu-west-1/2024/05/01/a3.json.gz",
			orgA + "CloudTrail/eu-west-1/stray.json",
			orgA + "CloudTrail/us-east-1/2023/stray.json",
			orgA + "CloudTrail/us-east-1/2024/05/01/a1.json.gz",
			orgA + "CloudTrail/us-east-1/2024/05/02/a2.json.gz",
			orgA + "CloudTrail-Insight/us-east-1/2024/05/01/i1.json.gz",
			orgB + "CloudTrail/us-east-1/2024/04/30/b1.json.gz",
			orgB + "stray.json",
			"exports/x.json",
			"exports/y.jsonl.gz",
		}},
		{"one day", Filter{Since: day("2024-05-01"), Until: day("2024-05-01")}, []string{
			orgA + "CloudTrail/eu-west-1/2024/05/01/a3.json.gz",
			orgA + "CloudTrail/eu-west-1/stray.json",
			orgA + "CloudTrail/us-east-1/2024/05/01/a1.json.gz",
			orgA + "CloudTrail-Insight/us-east-1/2024/05/01/i1.json.gz",
			orgB + "stray.json",
			"exports/x.json",
			"exports/y.jsonl.gz",
		}},
		{"account, region and days", Filter{
			Accounts: []string{"111111111111"}, Regions: []string{"us-east-1"},
			Since: day("2024-04-30"), Until: day("2024-05-01"),
		}, []string{
			orgA + "CloudTrail/us-east-1/2024/05/01/a1.json.gz",
			orgA + "CloudTrail-Insight/us-east-1/2024/05/01/i1.json.gz",
			"exports/x.json",
			"exports/y.jsonl.gz",
		}},
		{"since only", Filter{Since: day("2024-05-02")}, []string{
			orgA + "CloudTrail/eu-west-1/stray.json",
			orgA + "CloudTrail/us-east-1/2024/05/02/a2.json.gz",
			orgB + "stray.json",
			"exports/x.json",
			"exports/y.jsonl.gz",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, stray := range []string{orgA + "CloudTrail/us-east-1/2023/stray.json", orgA + "CloudTrail/eu-west-1/stray.json", orgB + "stray.json"} {
				if !tt.filter.Match(cloudtrail.ParseKey(stray)) {
					t.Fatalf("Match excludes %s: the test no longer shows pruning", stray)
				}
			}
			got := listKeys(t, src, tt.filter)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestLocalObject(t *testing.T) {
	root := writeTree(t, orgA+"CloudTrail/us-east-1/2024/05/01/a1.json.gz")
	src, err := NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	var objs []Object
	if err := src.List(context.Background(), Filter{}, func(o Object) error { objs = append(objs, o); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("got %d objects, want 1", len(objs))
	}
	o := objs[0]
	key := orgA + "CloudTrail/us-east-1/2024/05/01/a1.json.gz"
	if o.Key != key || o.URI != filepath.Join(root, filepath.FromSlash(key)) || o.Size != int64(len(key)) || o.Version == "" {
		t.Errorf("object = %+v", o)
	}
	if !o.Layout.InLayout || o.Layout.Account != "111111111111" || o.Layout.Org != "o-abc123" || o.Layout.Timestamp() != "2024/05/01" {
		t.Errorf("layout = %+v", o.Layout)
	}
	rc, err := src.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 100)
	n, _ := rc.Read(buf)
	if string(buf[:n]) != key {
		t.Errorf("content = %q", buf[:n])
	}

	// A single file is a source too.
	file, err := NewLocal(o.URI)
	if err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, file, Filter{}); len(got) != 1 || !strings.HasSuffix(got[0], "/a1.json.gz") {
		t.Errorf("file source lists %v", got)
	}
}

func TestLocalStopsOnError(t *testing.T) {
	src, err := NewLocal(writeTree(t, localTree...))
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err = src.List(context.Background(), Filter{}, func(Object) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List = %v after %d calls, want stop after 1", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := src.List(ctx, Filter{}, func(Object) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context = %v", err)
	}
}

func TestDirMayMatch(t *testing.T) {
	f := Filter{
		Accounts: []string{"111111111111"},
		Regions:  []string{"us-east-1"},
		Since:    day("2024-04-30"),
		Until:    day("2024-05-01"),
	}
	tests := []struct {
		dir  string
		want bool
	}{
		{"", true},
		{"exports/2023", true},
		{"logs/AWSLogs", true},
		{"AWSLogs/o-abc123", true},
		{"AWSLogs/111111111111", true},
		{"AWSLogs/222222222222", false},
		{"AWSLogs/o-abc123/222222222222", false},
		{"AWSLogs/not-an-account", true}, // off the layout: the keys below pass the filter
		{"AWSLogs/111111111111/CloudTrail", true},
		{"AWSLogs/111111111111/CloudTrail-Insight", true},
		{"AWSLogs/111111111111/CloudTrail-Digest", false},
		{"AWSLogs/111111111111/Config", false},
		{"AWSLogs/222222222222/Config", false},
		{"AWSLogs/o-abc123/111111111111/elasticloadbalancing/us-east-1", false},
		{"AWSLogs/111111111111/CloudTrail/us-east-1", true},
		{"AWSLogs/111111111111/CloudTrail/eu-west-1", false},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2024", true},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2023", false},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2025", false},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2024/04", true},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2024/05", true},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2024/03", false},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2024/04/29", false},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2024/04/30", true},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2024/05/01", true},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2024/05/02", false},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2024/05/02/deeper", false},
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2024/13", true}, // not a month: off the layout
		{"AWSLogs/111111111111/CloudTrail/us-east-1/2024/04/31", true},
		{"x/AWSLogs/111111111111/CloudTrail/us-east-1/2024/05/02", false},
	}
	for _, tt := range tests {
		if got := dirMayMatch(tt.dir, f); got != tt.want {
			t.Errorf("dirMayMatch(%q) = %v, want %v", tt.dir, got, tt.want)
		}
	}
	if !dirMayMatch("AWSLogs/222222222222/CloudTrail/eu-west-1/2020/01/01", Filter{}) {
		t.Error("the empty filter prunes")
	}
}

func TestDateFolders(t *testing.T) {
	tests := []struct {
		from, to string
		want     []string
	}{
		{"2024-05-01", "2024-05-01", []string{"2024/05/01/"}},
		{"2024-05-01", "2024-04-30", nil},
		{"2024-04-29", "2024-05-02", []string{"2024/04/29/", "2024/04/30/", "2024/05/01/", "2024/05/02/"}},
		{"2024-05-01", "2024-05-31", []string{"2024/05/"}},
		{"2024-02-01", "2024-02-29", []string{"2024/02/"}},
		{"2024-04-30", "2024-06-01", []string{"2024/04/30/", "2024/05/", "2024/06/01/"}},
		{"2023-12-31", "2025-01-01", []string{"2023/12/31/", "2024/", "2025/01/01/"}},
		{"2024-01-01", "2024-03-02", []string{"2024/01/", "2024/02/", "2024/03/01/", "2024/03/02/"}},
	}
	for _, tt := range tests {
		if got := dateFolders(day(tt.from), day(tt.to)); !slices.Equal(got, tt.want) {
			t.Errorf("dateFolders(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

// FuzzFolderAgreesWithKey checks that pruning never drops a key that List would pass: every folder above
// a wanted key in the layout may match the narrowest filter the key itself passes.
func FuzzFolderAgreesWithKey(f *testing.F) {
	for _, k := range localTree {
		f.Add(k)
	}
	f.Add("logs/AWSLogs/o-x/123456789012/CloudTrail-Insight/ap-south-1/2024/02/29/deeper/f.json")
	f.Add("AWSLogs/123456789012/CloudTrail/r/0000/01/01/f.gz")
	f.Fuzz(func(t *testing.T, key string) {
		if strings.Count(key, "AWSLogs") != 1 {
			return // keys with two AWSLogs folders parse from the last one; folders cannot know it
		}
		k := cloudtrail.ParseKey(key)
		if !k.InLayout || !wanted(key, k) {
			return
		}
		filters := []Filter{{}, {Accounts: []string{k.Account}, Regions: []string{k.Region}, Since: k.Date(), Until: k.Date()}}
		for _, flt := range filters {
			if !flt.Match(k) {
				t.Fatalf("key %q does not match its own filter", key)
			}
			for i := 0; i < len(key); i++ {
				if key[i] == '/' && !dirMayMatch(key[:i], flt) {
					t.Fatalf("folder %q of key %q pruned by %+v", key[:i], key, flt)
				}
			}
		}
	})
}
