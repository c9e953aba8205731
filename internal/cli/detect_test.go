package cli

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/rulefmt"
)

// TestWriteFindingsInParts checks that many findings, formatted in parts on several cores, come out
// exactly as one pass over them would write them, in both machine formats.
func TestWriteFindingsInParts(t *testing.T) {
	rules := []*engine.Rule{
		{Rule: &rulefmt.Rule{Name: "a", Level: "high", PCI: rulefmt.PCI{V4: []string{"10.2.1.2"}, V321: []string{"10.2.2"}}}},
		{Rule: &rulefmt.Rule{Name: "b", Level: "low"}},
	}
	var findings []engine.Finding
	t0 := time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC)
	for i := range 25_001 { // above the threshold, not a multiple of the parts
		findings = append(findings, engine.Finding{Rule: rules[i%2], Time: t0.Add(time.Duration(i) * time.Second),
			Account: "111122223333", Principal: fmt.Sprintf("user-%d,\"quoted\"\n", i), EventSource: "s3.amazonaws.com",
			EventName: "GetObject", EventID: fmt.Sprint(i)})
	}
	var csvWant bytes.Buffer
	cw := csv.NewWriter(&csvWant)
	_ = cw.Write(findingHeader)
	for _, f := range findings {
		_ = cw.Write(findingCells(f))
	}
	cw.Flush()
	var got bytes.Buffer
	if err := writeFindings(&got, findings, "csv"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), csvWant.Bytes()) {
		t.Fatalf("csv in parts differs from one pass (%d vs %d bytes)", got.Len(), csvWant.Len())
	}
	var one, parts bytes.Buffer
	if err := writeFindings(&one, findings[:9_999], "jsonl"); err != nil { // one pass
		t.Fatal(err)
	}
	if err := writeFindings(&parts, append(findings[:9_999:9_999], findings[9_999:]...), "jsonl"); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(parts.Bytes(), one.Bytes()) || bytes.Count(parts.Bytes(), []byte("\n")) != len(findings) {
		t.Fatalf("jsonl in parts: %d lines, want %d, and the first 9,999 as one pass writes them", bytes.Count(parts.Bytes(), []byte("\n")), len(findings))
	}
	// A failing writer ends the run with its error (the formatting goroutines stop, nothing hangs).
	if err := writeFindings(&failAfter{n: 3}, findings, "csv"); err == nil || err.Error() != "disk full" {
		t.Fatalf("write to a failing writer: %v, want disk full", err)
	}
}

// failAfter accepts n writes, then fails every write.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}
