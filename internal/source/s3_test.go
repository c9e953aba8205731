package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/trailwatch/trailwatch/internal/testenv"
)

// ctKey returns the key CloudTrail delivers a file of one account, region and day to.
func ctKey(prefix, org, account, service, region, date, suffix string) string {
	dir := prefix + "AWSLogs/"
	if org != "" {
		dir += org + "/"
	}
	dir += account + "/" + service + "/" + region + "/" + strings.ReplaceAll(date, "-", "/") + "/"
	stamp := strings.ReplaceAll(date, "-", "") + "T0005Z"
	if service == "CloudTrail-Digest" {
		return dir + account + "_CloudTrail-Digest_" + region + "_trail_" + region + "_" + stamp + ".json.gz"
	}
	return dir + account + "_" + service + "_" + region + "_" + stamp + "_" + suffix + ".json.gz"
}

const (
	orgID = "o-abc123"
	acctA = "111111111111"
	acctB = "222222222222"
	acctS = "333333333333"
)

// The org-trail bucket: an organisation trail with two accounts, Insights, a digest, another service's logs
// and one exported file outside the layout.
var (
	orgA1 = ctKey("", orgID, acctA, "CloudTrail", "us-east-1", "2024-05-01", "a1")
	orgA2 = ctKey("", orgID, acctA, "CloudTrail", "us-east-1", "2024-05-02", "a2")
	orgA3 = ctKey("", orgID, acctA, "CloudTrail", "eu-west-1", "2024-05-01", "a3")
	orgAI = ctKey("", orgID, acctA, "CloudTrail-Insight", "us-east-1", "2024-05-01", "ai")
	orgAD = ctKey("", orgID, acctA, "CloudTrail-Digest", "us-east-1", "2024-05-01", "")
	orgAC = "AWSLogs/" + orgID + "/" + acctA + "/Config/us-east-1/2024/5/1/ConfigSnapshot/snap.json.gz"
	orgB0 = ctKey("", orgID, acctB, "CloudTrail", "us-east-1", "2023-12-31", "b0")
	orgB1 = ctKey("", orgID, acctB, "CloudTrail", "us-east-1", "2024-04-30", "b1")
	orgB2 = ctKey("", orgID, acctB, "CloudTrail", "us-east-1", "2024-05-01", "b2")
	orgX  = "exports/extra.json.gz"
)

// The single-trail bucket: one account's trail under the prefix team/trail/, and an unrelated file.
var (
	oneS1 = ctKey("team/trail/", "", acctS, "CloudTrail", "us-west-2", "2024-05-01", "s1")
	oneS2 = ctKey("team/trail/", "", acctS, "CloudTrail", "us-west-2", "2024-05-03", "s2")
	oneS3 = ctKey("team/trail/", "", acctS, "CloudTrail", "us-west-2", "2024-06-15", "s3")
	oneSD = ctKey("team/trail/", "", acctS, "CloudTrail-Digest", "us-west-2", "2024-05-01", "")
	oneO  = "other/unrelated.json.gz"
)

// manyRegions are more regions than List lists at once, to check the order objects come back in.
var manyRegions = []string{
	"af-south-1", "ap-east-1", "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ca-central-1",
	"eu-central-1", "eu-north-1", "eu-west-1", "me-south-1", "sa-east-1", "us-east-1", "us-west-2",
}

// recorder notes every ListObjectsV2 request on its way to the server.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []string // "prefix|delimiter"
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if q := req.URL.Query(); q.Get("list-type") == "2" {
		r.mu.Lock()
		r.reqs = append(r.reqs, q.Get("prefix")+"|"+q.Get("delimiter"))
		r.mu.Unlock()
	}
	return r.base.RoundTrip(req)
}

// listings returns the prefixes listed with the delimiter (empty: the recursive listings), sorted.
func (r *recorder) listings(delimiter string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		p, d, _ := strings.Cut(q, "|")
		if d == delimiter {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

func TestS3(t *testing.T) {
	m := testenv.StartMinIO(t)
	// The standard credential chain finds MinIO's keys in the environment, and nothing else.
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, empty)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
	}

	put := func(bucket string, keys ...string) {
		m.MakeBucket(t, bucket)
		for _, k := range keys {
			m.Put(t, bucket, k, []byte("content of "+k))
		}
	}
	put("org-trail", orgA1, orgA2, orgA3, orgAI, orgAD, orgAC, orgB0, orgB1, orgB2, orgX)
	put("single-trail", oneS1, oneS2, oneS3, oneSD, oneO)
	put("exports", "2024-05-01/events.json.gz", "2024-05-02/events.jsonl", "notes.txt", "gen/scenarios.json", "old-AWSLogs/f.json.gz")
	var many []string
	for _, r := range manyRegions {
		many = append(many,
			ctKey("", "", acctS, "CloudTrail", r, "2024-05-01", "x"),
			ctKey("", "", acctS, "CloudTrail", r, "2024-05-01", "y"),
			ctKey("", "", acctS, "CloudTrail", r, "2024-05-02", "z"))
	}
	put("many-regions", many...)

	open := func(t *testing.T, location string) (*S3, *recorder) {
		t.Helper()
		rec := &recorder{base: http.DefaultTransport}
		src, err := newS3(context.Background(), location, Options{Endpoint: m.Endpoint, Region: "us-east-1"},
			func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: rec} })
		if err != nil {
			t.Fatal(err)
		}
		return src, rec
	}
	list := func(t *testing.T, src Source, f Filter) []Object {
		t.Helper()
		var objs []Object
		if err := src.List(context.Background(), f, func(o Object) error {
			objs = append(objs, o)
			return nil
		}); err != nil {
			t.Fatalf("list %s: %v", src, err)
		}
		return objs
	}
	keysOf := func(objs []Object) []string {
		var keys []string
		for _, o := range objs {
			keys = append(keys, o.Key)
		}
		return keys
	}
	same := func(t *testing.T, what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s:\ngot\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	oneDay := Filter{Since: day("2024-05-01"), Until: day("2024-05-01")}

	// Listings with "/" that discover the whole org-trail bucket: digests and Config are never listed.
	orgDiscovery := []string{
		"AWSLogs/",
		"AWSLogs/o-abc123/",
		"AWSLogs/o-abc123/111111111111/",
		"AWSLogs/o-abc123/111111111111/CloudTrail-Insight/",
		"AWSLogs/o-abc123/111111111111/CloudTrail/",
		"AWSLogs/o-abc123/222222222222/",
		"AWSLogs/o-abc123/222222222222/CloudTrail/",
	}

	tests := []struct {
		name      string
		location  string
		filter    Filter
		now       string   // today, for a filter without Until
		want      []string // keys, in the order fn sees them
		discovery []string // prefixes listed with "/"
		recursive []string // prefixes listed without a delimiter
		search    []string // prefixes listed with "AWSLogs/"
	}{{
		name:      "org trail, no filter",
		location:  "s3://org-trail",
		want:      []string{orgX, orgAI, orgA3, orgA1, orgA2, orgB0, orgB1, orgB2},
		search:    []string{"", "exports/"},
		discovery: orgDiscovery,
		recursive: []string{
			"AWSLogs/o-abc123/111111111111/CloudTrail-Insight/us-east-1/",
			"AWSLogs/o-abc123/111111111111/CloudTrail/eu-west-1/",
			"AWSLogs/o-abc123/111111111111/CloudTrail/us-east-1/",
			"AWSLogs/o-abc123/222222222222/CloudTrail/us-east-1/",
		},
	}, {
		name:      "org trail, one day",
		location:  "s3://org-trail/",
		filter:    oneDay,
		want:      []string{orgX, orgAI, orgA3, orgA1, orgB2},
		search:    []string{"", "exports/"},
		discovery: orgDiscovery,
		recursive: []string{
			"AWSLogs/o-abc123/111111111111/CloudTrail-Insight/us-east-1/2024/05/01/",
			"AWSLogs/o-abc123/111111111111/CloudTrail/eu-west-1/2024/05/01/",
			"AWSLogs/o-abc123/111111111111/CloudTrail/us-east-1/2024/05/01/",
			"AWSLogs/o-abc123/222222222222/CloudTrail/us-east-1/2024/05/01/",
		},
	}, {
		name:     "org trail, one account and region, two days",
		location: "s3://org-trail/AWSLogs/",
		filter: Filter{Accounts: []string{acctB}, Regions: []string{"us-east-1"},
			Since: day("2024-04-30"), Until: day("2024-05-01")},
		want: []string{orgB1, orgB2},
		discovery: []string{
			"AWSLogs/",
			"AWSLogs/o-abc123/",
			"AWSLogs/o-abc123/222222222222/",
			"AWSLogs/o-abc123/222222222222/CloudTrail/",
		},
		recursive: []string{
			"AWSLogs/o-abc123/222222222222/CloudTrail/us-east-1/2024/04/30/",
			"AWSLogs/o-abc123/222222222222/CloudTrail/us-east-1/2024/05/01/",
		},
	}, {
		name:      "org trail, from an account folder",
		location:  "s3://org-trail/AWSLogs/o-abc123/111111111111",
		filter:    Filter{Regions: []string{"us-east-1"}},
		want:      []string{orgAI, orgA1, orgA2},
		discovery: []string{"AWSLogs/o-abc123/111111111111/", "AWSLogs/o-abc123/111111111111/CloudTrail-Insight/", "AWSLogs/o-abc123/111111111111/CloudTrail/"},
		recursive: []string{"AWSLogs/o-abc123/111111111111/CloudTrail-Insight/us-east-1/", "AWSLogs/o-abc123/111111111111/CloudTrail/us-east-1/"},
	}, {
		name:      "prefix before AWSLogs, one day",
		location:  "s3://single-trail/team/trail",
		filter:    oneDay,
		want:      []string{oneS1},
		search:    []string{"team/trail/"},
		discovery: []string{"team/trail/AWSLogs/", "team/trail/AWSLogs/333333333333/", "team/trail/AWSLogs/333333333333/CloudTrail/"},
		recursive: []string{"team/trail/AWSLogs/333333333333/CloudTrail/us-west-2/2024/05/01/"},
	}, {
		name:      "bucket root two folders above AWSLogs, one month",
		location:  "s3://single-trail",
		filter:    Filter{Since: day("2024-05-01"), Until: day("2024-05-31")},
		want:      []string{oneO, oneS1, oneS2},
		search:    []string{"", "other/", "team/", "team/trail/"},
		discovery: []string{"team/trail/AWSLogs/", "team/trail/AWSLogs/333333333333/", "team/trail/AWSLogs/333333333333/CloudTrail/"},
		recursive: []string{"team/trail/AWSLogs/333333333333/CloudTrail/us-west-2/2024/05/"},
	}, {
		name:      "since without until lists up to today",
		location:  "s3://single-trail/team/trail/",
		filter:    Filter{Since: day("2024-04-30")},
		now:       "2024-05-02",
		want:      []string{oneS1},
		search:    []string{"team/trail/"},
		discovery: []string{"team/trail/AWSLogs/", "team/trail/AWSLogs/333333333333/", "team/trail/AWSLogs/333333333333/CloudTrail/"},
		recursive: []string{
			"team/trail/AWSLogs/333333333333/CloudTrail/us-west-2/2024/04/30/",
			"team/trail/AWSLogs/333333333333/CloudTrail/us-west-2/2024/05/01/",
			"team/trail/AWSLogs/333333333333/CloudTrail/us-west-2/2024/05/02/",
		},
	}, {
		name:      "from a month folder",
		location:  "s3://single-trail/team/trail/AWSLogs/333333333333/CloudTrail/us-west-2/2024/05/",
		filter:    Filter{Since: day("2024-04-01"), Until: day("2024-06-30")},
		want:      []string{oneS1, oneS2},
		recursive: []string{"team/trail/AWSLogs/333333333333/CloudTrail/us-west-2/2024/05/"},
	}, {
		name:      "one object",
		location:  "s3://single-trail/" + oneO,
		filter:    oneDay,
		want:      []string{oneO},
		recursive: []string{oneO},
	}, {
		name:     "exported files outside the layout",
		location: "s3://exports",
		filter:   oneDay, // says nothing about keys outside the layout
		want:     []string{"2024-05-01/events.json.gz", "2024-05-02/events.jsonl", "old-AWSLogs/f.json.gz"},
		// The folders are walked (to a depth of 4) in search of AWSLogs/; "old-AWSLogs/" is no AWSLogs folder.
		search: []string{"", "2024-05-01/", "2024-05-02/", "gen/", "old-AWSLogs/"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, rec := open(t, tt.location)
			if tt.now != "" {
				src.now = func() time.Time { return day(tt.now).Add(13 * time.Hour) }
			}
			same(t, "objects", keysOf(list(t, src, tt.filter)), tt.want)
			walked := append(append([]string{}, tt.search...), tt.discovery...)
			slices.Sort(walked)
			same(t, "folder listings (the search for AWSLogs/, then discovery)", rec.listings("/"), walked)
			same(t, "recursive listings", rec.listings(""), tt.recursive)
			for _, q := range rec.all() {
				if strings.Contains(q, "CloudTrail-Digest") || strings.Contains(q, "/Config/") {
					t.Errorf("listed %q", q)
				}
			}
			if t.Failed() {
				t.Logf("requests: %q", rec.all())
			}
		})
	}

	t.Run("one day lists only that day", func(t *testing.T) {
		src, rec := open(t, "s3://many-regions")
		got := keysOf(list(t, src, oneDay))
		var want []string
		for _, k := range many {
			if strings.Contains(k, "/2024/05/01/") {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		same(t, "objects, in key order", got, want)
		recursive := rec.listings("")
		if len(recursive) != len(manyRegions) {
			t.Errorf("%d recursive listings, want one per region (%d): %q", len(recursive), len(manyRegions), recursive)
		}
		for _, p := range recursive {
			if !strings.HasSuffix(p, "/2024/05/01/") {
				t.Errorf("listed %q, outside the day", p)
			}
		}
		if n := len(rec.all()); n != 1+3+len(manyRegions) {
			t.Errorf("%d requests, want %d", n, 1+3+len(manyRegions))
		}
	})

	t.Run("object fields and open", func(t *testing.T) {
		src, _ := open(t, "s3://single-trail/team/trail")
		objs := list(t, src, oneDay)
		if len(objs) != 1 {
			t.Fatalf("got %d objects, want 1", len(objs))
		}
		o := objs[0]
		head, err := m.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("single-trail"), Key: aws.String(oneS1)})
		if err != nil {
			t.Fatal(err)
		}
		body := "content of " + oneS1
		if o.URI != "s3://single-trail/"+oneS1 || o.Key != oneS1 || o.Size != int64(len(body)) {
			t.Errorf("object = %+v", o)
		}
		if etag := aws.ToString(head.ETag); o.Version == "" || strings.Contains(o.Version, `"`) || `"`+o.Version+`"` != etag {
			t.Errorf("version %q, ETag %s", o.Version, etag)
		}
		if !o.Layout.InLayout || o.Layout.Account != acctS || o.Layout.Region != "us-west-2" || o.Layout.Prefix != "team/trail" {
			t.Errorf("layout = %+v", o.Layout)
		}
		rc, err := src.Open(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(data) != body {
			t.Errorf("open: %q, %v", data, err)
		}
		if src.String() != "s3://single-trail/team/trail" {
			t.Errorf("String() = %q", src.String())
		}

		_, err = src.Open(context.Background(), Object{Key: "team/trail/missing.json.gz"})
		if err == nil || !strings.HasPrefix(err.Error(), "open s3://single-trail/team/trail/missing.json.gz: ") || apiCode(err) != "NoSuchKey" {
			t.Errorf("open a missing key: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := src.Open(ctx, o); !errors.Is(err, context.Canceled) {
			t.Errorf("open with a cancelled context: %v", err)
		}
	})

	t.Run("through New", func(t *testing.T) {
		src, err := New(context.Background(), "s3://org-trail/AWSLogs/o-abc123/222222222222/", Options{Endpoint: m.Endpoint})
		if err != nil {
			t.Fatal(err)
		}
		same(t, "objects", keysOf(list(t, src, Filter{Since: day("2024-01-01")})), []string{orgB1, orgB2})
	})

	t.Run("missing bucket", func(t *testing.T) {
		for _, loc := range []string{"s3://no-such-bucket", "s3://no-such-bucket/logs/AWSLogs/", "s3://no-such-bucket/exports/x.json"} {
			src, _ := open(t, loc)
			err := src.List(context.Background(), oneDay, func(Object) error { return nil })
			if err == nil || !strings.HasPrefix(err.Error(), "list s3://no-such-bucket/") || apiCode(err) != "NoSuchBucket" {
				t.Errorf("%s: %v", loc, err)
			}
		}
	})

	t.Run("fn error stops the listing", func(t *testing.T) {
		src, _ := open(t, "s3://many-regions")
		stop := errors.New("stop")
		calls := 0
		err := src.List(context.Background(), oneDay, func(Object) error {
			if calls++; calls == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 3 {
			t.Errorf("List = %v after %d calls", err, calls)
		}
		ctx, cancel := context.WithCancel(context.Background())
		calls = 0
		err = src.List(ctx, Filter{}, func(Object) error {
			calls++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("List after cancel = %v (%d calls)", err, calls)
		}
	})

	t.Run("oldest days, S3 and the same layout in a folder", func(t *testing.T) {
		day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
		org := []Oldest{{acctA, "eu-west-1", day("2024-05-01")}, {acctA, "us-east-1", day("2024-05-01")}, {acctB, "us-east-1", day("2023-12-31")}}
		for _, c := range []struct {
			location string
			keys     []string
			want     []Oldest
		}{
			{"s3://org-trail", []string{orgA1, orgA2, orgA3, orgAI, orgAD, orgAC, orgB0, orgB1, orgB2, orgX}, org},
			{"s3://org-trail/AWSLogs/" + orgID + "/", nil, org},
			{"s3://single-trail/team/trail/", []string{oneS1, oneS2, oneS3, oneSD, oneO}, []Oldest{{acctS, "us-west-2", day("2024-05-01")}}},
		} {
			src, _ := open(t, c.location)
			got, err := src.OldestDays(context.Background())
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("%s: OldestDays = %v, %v; want %v", c.location, got, err, c.want)
			}
			if c.keys == nil {
				continue
			}
			dir := t.TempDir()
			for _, k := range c.keys {
				p := filepath.Join(dir, filepath.FromSlash(k))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			local, err := NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err = local.OldestDays(context.Background())
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("folder with %s's keys: OldestDays = %v, %v; want %v", c.location, got, err, c.want)
			}
		}
	})

	t.Run("bad locations", func(t *testing.T) {
		for _, loc := range []string{"s3://", "s3:///prefix"} {
			if _, err := NewS3(context.Background(), loc, Options{}); err == nil {
				t.Errorf("NewS3(%q) succeeded", loc)
			}
		}
	})
}

// apiCode returns the S3 error code in err's chain, if any.
func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return fmt.Sprint(err)
}
