package report

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trailwatch/trailwatch/internal/review"
)

// HTMLDetail is how many findings of a rule report.html shows in detail; the rest are in the rule's CSV.
const HTMLDetail = 50

// HTMLEventDetail is how many of those findings also show their event (request parameters, response
// elements and so on); the events of the others are in findings.json. Events are most of a finding's size:
// with all 50 shown, 150 busy rules with events of usual size make a 16 MB report instead of 8 MB.
const HTMLEventDetail = 10

// htmlPayloadMax caps each request, response or other event block of a finding, so that a few huge events
// cannot bloat the file; findings.json has them whole.
const htmlPayloadMax = 4 << 10

// htmlPayloadOneLine is the longest JSON payload shown on one line; longer ones are indented.
const htmlPayloadOneLine = 100

// htmlEventIDsMax caps the event ids listed for a threshold finding.
const htmlEventIDsMax = 10

var (
	//go:embed templates/report.html.tmpl
	reportHTMLText string
	//go:embed templates/report.js
	reportJS string
	//go:embed assets/chart.umd.min.js
	chartJS string
	//go:embed assets/chart.js-LICENSE.md
	chartJSLicense string

	reportHTML = template.Must(template.New("report.html").Parse(reportHTMLText))

	chartJSBanner = regexp.MustCompile(`Chart\.js v(\d+\.\d+\.\d+[^\s*]*)`)
)

// HTML writes report.html: the whole review as one self-contained page that opens offline in any browser.
// The styles, Chart.js and the page's own script are inlined; a Content-Security-Policy allows only those
// two scripts and no fetch of anything. Every value from the logs reaches the page through html/template's
// escaping, and the chart data as JSON in a non-executed script element.
func HTML(w io.Writer, rv *review.Review) error {
	if rv == nil {
		return errors.New("write report.html: no review")
	}
	return htmlWith(w, rv, ByRule(rv.Findings))
}

// htmlWith is HTML with the findings already grouped by rule.
func htmlWith(w io.Writer, rv *review.Review, groups []RuleFindings) error {
	lib, err := inlineScript(chartJS)
	if err != nil {
		return fmt.Errorf("write report.html: chart.js: %w", err)
	}
	page, err := inlineScript(reportJS)
	if err != nil {
		return fmt.Errorf("write report.html: report.js: %w", err)
	}
	p := newHTMLPage(rv, groups)
	p.ChartJS, p.PageJS = lib, page
	p.CSP = "default-src 'none'; script-src " + scriptHash(chartJS) + " " + scriptHash(reportJS) +
		"; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
	if err := reportHTML.Execute(w, p); err != nil {
		return fmt.Errorf("write report.html: %w", err)
	}
	return nil
}

// inlineScript vets trusted script text (ours or the vendored Chart.js, never data) for a <script> element:
// it must hold nothing that ends the element or changes how the HTML parser reads it.
func inlineScript(src string) (template.JS, error) {
	l := strings.ToLower(src)
	for _, bad := range []string{"</script", "<script", "<!--"} {
		if strings.Contains(l, bad) {
			return "", fmt.Errorf("cannot inline: contains %q", bad)
		}
	}
	return template.JS(src), nil
}

// scriptHash is a CSP source expression allowing an inline script with exactly this text.
func scriptHash(src string) string {
	sum := sha256.Sum256([]byte(src))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// chartJSVersion is the version in the banner of the embedded Chart.js.
func chartJSVersion() string {
	if m := chartJSBanner.FindStringSubmatch(chartJS); m != nil {
		return m[1]
	}
	return "unknown"
}

// htmlPage is what the template gets: display-ready strings, nothing it does not show.
type htmlPage struct {
	Window, TimeZone, Since, Until, Generated string
	Version, RuleSet, Events, RulesRun        string
	Sources, Unreviewed                       []string

	Findings, Suppressed, ReqsWithFindings, Gaps, RetentionProblems int

	Requirements []htmlRequirement
	Charts       []htmlChart
	ChartData    map[string]htmlSeries
	Coverage     htmlCoverage
	Retention    []review.Retention
	Suppressions []review.SuppressionNote
	Rules        []htmlRule
	Detail       int
	EventDetail  int
	Files        []htmlFile

	CSP                           string
	ChartJS, PageJS               template.JS
	ChartJSVersion, ChartJSNotice string
}

type htmlRequirement struct {
	ID, V321, Title, Status, Class, Note string
	Findings, Suppressed                 int
	Rules                                []string
}

type htmlChart struct {
	ID, Title, Note, Axis, Color, LabelName string
	Points                                  []htmlField
}

// htmlSeries is one chart's data as the page script reads it.
type htmlSeries struct {
	Labels []string `json:"labels"`
	Values []int64  `json:"values"`
}

type htmlCoverage struct {
	ExpectedAccounts, ExpectedRegions, ExpectedFrom string
	Hours                                           []string
	Rows                                            []htmlCoverageRow
	Gaps                                            []htmlGap
	NewAccounts                                     []string
}

type htmlCoverageRow struct {
	Account, Region, Events string
	Cells                   []htmlCell
}

type htmlCell struct{ Text, Class string }

type htmlGap struct {
	Account, Region, From, Until string
	Hours                        int
	Silent                       bool
}

type htmlRule struct {
	Anchor, Name, Title, Level, LevelClass, PCIv4, PCIv321, CSV, SQL string
	Total, Active, Suppressed, More                                  int
	Collapsed, EventsCut                                             bool
	Findings                                                         []htmlFinding
}

type htmlFinding struct {
	Time, Account, Region, Event, SourceIP, ErrorCode string
	Suppressed                                        *review.Suppressed
	// Fields are shown as text, Payloads (the event's JSON) preformatted.
	Fields, Payloads []htmlField
}

// htmlField is a label and its value: a finding's field, a chart's bar, a bundle file.
type htmlField struct{ Name, Value string }

type htmlFile = htmlField

// htmlCharts are the charts in page order; axis "y" draws horizontal bars.
var htmlCharts = []struct {
	id, title, note, axis, color, labelName string
	points                                  func(*review.Charts) []review.Point
}{
	{"events-by-hour", "Events by hour", "all accounts and regions", "x", "#4a7fb5", "Hour",
		func(c *review.Charts) []review.Point { return c.EventsByHour }},
	{"findings-by-requirement", "Findings by requirement", "PCI DSS v4.0.1, not suppressed", "x", "#c05621", "Requirement",
		func(c *review.Charts) []review.Point { return c.FindingsByReq }},
	{"top-principals", "Principals with most findings", "not suppressed", "y", "#6b5b95", "Principal",
		func(c *review.Charts) []review.Point { return c.TopPrincipals }},
	{"top-error-codes", "Top error codes", "events", "y", "#b7791f", "Error code",
		func(c *review.Charts) []review.Point { return c.TopErrorCodes }},
	{"sign-ins-by-origin", "Console sign-ins by origin", "source network or service", "x", "#2f855a", "Origin",
		func(c *review.Charts) []review.Point { return c.SignInsByOrigin }},
}

// htmlBundleFiles are the files of an evidence bundle, as the footer explains them.
var htmlBundleFiles = []htmlFile{
	{ReportHTML, "this report: one self-contained page, readable offline and printable"},
	{ReportMD, "the same review as a Markdown document"},
	{FindingsFile, "the whole review and every finding as JSON (schema " + review.Schema + ")"},
	{FindingsDir + "/<rule>.csv", "every finding of one rule, for a spreadsheet"},
	{QueriesFile, "the exact SQL each rule ran"},
	{CoverageFile, "log files and events per account, region and hour, and the gaps"},
	{RunFile, "what ran: trailwatch version, rule set, window, events, start and end"},
	{SummaryTXT, "the short daily summary as plain text"},
	{SummaryHTM, "the same summary as an e-mail body"},
	{"manifest.json", "the SHA-256 of every file above and of the previous day's manifest"},
	{"manifest.sig", "the signature over manifest.json"},
}

func newHTMLPage(rv *review.Review, groups []RuleFindings) *htmlPage {
	loc := rv.Window.Since.Location()
	if l, err := time.LoadLocation(rv.Window.TimeZone); err == nil && rv.Window.TimeZone != "" {
		loc = l
	}
	at := func(t time.Time, layout string) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format(layout)
	}
	generated := rv.Ended
	if generated.IsZero() {
		generated = rv.Started
	}
	p := &htmlPage{
		Window: rv.Window.Label, TimeZone: rv.Window.TimeZone,
		Since: at(rv.Window.Since, "2006-01-02 15:04"), Until: at(rv.Window.Until, "2006-01-02 15:04 MST"),
		Generated: at(generated, "2006-01-02 15:04:05 MST"),
		Version:   rv.Version, RuleSet: rv.RuleSet, Events: groupDigits(rv.Events), RulesRun: groupDigits(int64(rv.Rules)),
		Sources: rv.Sources, Unreviewed: rv.Unreviewed,
		Gaps:         len(rv.Coverage.Gaps),
		Retention:    rv.Retention,
		Suppressions: rv.Suppressions,
		Detail:       HTMLDetail,
		EventDetail:  HTMLEventDetail,
		Files:        htmlBundleFiles,
		ChartData:    map[string]htmlSeries{},

		ChartJSVersion: chartJSVersion(),
		ChartJSNotice:  chartJSLicense,
	}

	for _, r := range rv.Requirements {
		st := r.Status()
		p.Requirements = append(p.Requirements, htmlRequirement{ID: r.ID, V321: strings.Join(r.V321, ", "), Title: r.Title,
			Status: st, Class: statusClass(st), Note: r.Note, Findings: r.Findings, Suppressed: r.Suppressed, Rules: r.Rules})
		if r.Findings > 0 {
			p.ReqsWithFindings++
		}
	}
	for _, r := range rv.Retention {
		if len(r.Problems) > 0 {
			p.RetentionProblems++
		}
	}

	for _, c := range htmlCharts {
		pts := c.points(&rv.Charts)
		hc := htmlChart{ID: c.id, Title: c.title, Note: c.note, Axis: c.axis, Color: c.color, LabelName: c.labelName}
		s := htmlSeries{Labels: []string{}, Values: []int64{}}
		for _, pt := range pts {
			hc.Points = append(hc.Points, htmlField{pt.Label, groupDigits(pt.Value)})
			s.Labels = append(s.Labels, pt.Label)
			s.Values = append(s.Values, pt.Value)
		}
		p.Charts = append(p.Charts, hc)
		p.ChartData[c.id] = s
	}

	p.Coverage = newHTMLCoverage(rv.Coverage, loc, at)

	sql := map[string]string{}
	for _, q := range rv.Queries {
		sql[q.Rule] = q.SQL
	}
	for i, g := range groups {
		r := htmlRule{Anchor: "rule-" + strconv.Itoa(i+1), Name: g.Rule, Title: g.Title, Level: g.Level,
			LevelClass: levelClass(g.Level), PCIv4: strings.Join(g.PCIv4, ", "), PCIv321: strings.Join(g.PCIv321, ", "),
			CSV: FindingsDir + "/" + CSVName(g.Rule), SQL: sql[g.Rule],
			Total: len(g.Findings), Suppressed: g.Suppressed, Active: len(g.Findings) - g.Suppressed}
		r.Collapsed = g.Level == "informational" && r.Total > HTMLDetail
		// Findings still to act on first, each part in time order (the findings are in time order).
		j := 0
		for _, suppressed := range []bool{false, true} {
			for _, f := range g.Findings {
				if (f.Suppressed != nil) != suppressed {
					continue
				}
				if j == HTMLDetail {
					r.More = len(g.Findings) - HTMLDetail
					break
				}
				r.Findings = append(r.Findings, newHTMLFinding(f, at, j < HTMLEventDetail))
				if j >= HTMLEventDetail && f.Event != nil {
					r.EventsCut = true
				}
				j++
			}
		}
		p.Findings += r.Active
		p.Suppressed += r.Suppressed
		p.Rules = append(p.Rules, r)
	}
	return p
}

func newHTMLCoverage(cov review.Coverage, loc *time.Location, at func(time.Time, string) string) htmlCoverage {
	hc := htmlCoverage{ExpectedAccounts: strings.Join(cov.ExpectedAccounts, ", "), ExpectedRegions: strings.Join(cov.ExpectedRegions, ", "),
		ExpectedFrom: cov.ExpectedFrom, NewAccounts: cov.NewAccounts}
	layout := "15"
	if len(cov.Hours) > 24 {
		layout = "01-02 15"
	}
	for _, h := range cov.Hours {
		t, err := time.Parse(time.RFC3339, h)
		if err != nil {
			hc.Hours = append(hc.Hours, h)
			continue
		}
		hc.Hours = append(hc.Hours, t.In(loc).Format(layout))
	}
	var most int64
	for _, c := range cov.Cells {
		for _, n := range c.Events {
			most = max(most, n)
		}
	}
	for _, c := range cov.Cells {
		row := htmlCoverageRow{Account: c.Account, Region: c.Region}
		var total int64
		for i := range cov.Hours {
			var files int
			var events int64
			if i < len(c.Files) {
				files = c.Files[i]
			}
			if i < len(c.Events) {
				events = c.Events[i]
			}
			total += events
			row.Cells = append(row.Cells, htmlCell{Text: compactCount(events), Class: heatClass(files, events, most)})
		}
		row.Events = groupDigits(total)
		hc.Rows = append(hc.Rows, row)
	}
	for _, g := range cov.Gaps {
		hc.Gaps = append(hc.Gaps, htmlGap{Account: g.Account, Region: g.Region, From: at(g.From, "2006-01-02 15:04"),
			Until: at(g.Until, "2006-01-02 15:04"), Hours: int(math.Round(g.Until.Sub(g.From).Hours())), Silent: g.Silent})
	}
	return hc
}

func newHTMLFinding(f review.Finding, at func(time.Time, string) string, withEvent bool) htmlFinding {
	hf := htmlFinding{Time: at(f.Time, "2006-01-02 15:04:05"), Account: f.Account, Region: f.Region,
		SourceIP: f.SourceIP, ErrorCode: f.ErrorCode, Suppressed: f.Suppressed}
	hf.Event = f.EventSource
	if f.EventName != "" {
		hf.Event = strings.TrimPrefix(hf.Event+":"+f.EventName, ":")
	}
	add := func(list *[]htmlField, name, value string) {
		if value != "" {
			*list = append(*list, htmlField{name, value})
		}
	}
	principal := f.Principal
	if f.IdentityType != "" {
		principal = strings.TrimSpace(principal + " (" + f.IdentityType + ")")
	}
	add(&hf.Fields, "Principal", principal)
	add(&hf.Fields, "Principal ARN", f.PrincipalARN)
	add(&hf.Fields, "User agent", f.UserAgent)
	add(&hf.Fields, "Event ID", f.EventID)
	add(&hf.Fields, "Source object", f.Object)
	if f.Count > 0 {
		add(&hf.Fields, "Count", groupDigits(int64(f.Count))+" events")
	}
	add(&hf.Fields, "Group", strings.Join(f.Group, ", "))
	if n := len(f.EventIDs); n > 0 {
		ids := strings.Join(f.EventIDs[:min(n, htmlEventIDsMax)], ", ")
		if n > htmlEventIDsMax {
			ids += fmt.Sprintf(" and %d more (findings.json)", n-htmlEventIDsMax)
		}
		add(&hf.Fields, "Event IDs", ids)
	}
	add(&hf.Fields, "Detail", f.Detail)
	if e := f.Event; e != nil && !withEvent {
		add(&hf.Fields, "Event", "in findings.json")
	} else if e != nil {
		if e.RecipientAccountID != f.Account {
			add(&hf.Fields, "Recipient account", e.RecipientAccountID)
		}
		add(&hf.Payloads, "Error message", e.ErrorMessage)
		add(&hf.Payloads, "Request parameters", payloadText(e.RequestParameters))
		add(&hf.Payloads, "Response elements", payloadText(e.ResponseElements))
		add(&hf.Payloads, "Additional event data", payloadText(e.AdditionalData))
		add(&hf.Payloads, "Resources", payloadText(e.Resources))
	}
	return hf
}

// payloadText pretty-prints JSON (on one line when short; anything else stays as it is) and cuts it to
// htmlPayloadMax bytes.
func payloadText(s string) string {
	t := strings.TrimSpace(s)
	if t == "" || t == "null" {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, []byte(t)) == nil {
		s = b.String()
		if b.Len() > htmlPayloadOneLine {
			b.Reset()
			_ = json.Indent(&b, []byte(t), "", "  ")
			s = b.String()
		}
	}
	if len(s) > htmlPayloadMax {
		cut := htmlPayloadMax
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = fmt.Sprintf("%s\n… %d more bytes in findings.json", s[:cut], len(s)-cut)
	}
	return s
}

// statusClass is the CSS class of a Requirement.Status.
func statusClass(status string) string {
	switch status {
	case "findings":
		return "st-find"
	case "no findings":
		return "st-ok"
	case "suppressed only":
		return "st-sup"
	}
	return "st-na"
}

// levelClass is the CSS class of a rule level.
func levelClass(level string) string {
	switch level {
	case "critical", "high", "medium", "low", "informational":
		return "lv-" + level
	}
	return "lv-other"
}

// heatClass colours a coverage cell: "z" for an hour without log files, else c0 (no events) to c4 (the
// most events of any cell), on a log scale.
func heatClass(files int, events, most int64) string {
	if files == 0 {
		return "z"
	}
	if events <= 0 || most <= 0 {
		return "c0"
	}
	step := 1 + int(3*math.Log1p(float64(events))/math.Log1p(float64(most)))
	return "c" + strconv.Itoa(min(step, 4))
}

// compactCount writes a count in at most four characters: 987, 1.2k, 45k, 3.4M.
func compactCount(n int64) string {
	switch f := float64(n); {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 9950:
		return strconv.FormatFloat(f/1e3, 'f', 1, 64) + "k"
	case n < 999500:
		return strconv.FormatFloat(f/1e3, 'f', 0, 64) + "k"
	case n < 9950000:
		return strconv.FormatFloat(f/1e6, 'f', 1, 64) + "M"
	default:
		return strconv.FormatFloat(f/1e6, 'f', 0, 64) + "M"
	}
}

// groupDigits writes n with thousands separators: 1,234,567.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
