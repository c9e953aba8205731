package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/trailwatch/trailwatch/internal/review"
	"github.com/trailwatch/trailwatch/internal/testenv"
)

// reportScripts is how many <script> elements the template writes: the chart data (JSON, not run),
// Chart.js and the page script.
const reportScripts = 3

func renderHTML(t testing.TB, rv *review.Review) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := HTML(&b, rv); err != nil {
		t.Fatalf("HTML: %v", err)
	}
	return b.Bytes()
}

// TestHTMLEscapesHostileValues parses the report as a browser would and checks that the hostile values
// of the fixture made no element, attribute or script: the only scripts are the template's own, no
// element has an event handler or a javascript: link, and every payload is there as text.
func TestHTMLEscapesHostileValues(t *testing.T) {
	doc, err := html.Parse(bytes.NewReader(renderHTML(t, fixtureReview())))
	if err != nil {
		t.Fatalf("parse report: %v", err)
	}
	var scripts []*html.Node
	var text strings.Builder
	for n := range doc.Descendants() {
		switch n.Type {
		case html.TextNode:
			if p := n.Parent; p != nil && p.DataAtom != atom.Script && p.DataAtom != atom.Style {
				text.WriteString(n.Data)
			}
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script:
				scripts = append(scripts, n)
			case atom.Img, atom.Iframe, atom.Object, atom.Embed, atom.Link, atom.Base, atom.Form, atom.Svg:
				t.Errorf("unexpected <%s> element: %v", n.Data, n.Attr)
			}
			for _, a := range n.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				switch {
				case strings.HasPrefix(strings.ToLower(a.Key), "on"):
					t.Errorf("<%s> has an event handler attribute %s=%q", n.Data, a.Key, a.Val)
				case (a.Key == "href" || a.Key == "src" || a.Key == "action") && !strings.HasPrefix(v, "#"):
					t.Errorf("<%s> has a link that is not within the page: %s=%q", n.Data, a.Key, a.Val)
				}
			}
		}
	}

	if len(scripts) != reportScripts {
		t.Fatalf("report has %d <script> elements, want the template's %d", len(scripts), reportScripts)
	}
	scriptText := func(n *html.Node) string {
		var b strings.Builder
		for c := range n.ChildNodes() {
			b.WriteString(c.Data)
		}
		return b.String()
	}
	data := scripts[0]
	if attr(data, "type") != "application/json" || attr(data, "id") != "chart-data" {
		t.Errorf("first script is %v, want the chart data", data.Attr)
	}
	var series map[string]htmlSeries
	if err := json.Unmarshal([]byte(scriptText(data)), &series); err != nil {
		t.Fatalf("chart data is not JSON: %v", err)
	}
	if got := series["top-principals"].Labels; len(got) == 0 || got[0] != pwnChartLabel {
		t.Errorf("top principals labels = %q, want the hostile label first, intact", got)
	}
	if len(series) != len(htmlCharts) {
		t.Errorf("chart data has %d series, want %d", len(series), len(htmlCharts))
	}
	if got := scriptText(scripts[1]); got != chartJS {
		t.Errorf("second script is not the embedded Chart.js (%d bytes, want %d)", len(got), len(chartJS))
	}
	if got := scriptText(scripts[2]); got != reportJS {
		t.Errorf("third script is not templates/report.js")
	}
	for _, s := range scripts[1:] {
		if len(s.Attr) != 0 {
			t.Errorf("inline script has attributes %v", s.Attr)
		}
	}

	for _, p := range hostilePayloads {
		if !strings.Contains(text.String(), p) {
			t.Errorf("payload %q is not in the page's text", p)
		}
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// TestHTMLContent checks the sections, their order and what the reader must not miss.
func TestHTMLContent(t *testing.T) {
	rv := fixtureReview()
	rv.Charts.SignInsByOrigin = nil
	out := string(renderHTML(t, rv))

	// Sections in order.
	last := -1
	for _, s := range []string{`<header class="top">`, `id="requirements"`, `id="charts"`, `id="coverage"`, `id="retention"`,
		`id="suppressions"`, `id="findings"`, `<footer id="bundle">`} {
		i := strings.Index(out, s)
		if i < 0 || i < last {
			t.Errorf("section %s missing or out of order", s)
		}
		last = i
	}
	// Rules by level, then name: the critical root finding first, informational never before low.
	var order []string
	for _, m := range regexp.MustCompile(`<section class="rule" id="rule-\d+">\s*<h3><span class="lv lv-(\w+)">`).FindAllStringSubmatch(out, -1) {
		order = append(order, m[1])
	}
	if want := "critical high high medium medium low"; strings.Join(order, " ") != want {
		t.Errorf("rule levels in order %q, want %q", strings.Join(order, " "), want)
	}

	for _, want := range []string{
		"PCI DSS daily log review", "2026-03-01", fixtureRuleSet, "v0.4.0-test",
		`1 earlier day in the evidence folder not yet reviewed: 2026-02-28`,
		`<span class="st st-ok">no findings</span>`, `<span class="st st-find">findings</span>`,
		`<span class="st st-sup">suppressed only</span>`, `<span class="st st-na">not evidenced by CloudTrail</span>`,
		"Silent: 222222222222 eu-west-1 delivered no log file in the whole window",
		"no log files from 2026-03-01 03:00 to 2026-03-01 06:00 (3 h)",
		"Accounts seen for the first time: 333333333333",
		"Where this list came from: config",
		`<tr class="bad"><td class="nowrap">222222222222</td><td class="nowrap">eu-west-1</td>`,
		"expired — no longer applied", "Suppressed by sup-sandbox-trail", `class="f sup"`,
		"Count<dd>12 events", "Group<dd>alice, 203.0.113.7", "and 2 more (findings.json)",
		// JSON on one line when short, else indented; text that is not JSON as it is.
		"<pre>{&#34;bucketName&#34;:&#34;&lt;/script&gt;", "<pre>[\n  {\n    &#34;ARN&#34;: &#34;arn:aws:s3:::payments-logs&#34;,",
		"<pre>not json: &#34;&gt;&lt;img",
		"Principal<dd>attacker&#34;&gt;&lt;img src=x onerror=&#34;window.__pwned=2&#34;&gt; (Root)",
		`<p class="nodata">no data</p>`,
		"trailwatch evidence verify &lt;dir&gt;", "manifest.sig", "findings/&lt;rule&gt;.csv",
		"Chart.js " + chartJSVersion(),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The coverage grid: an hour without files is red (class z), hours with files are not.
	if n := strings.Count(out, `<td class="z">`); n != 3+24+21 {
		t.Errorf("%d red coverage cells, want 48 (3 gap hours, 24 silent, 21 outside the new account's hours)", n)
	}
}

// TestHTMLEmptyReview renders a review with nothing in it: no error, and each part says so.
func TestHTMLEmptyReview(t *testing.T) {
	out := string(renderHTML(t, &review.Review{}))
	if n := strings.Count(out, `<p class="nodata">no data</p>`); n != len(htmlCharts)+2 {
		t.Errorf(`%d parts say "no data", want the %d charts, coverage and retention`, n, len(htmlCharts))
	}
	for _, want := range []string{"No findings.", "No suppressions are configured.", "No gaps"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if err := HTML(io.Discard, nil); err == nil {
		t.Error("HTML(nil) gave no error")
	}
}

// TestHTMLManyFindings checks the cut at HTMLDetail findings per rule (HTMLEventDetail with their events),
// the collapsed informational rules, and the size of a busy day: 150 rules with 60 findings each, each
// with about 1.3 KB of CloudTrail text, make about 8 MB.
func TestHTMLManyFindings(t *testing.T) {
	rv := fixtureReview()
	// A typical S3 finding: ARNs, a user agent and an event of usual size.
	base := review.Finding{ID: "f-bulk", RuleID: "bulk", PCIv4: []string{"10.2.1.3"}, PCIv321: []string{"10.2.3"},
		Time: rv.Window.Since.Add(7 * time.Hour), Account: fixtureProd, Region: fixtureEast,
		Principal:    "AWSReservedSSO_PaymentsAdmin_0123456789abcdef/jane.doe@example.com",
		PrincipalARN: "arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_PaymentsAdmin_0123456789abcdef/jane.doe@example.com",
		IdentityType: "AssumedRole", EventSource: "s3.amazonaws.com", EventName: "GetObject", SourceIP: "198.51.100.23",
		UserAgent: "[aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#s3.cp]",
		Object:    "AWSLogs/o-abc123def4/111111111111/CloudTrail/us-east-1/2026/03/01/111111111111_CloudTrail_us-east-1_20260301T0705Z_AbCdEfGhIjKlMnOp.json.gz",
		Event: &review.Event{
			RequestParameters:  `{"bucketName":"org-trail-logs","Host":"org-trail-logs.s3.us-east-1.amazonaws.com","key":"AWSLogs/o-abc123def4/111111111111/CloudTrail/us-east-1/2026/03/01/111111111111_CloudTrail_us-east-1_20260301T0705Z_AbCdEfGhIjKlMnOp.json.gz"}`,
			AdditionalData:     `{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4","bytesTransferredOut":18432}`,
			Resources:          `[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::org-trail-logs/AWSLogs/o-abc123def4/111111111111/CloudTrail/us-east-1/2026/03/01/x.json.gz"},{"accountId":"111111111111","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::org-trail-logs"}]`,
			RecipientAccountID: fixtureProd,
		},
	}
	for r := range 150 {
		level := []string{"critical", "high", "medium", "low", "informational"}[r%5]
		for i := range HTMLDetail + 10 {
			f := base
			f.Rule, f.Level, f.Title = fmt.Sprintf("bulk_rule_%03d", r), level, fmt.Sprintf("Bulk rule %d", r)
			f.Time = f.Time.Add(time.Duration(i) * time.Minute)
			f.EventID = fmt.Sprintf("bulk-%03d-%04d", r, i)
			rv.Findings = append(rv.Findings, f)
		}
	}
	out := string(renderHTML(t, rv))
	t.Logf("report with %d findings: %.1f MB", len(rv.Findings), float64(len(out))/1e6)
	if len(out) > 10<<20 {
		t.Errorf("report is %d bytes; keep it to a few MB", len(out))
	}
	if n := strings.Count(out, "10 more in findings/bulk_rule_"); n != 150 {
		t.Errorf("%d rules say how many more findings are in their CSV, want 150", n)
	}
	if !strings.Contains(out, "10 more in findings/bulk_rule_004.csv") {
		t.Error(`report lacks "10 more in findings/bulk_rule_004.csv"`)
	}
	if n := strings.Count(out, `<details class="many"><summary>Show the first 50 of 60 findings</summary>`); n != 30 {
		t.Errorf("%d collapsed rules, want the 30 informational ones", n)
	}
	if n, want := strings.Count(out, "Event<dd>in findings.json"), 150*(HTMLDetail-HTMLEventDetail); n != want {
		t.Errorf("%d findings refer to findings.json for their event, want %d", n, want)
	}
	if n := strings.Count(out, "bulk-000-00"); n != HTMLDetail {
		t.Errorf("bulk_rule_000 shows %d findings in detail, want %d", n, HTMLDetail)
	}
}

// TestChartJSPinned checks that the embedded Chart.js is the release web/chartjs/package.json pins
// (scripts/vendor-chartjs.sh copies it) and that its licence travels with it.
func TestChartJSPinned(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	for file, v := range map[string]any{"package.json": &pkg, "package-lock.json": &lock} {
		b, err := os.ReadFile(filepath.Join("..", "..", "web", "chartjs", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	pinned := pkg.Dependencies["chart.js"]
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(pinned) {
		t.Fatalf("web/chartjs/package.json pins chart.js %q, want an exact version", pinned)
	}
	if locked := lock.Packages["node_modules/chart.js"].Version; locked != pinned {
		t.Errorf("package-lock.json has chart.js %q, package.json pins %q: run npm install in web/chartjs", locked, pinned)
	}
	if got := chartJSVersion(); got != pinned {
		t.Errorf("embedded Chart.js is %q, package.json pins %q: run scripts/vendor-chartjs.sh", got, pinned)
	}
	if !strings.HasPrefix(chartJS, "/*!\n * Chart.js v"+pinned+"\n") {
		t.Errorf("embedded Chart.js does not start with the v%s banner", pinned)
	}
	if !strings.Contains(chartJSLicense, "MIT License") {
		t.Error("assets/chart.js-LICENSE.md is not Chart.js's MIT licence")
	}
}

// TestHTMLInBrowser opens the report in headless Chromium from a file:// URL and checks what a reader
// gets: no hostile value ran (no window.__pwned, no dialog, no fetch, no console error), every payload
// shows as text, the charts are drawn, and the requirement table reads right. It leaves a full-page
// screenshot in $TRAILWATCH_ARTIFACTS (default: artifacts/ at the repository root).
//
// It needs Debian's chromium at /usr/bin/chromium: without it the test is skipped, or fails when
// TRAILWATCH_REQUIRE_CHROMIUM=1 (as in CI). With -short it is skipped.
func TestHTMLInBrowser(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if testing.Short() {
		t.Skip("needs a browser: skipped with -short")
	}
	if _, err := os.Stat(chromium); err != nil {
		testenv.Missing(t, "TRAILWATCH_REQUIRE_CHROMIUM", fmt.Sprintf("%s not found (%v): install Debian's chromium package (apt-get install chromium)", chromium, err))
	}

	file := filepath.Join(t.TempDir(), ReportHTML)
	if err := os.WriteFile(file, renderHTML(t, fixtureReview()), 0o644); err != nil {
		t.Fatal(err)
	}
	pageURL := (&url.URL{Scheme: "file", Path: file}).String()

	// The timeout bounds the whole test, the browser included.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	var mu sync.Mutex
	var problems []string
	note := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	err := chromedp.Listen(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			note("a JavaScript %s dialog opened: %q", ev.Type, ev.Message)
			// Close it, or the page stays blocked (a listener must not run commands itself).
			go func() {
				_, _ = chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if e := ev.ExceptionDetails.Exception; e != nil {
				msg += " " + e.Description
			}
			note("script error: %s", msg)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				note("console error (%s): %s", ev.Entry.Source, ev.Entry.Text)
			}
		case *network.EventRequestWillBeSent:
			if ev.Request.URL != pageURL {
				note("the page fetched %s", ev.Request.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	browserFailed := func(what string, err error) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%s: %v (seen in the browser: %q)", what, err, problems)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		browserFailed("enable network events", err)
	}
	if _, err := chromedp.Call(bctx, log.Enable, cdp.Empty{}); err != nil {
		browserFailed("enable log events", err)
	}
	// The page script marks the body once it has drawn the charts.
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.CSS(`body[data-charts-ready="1"]`))); err != nil {
		browserFailed("open the report and wait for the charts", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		browserFailed("screenshot", err)
	}
	writeArtifact(t, "review-report.png", shot)

	pwned := evaluate[string](bctx, t, `typeof window.__pwned`)
	scripts := evaluate[int](bctx, t, `document.getElementsByTagName("script").length`)
	type canvas struct {
		ID            string
		Width, Height float64
		Drawn         bool
	}
	canvases := evaluate[[]canvas](bctx, t, `Array.from(document.querySelectorAll("canvas"), c => {
		const r = c.getBoundingClientRect();
		return {ID: c.id, Width: r.width, Height: r.height, Drawn: !!Chart.getChart(c)};
	})`)
	statuses := evaluate[map[string]string](bctx, t, `Object.fromEntries(Array.from(document.querySelectorAll("table.reqs tbody tr"),
		r => [r.cells[0].innerText.trim(), r.cells[3].innerText.trim()]))`)
	// Read the page as a reader who opens every collapsed part.
	text := evaluate[string](bctx, t, `document.querySelectorAll("details").forEach(d => d.open = true); document.body.innerText`)

	mu.Lock()
	for _, p := range problems {
		t.Error(p)
	}
	mu.Unlock()
	if pwned != "undefined" {
		t.Errorf("window.__pwned is a %s: a hostile value ran", pwned)
	}
	if scripts != reportScripts {
		t.Errorf("page has %d <script> elements, want the template's %d", scripts, reportScripts)
	}
	for _, p := range hostilePayloads {
		if !strings.Contains(text, p) {
			t.Errorf("payload %q is not in the page's text", p)
		}
	}
	if len(canvases) != len(htmlCharts) {
		t.Errorf("%d chart canvases, want %d", len(canvases), len(htmlCharts))
	}
	for _, c := range canvases {
		if c.Width <= 0 || c.Height <= 0 || !c.Drawn {
			t.Errorf("chart %s: %vx%v px, drawn %v", c.ID, c.Width, c.Height, c.Drawn)
		}
	}
	for id, want := range map[string]string{"10.2.1.3": "no findings", "10.2.1.2": "findings",
		"10.2.1.6": "suppressed only", "10.1.1": "not evidenced by CloudTrail"} {
		if statuses[id] != want {
			t.Errorf("requirement %s shows %q, want %q", id, statuses[id], want)
		}
	}
}

// evaluate runs a JavaScript expression in the page and decodes its value.
func evaluate[T any](ctx context.Context, t *testing.T, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// writeArtifact saves a file a person may want to look at after the tests, in $TRAILWATCH_ARTIFACTS or
// artifacts/ at the repository root.
func writeArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := os.Getenv("TRAILWATCH_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts: %v", err)
	}
	path, _ := filepath.Abs(filepath.Join(dir, name))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatalf("artifacts: %v", err)
	}
	t.Logf("screenshot: %s", path)
}
