package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/review"
)

// MarkdownDetail is how many findings of a rule report.md lists.
const MarkdownDetail = 20

// Markdown writes report.md: the review as a document an assessor can read in any viewer. Every value
// from the logs is escaped, so no Markdown or HTML in them takes effect.
func Markdown(w io.Writer, rv *review.Review) error { return markdownWith(w, rv, ByRule(rv.Findings)) }

// markdownWith is Markdown with the findings already grouped by rule.
func markdownWith(w io.Writer, rv *review.Review, groups []RuleFindings) error {
	b := &strings.Builder{}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("# PCI DSS daily log review: %s\n\n", md(rv.Window.Label))
	p("| | |\n|---|---|\n")
	p("| Window | %s to %s (%s) |\n", rv.Window.Since.UTC().Format(time.RFC3339), rv.Window.Until.UTC().Format(time.RFC3339), md(rv.Window.TimeZone))
	p("| Events examined | %d |\n", rv.Events)
	p("| Rules run | %d (rule set %s) |\n", rv.Rules, short(rv.RuleSet))
	p("| Sources | %s |\n", md(strings.Join(rv.Sources, ", ")))
	p("| trailwatch | %s |\n", md(rv.Version))
	p("| Run | %s to %s |\n\n", rv.Started.UTC().Format(time.RFC3339), rv.Ended.UTC().Format(time.RFC3339))
	if len(rv.Unreviewed) > 0 {
		p("**Earlier days not yet reviewed:** %s\n\n", md(strings.Join(rv.Unreviewed, ", ")))
	}

	p("## PCI DSS requirement 10\n\n")
	p("| v4.0.1 | v3.2.1 | Requirement | Status | Findings | Suppressed |\n|---|---|---|---|---:|---:|\n")
	for _, r := range rv.Requirements {
		status := r.Status()
		if r.Note != "" && !r.Evidenced {
			status += ": " + r.Note
		}
		p("| %s | %s | %s | %s | %d | %d |\n", r.ID, strings.Join(r.V321, ", "), md(r.Title), md(status), r.Findings, r.Suppressed)
	}

	p("\n## Log coverage\n\n")
	cov := rv.Coverage
	p("Expected accounts: %s. Expected regions: %s (%s).\n\n", md(list(cov.ExpectedAccounts)), md(list(cov.ExpectedRegions)), md(cov.ExpectedFrom))
	p("| Account | Region | Hours with log files | Events |\n|---|---|---:|---:|\n")
	for _, c := range cov.Cells {
		hours, events := 0, int64(0)
		for i := range c.Files {
			if c.Files[i] > 0 || c.Events[i] > 0 {
				hours++
			}
			events += c.Events[i]
		}
		p("| %s | %s | %d of %d | %d |\n", md(c.Account), md(c.Region), hours, len(cov.Hours), events)
	}
	if len(cov.Gaps) == 0 {
		p("\nNo gaps: every expected account and region delivered logs every hour.\n")
	} else {
		p("\nGaps:\n\n")
		for _, g := range cov.Gaps {
			what := "no log files"
			if g.Silent {
				what = "silent for the whole window"
			}
			p("- %s %s: %s from %s to %s\n", md(g.Account), md(g.Region), what, g.From.UTC().Format("2006-01-02 15:04Z"), g.Until.UTC().Format("2006-01-02 15:04Z"))
		}
	}
	if len(cov.NewAccounts) > 0 {
		p("\nAccounts seen for the first time: %s\n", md(strings.Join(cov.NewAccounts, ", ")))
	}

	p("\n## Retention (10.5.1)\n\n| Account | Region | Oldest day in store | Days in store | Days available | Problems |\n|---|---|---|---:|---:|---|\n")
	for _, r := range rv.Retention {
		probs := "none"
		if len(r.Problems) > 0 {
			probs = strings.Join(r.Problems, "; ")
		}
		p("| %s | %s | %s | %d | %d | %s |\n", md(r.Account), md(r.Region), r.OldestInStore, r.StoreDays, r.AvailableDays, md(probs))
	}

	p("\n## Suppressions (10.4.3)\n\n")
	if len(rv.Suppressions) == 0 {
		p("No suppressions are configured.\n")
	} else {
		p("| ID | Rule | Owner | Reason | Expires | Status | Findings |\n|---|---|---|---|---|---|---:|\n")
		for _, s := range rv.Suppressions {
			status := "active"
			if s.Expired {
				status = "**expired: no longer applied**"
			}
			p("| %s | %s | %s | %s | %s | %s | %d |\n", md(s.ID), md(s.Rule), md(s.Owner), md(s.Reason), md(s.Expires), status, s.Matched)
		}
	}

	p("\n## Findings\n\n")
	if len(groups) == 0 {
		p("No findings.\n")
	}
	for _, g := range groups {
		p("### %s: %s\n\n", md(g.Rule), md(g.Title))
		p("Level %s; PCI DSS v4.0.1 %s, v3.2.1 %s; %d findings", g.Level, md(strings.Join(g.PCIv4, ", ")), md(strings.Join(g.PCIv321, ", ")), len(g.Findings))
		if g.Suppressed > 0 {
			p(" (%d suppressed)", g.Suppressed)
		}
		p(".\n\n| Time (UTC) | Account | Region | Principal | Event | Source IP | Event ID | Note |\n|---|---|---|---|---|---|---|---|\n")
		for i, f := range g.Findings {
			if i == MarkdownDetail {
				break
			}
			event := strings.TrimSuffix(f.EventSource, ".amazonaws.com")
			if f.EventName != "" {
				event += ":" + f.EventName
			}
			if f.ErrorCode != "" {
				event += " (" + f.ErrorCode + ")"
			}
			note := f.Detail
			if f.Count > 0 {
				note = strings.TrimSpace(fmt.Sprintf("%d events %s", f.Count, note))
			}
			if f.Suppressed != nil {
				note = strings.TrimSpace(note + " suppressed by " + f.Suppressed.ID + ": " + f.Suppressed.Reason)
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", f.Time.UTC().Format("2006-01-02 15:04:05"), md(f.Account), md(f.Region),
				md(f.Principal), md(event), md(f.SourceIP), md(f.EventID), md(note))
		}
		if n := len(g.Findings) - MarkdownDetail; n > 0 {
			p("\n%d more in findings/%s.\n", n, md(CSVName(g.Rule)))
		}
		p("\n")
	}
	p("## This bundle\n\nThe exact SQL of every rule is in queries.sql; every finding in findings.json and findings/<rule>.csv; coverage in coverage.json; the run in run.json. manifest.json holds the SHA-256 of every file and of the previous day's manifest; check it with `trailwatch evidence verify`.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

// md escapes text for a Markdown table cell: HTML is neutralised and Markdown punctuation is literal.
func md(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\n', '\r':
			b.WriteByte(' ')
		case '\\', '`', '*', '_', '[', ']', '(', ')', '#', '|', '!', '{', '}', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
