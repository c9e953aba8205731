package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/trailwatch/trailwatch/internal/review"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/report -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; review the diff and rerun with -update:\n%s", name, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n- " + w + "\n+ " + g
		}
	}
	return ""
}

func render(t *testing.T, write func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGoldenFormats(t *testing.T) {
	rv := fixtureReview()
	sum := NewSummary(rv)
	golden(t, "report.md", render(t, func(b *bytes.Buffer) error { return Markdown(b, rv) }))
	golden(t, "findings.json", render(t, func(b *bytes.Buffer) error { return FindingsJSON(b, rv) }))
	golden(t, "summary.txt", render(t, func(b *bytes.Buffer) error { return SummaryText(b, sum) }))
	golden(t, "summary.html", render(t, func(b *bytes.Buffer) error { return SummaryHTML(b, sum) }))
	golden(t, "coverage.json", render(t, func(b *bytes.Buffer) error { return CoverageJSON(b, rv) }))
	golden(t, "run.json", render(t, func(b *bytes.Buffer) error { return RunJSON(b, rv) }))
}

// The Markdown report shows every hostile value as text: no raw HTML, no live Markdown link or image.
func TestMarkdownEscapesLogValues(t *testing.T) {
	md := string(render(t, func(b *bytes.Buffer) error { return Markdown(b, fixtureReview()) }))
	for _, bad := range []string{"<script", "<img", "](javascript:", "</script"} {
		if strings.Contains(strings.ToLower(md), bad) {
			t.Errorf("report.md contains %q", bad)
		}
	}
	if !strings.Contains(md, `attacker"&gt;&lt;img src=x onerror="window.\_\_pwned=2"&gt;`) {
		t.Errorf("the principal's markup is not shown escaped")
	}
}

// findings.json round-trips into the Review it documents, with its schema version.
func TestFindingsJSONRoundTrips(t *testing.T) {
	rv := fixtureReview()
	b := render(t, func(b *bytes.Buffer) error { return FindingsJSON(b, rv) })
	var back review.Review
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if back.Schema != review.Schema || len(back.Findings) != len(rv.Findings) || back.Findings[0].ID != rv.Findings[0].ID {
		t.Errorf("round trip: schema %q, %d findings", back.Schema, len(back.Findings))
	}
}

// Rule CSVs keep every value and defuse spreadsheet formulas.
func TestRuleCSVDefusesFormulas(t *testing.T) {
	rv := fixtureReview()
	f := rv.Findings[0]
	f.UserAgent = "=HYPERLINK(\"http://evil\",\"x\")"
	f.Principal = "@SUM(1+1)"
	b := render(t, func(b *bytes.Buffer) error { return RuleCSV(b, []review.Finding{f}) })
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	row := map[string]string{}
	for i, h := range recs[0] {
		row[h] = recs[1][i]
	}
	if row["user_agent"] != "'"+f.UserAgent || row["principal"] != "'"+f.Principal || row["event_id"] != f.EventID {
		t.Errorf("row = %v", row)
	}
}
