package report

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/trailwatch/trailwatch/internal/review"
)

// SummaryLine is one requirement in the daily summary.
type SummaryLine struct {
	ID, Title  string
	Findings   int
	Suppressed int
	// Top are the principals with most findings, as "name (n)".
	Top []string
}

// Summary is the short daily message (in the spirit of a compliance report e-mail): per requirement, a
// count with the top principals, or "no findings".
type Summary struct {
	Subject    string
	Window     string
	Events     int64
	Lines      []SummaryLine
	Gaps       int
	Unreviewed []string
}

// NewSummary condenses a review. Informational rules and suppressed findings are not counted as findings.
func NewSummary(rv *review.Review) Summary {
	s := Summary{Window: rv.Window.Label, Events: rv.Events, Gaps: len(rv.Coverage.Gaps), Unreviewed: rv.Unreviewed}
	// Findings per requirement and principal (an account when a check names no principal), in one pass.
	byReq := map[string]map[string]int{}
	for _, f := range rv.Findings {
		if f.Suppressed != nil || f.Level == "informational" {
			continue
		}
		who := f.Principal
		if who == "" {
			who = f.Account
		}
		for i, id := range f.PCIv4 {
			if slices.Index(f.PCIv4, id) != i {
				continue
			}
			if byReq[id] == nil {
				byReq[id] = map[string]int{}
			}
			byReq[id][who]++
		}
	}
	total := 0
	for _, r := range rv.Requirements {
		if !r.Evidenced {
			continue
		}
		line := SummaryLine{ID: r.ID, Title: r.Title, Findings: r.Findings, Suppressed: r.Suppressed}
		by := byReq[r.ID]
		names := make([]string, 0, len(by))
		for k := range by {
			names = append(names, k)
		}
		sort.Slice(names, func(i, j int) bool {
			if by[names[i]] != by[names[j]] {
				return by[names[i]] > by[names[j]]
			}
			return names[i] < names[j]
		})
		for i, n := range names {
			if i == 3 {
				break
			}
			line.Top = append(line.Top, fmt.Sprintf("%s (%d)", n, by[n]))
		}
		total += r.Findings
		s.Lines = append(s.Lines, line)
	}
	s.Subject = fmt.Sprintf("trailwatch PCI DSS log review %s: %d findings", rv.Window.Label, total)
	if s.Gaps > 0 {
		s.Subject += fmt.Sprintf(", %d coverage gaps", s.Gaps)
	}
	return s
}

// SummaryText writes the summary as plain text.
func SummaryText(w io.Writer, s Summary) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "%s\n\nPCI DSS log review for %s: %d events examined.\n\n", s.Subject, s.Window, s.Events)
	for _, l := range s.Lines {
		fmt.Fprintf(b, "%s %s\n", l.ID, l.Title)
		switch {
		case l.Findings == 0 && l.Suppressed == 0:
			b.WriteString("  - no findings\n")
		case l.Findings == 0:
			fmt.Fprintf(b, "  - no findings (%d suppressed)\n", l.Suppressed)
		default:
			fmt.Fprintf(b, "  - %d findings; top principals: %s", l.Findings, strings.Join(l.Top, ", "))
			if l.Suppressed > 0 {
				fmt.Fprintf(b, " (%d suppressed)", l.Suppressed)
			}
			b.WriteString("\n")
		}
	}
	if s.Gaps > 0 {
		fmt.Fprintf(b, "\nLog coverage: %d gaps (see the report).\n", s.Gaps)
	} else {
		b.WriteString("\nLog coverage: no gaps.\n")
	}
	if len(s.Unreviewed) > 0 {
		fmt.Fprintf(b, "Not yet reviewed: %s.\n", strings.Join(s.Unreviewed, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var summaryHTML = template.Must(template.New("summary").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2933;max-width:720px">
<h2 style="font-size:18px">{{.Subject}}</h2>
<p>PCI DSS log review for <b>{{.Window}}</b>: {{.Events}} events examined.</p>
<table cellpadding="4" style="border-collapse:collapse;font-size:14px">
<tr style="background:#eef2f7"><th align="left">Requirement</th><th align="left">Result</th></tr>
{{range .Lines}}<tr style="border-top:1px solid #d9e2ec"><td valign="top"><b>{{.ID}}</b> {{.Title}}</td><td valign="top">
{{- if gt .Findings 0}}<span style="color:#b42318"><b>{{.Findings}} findings</b></span>; top principals: {{range $i, $p := .Top}}{{if $i}}, {{end}}{{$p}}{{end}}
{{- else}}<span style="color:#1a7f37">no findings</span>{{end}}{{if gt .Suppressed 0}} ({{.Suppressed}} suppressed){{end}}</td></tr>
{{end}}</table>
<p>Log coverage: {{if gt .Gaps 0}}<b style="color:#b42318">{{.Gaps}} gaps</b> (see the report){{else}}no gaps{{end}}.</p>
{{if .Unreviewed}}<p>Not yet reviewed: {{range $i, $d := .Unreviewed}}{{if $i}}, {{end}}{{$d}}{{end}}.</p>{{end}}
</body></html>
`))

// SummaryHTML writes the summary as a small HTML document fit for an e-mail body.
func SummaryHTML(w io.Writer, s Summary) error { return summaryHTML.Execute(w, s) }
