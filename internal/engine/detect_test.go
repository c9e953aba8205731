package engine_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/generate"
	"github.com/trailwatch/trailwatch/internal/ruletest"
	"github.com/trailwatch/trailwatch/internal/sigma"
	"github.com/trailwatch/trailwatch/internal/source"
	"github.com/trailwatch/trailwatch/internal/store"
	"github.com/trailwatch/trailwatch/rules"
)

// The engine reads the matching rows straight from the driver when it is given a *sql.DB, and through
// database/sql otherwise (a *sql.Conn here, another engine later): both give the same findings, and
// narrowing the window or the rules gives the subset it should.
func TestDetectSameThroughDriverAndDatabaseSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests 6,000 events")
	}
	ctx := context.Background()
	dir := t.TempDir()
	end := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if _, err := generate.Run(ctx, generate.Options{Out: filepath.Join(dir, "logs"), Accounts: 2, Regions: 1, Days: 2, End: end, EventsPerDay: 3000, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "tw.duckdb"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src, err := source.NewLocal(filepath.Join(dir, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Ingest(ctx, src, store.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Builtin(sigma.DuckDB{}, sigma.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	viaDriver, stats, err := set.Detect(ctx, st.DB, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(viaDriver) == 0 || stats.Candidates == 0 {
		t.Fatalf("no findings (%+v)", stats)
	}
	conn, err := st.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	viaSQL, _, err := set.Detect(ctx, conn, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(viaDriver, viaSQL) {
		t.Fatalf("%d findings through the driver, %d through database/sql, not the same", len(viaDriver), len(viaSQL))
	}

	// The last day alone: exactly the findings of that day (threshold rules aside, whose windows may
	// reach back).
	day := engine.Options{Since: end, Until: end.AddDate(0, 0, 1)}
	lastDay, _, err := set.Detect(ctx, st.DB, day)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, f := range viaDriver {
		if f.Rule.Correlation == nil && !f.Time.Before(day.Since) {
			want++
		}
	}
	got := 0
	for _, f := range lastDay {
		if f.Time.Before(day.Since) || !f.Time.Before(day.Until) {
			t.Errorf("finding outside the window: %s %s", f.Rule.Ref(), f.Time)
		}
		if f.Rule.Correlation == nil {
			got++
		}
	}
	if got != want {
		t.Errorf("last day: %d findings, want %d", got, want)
	}

	// One rule: its findings and no other's.
	r, ok := set.Lookup("root_console_login")
	if !ok {
		t.Fatal("no root_console_login")
	}
	only, _, err := set.Subset(r).Detect(ctx, st.DB, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range viaDriver {
		if f.Rule == r {
			n++
		}
	}
	if len(only) != n || n == 0 {
		t.Errorf("root_console_login alone: %d findings, %d in the whole run", len(only), n)
	}
}

// A finding's text comes back from the store packed into one string per event, each value prefixed with
// its length. Values from the logs are attacker-controlled: colons, digits, multi-byte characters, markup
// and empty strings must come back exactly as they were stored.
func TestFindingTextComesBackExactly(t *testing.T) {
	ctx := context.Background()
	hostile := `12:34:<script>alert("x")</script> ünï ☃ 7:`
	rec := []byte(`{"eventVersion":"1.09","eventTime":"2026-01-14T10:00:00Z","eventSource":"sts.amazonaws.com",
		"eventName":"GetCallerIdentity","awsRegion":"eu-west-3","recipientAccountId":"111122223333",
		"eventID":"3:ev","eventType":"AwsApiCall","sourceIPAddress":"9:9","userAgent":` + strconv.Quote(hostile) + `,
		"userIdentity":{"type":"IAMUser","userName":"a:b:1","arn":"arn:aws:iam::111122223333:user/a:b:1"},
		"errorCode":""}`)
	st, err := ruletest.Ingest(ctx, t.TempDir(), [][]byte{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set, err := rules.Builtin(sigma.DuckDB{}, sigma.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	r, ok := set.Lookup("markup_in_event_fields")
	if !ok {
		t.Fatal("no markup_in_event_fields")
	}
	found, _, err := set.Subset(r).Detect(ctx, st.DB, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("%d findings, want 1", len(found))
	}
	f := found[0]
	got := []string{f.Account, f.Region, f.Principal, f.PrincipalARN, f.IdentityType, f.EventSource, f.EventName, f.SourceIP, f.UserAgent, f.ErrorCode, f.EventID}
	want := []string{"111122223333", "eu-west-3", "a:b:1", "arn:aws:iam::111122223333:user/a:b:1", "IAMUser", "sts.amazonaws.com", "GetCallerIdentity", "9:9", hostile, "", "3:ev"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("finding text\n got %q\nwant %q", got, want)
	}
}
