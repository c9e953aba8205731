package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// channelReceiver is a loopback HTTP server that records each request and answers with the next
// scripted status (200 once the script is used up).
type channelReceiver struct {
	mu       sync.Mutex
	requests []channelRequest
	script   []channelAnswer
}

type channelRequest struct {
	Header http.Header
	Body   []byte
}

type channelAnswer struct {
	Status int
	Header map[string]string
	Body   string
}

func startChannelReceiver(t *testing.T, script ...channelAnswer) (*channelReceiver, *httptest.Server) {
	rc := &channelReceiver{script: script}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *channelReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.requests = append(rc.requests, channelRequest{Header: r.Header.Clone(), Body: body})
	ans := channelAnswer{Status: http.StatusOK, Body: "ok"}
	if len(rc.script) > 0 {
		ans, rc.script = rc.script[0], rc.script[1:]
	}
	rc.mu.Unlock()
	if r.Method != http.MethodPost {
		http.Error(w, "want POST", http.StatusMethodNotAllowed)
		return
	}
	for k, v := range ans.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(ans.Status)
	io.WriteString(w, ans.Body)
}

func (rc *channelReceiver) last(t *testing.T) channelRequest {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.requests) == 0 {
		t.Fatal("no request received")
	}
	return rc.requests[len(rc.requests)-1]
}

func channelContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkStatusClassification sends once per answer and checks how each status is classified.
func checkStatusClassification(t *testing.T, send func(ctx context.Context) error, rc *channelReceiver) {
	t.Helper()
	for _, tc := range []struct {
		ans        channelAnswer
		ok         bool
		permanent  bool
		retryAfter time.Duration
	}{
		{ans: channelAnswer{Status: 200, Body: "ok"}, ok: true},
		{ans: channelAnswer{Status: 204}, ok: true},
		{ans: channelAnswer{Status: 500, Body: "internal"}},
		{ans: channelAnswer{Status: 503, Header: map[string]string{"Retry-After": "120"}}, retryAfter: 2 * time.Minute},
		{ans: channelAnswer{Status: 429, Body: "rate_limited", Header: map[string]string{"Retry-After": "7"}}, retryAfter: 7 * time.Second},
		{ans: channelAnswer{Status: 408}},
		{ans: channelAnswer{Status: 400, Body: "invalid_payload"}, permanent: true},
		{ans: channelAnswer{Status: 403, Body: "action_prohibited"}, permanent: true},
		{ans: channelAnswer{Status: 404, Body: "no_service"}, permanent: true},
		{ans: channelAnswer{Status: 410, Body: "channel_is_archived"}, permanent: true},
		{ans: channelAnswer{Status: 302, Header: map[string]string{"Location": "https://elsewhere.example/"}}, permanent: true},
	} {
		rc.mu.Lock()
		rc.script = []channelAnswer{tc.ans}
		rc.mu.Unlock()
		err := send(channelContext(t))
		if tc.ok {
			if err != nil {
				t.Errorf("HTTP %d: %v, want success", tc.ans.Status, err)
			}
			continue
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Code != tc.ans.Status {
			t.Errorf("HTTP %d: %v, want a StatusError with that code", tc.ans.Status, err)
			continue
		}
		if IsPermanent(err) != tc.permanent {
			t.Errorf("HTTP %d: permanent = %v, want %v (%v)", tc.ans.Status, IsPermanent(err), tc.permanent, err)
		}
		if se.RetryAfter != tc.retryAfter {
			t.Errorf("HTTP %d: RetryAfter = %s, want %s", tc.ans.Status, se.RetryAfter, tc.retryAfter)
		}
		if tc.ans.Body != "" && se.Body != tc.ans.Body {
			t.Errorf("HTTP %d: Body = %q, want %q", tc.ans.Status, se.Body, tc.ans.Body)
		}
	}
}

// slackSink returns a Slack sink posting to srv, its URL read from a file as a deployment would.
func slackSink(t *testing.T, srv *httptest.Server) *Slack {
	t.Helper()
	file := filepath.Join(t.TempDir(), "slack-url")
	if err := os.WriteFile(file, []byte(srv.URL+"/services/T000/B000/XXXX\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewSlack(SlackConfig{WebhookURL: Secret{File: file}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// slackDecoded is the part of a Slack payload the tests look at.
type slackDecoded struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type, Text string
		} `json:"text"`
		Fields []struct {
			Type, Text string
		} `json:"fields"`
		Elements []struct {
			Type string          `json:"type"`
			Text json.RawMessage `json:"text"`
			URL  string          `json:"url"`
		} `json:"elements"`
	} `json:"blocks"`
}

func TestSlackFindingBlocks(t *testing.T) {
	rc, srv := startChannelReceiver(t)
	s := slackSink(t, srv)
	if s.Name() != "slack" {
		t.Errorf("name %q", s.Name())
	}
	a := channelFinding()
	if err := s.Send(channelContext(t), a); err != nil {
		t.Fatal(err)
	}
	req := rc.last(t)
	if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var p slackDecoded
	if err := json.Unmarshal(req.Body, &p); err != nil {
		t.Fatalf("payload: %v\n%s", err, req.Body)
	}
	if p.Text != "[trailwatch] HIGH: Root account used in 111122223333 (prod-payments)" {
		t.Errorf("fallback text %q", p.Text)
	}
	if len(p.Blocks) < 4 || p.Blocks[0].Type != "header" || p.Blocks[0].Text.Type != "plain_text" ||
		p.Blocks[0].Text.Text != ":red_circle: HIGH: Root account used" {
		t.Fatalf("blocks:\n%s", req.Body)
	}
	fields := map[string]string{}
	for _, b := range p.Blocks {
		for _, f := range b.Fields {
			if f.Type != "mrkdwn" {
				t.Errorf("field type %q", f.Type)
			}
			label, value, _ := strings.Cut(f.Text, "\n")
			fields[label] = value
		}
	}
	for label, want := range map[string]string{
		"*Rule*":           "root-account-usage",
		"*PCI DSS v4.0*":   "10.2.1.2, 10.2.1.5",
		"*PCI DSS v3.2.1*": "10.2.2",
		"*Account*":        "111122223333 (prod-payments)",
		"*Principal*":      "arn:aws:iam::111122223333:root &lt;!channel&gt; &amp; co",
		"*Source IP*":      "203.0.113.7gnp.exe",
		"*Time (UTC)*":     "2026-03-04 04:06:07 UTC",
		"*Event*":          "signin.amazonaws.com / ConsoleLogin",
	} {
		if fields[label] != want {
			t.Errorf("field %s = %q, want %q", label, fields[label], want)
		}
	}
	var button, context string
	for _, b := range p.Blocks {
		for _, e := range b.Elements {
			switch b.Type {
			case "actions":
				button = e.URL
			case "context":
				var s string
				_ = json.Unmarshal(e.Text, &s)
				context += s + "\n"
			}
		}
	}
	if button != a.Link {
		t.Errorf("button URL %q, want %q", button, a.Link)
	}
	if !strings.Contains(context, "*User agent* &lt;script&gt;alert(\"x\")&lt;/script&gt; Mozilla/5.0") ||
		!strings.Contains(context, "f-3b5c1e2a9d") {
		t.Errorf("context:\n%s", context)
	}
	if strings.Contains(string(req.Body), "<!channel>") || strings.Contains(string(req.Body), `\u003c!channel`) {
		t.Errorf("an unescaped <!channel> reached Slack:\n%s", req.Body)
	}
}

func TestSlackDigestAndPlainKinds(t *testing.T) {
	rc, srv := startChannelReceiver(t)
	s := slackSink(t, srv)
	members := make([]Alert, 45)
	for i := range members {
		members[i] = channelFinding()
	}
	members[0].Link = "https://x.example/a|b" // would break Slack's <url|text>: left out
	d := Alert{Kind: "digest", Key: "digest-1", Subject: "[trailwatch] Digest: 45 alerts, highest level HIGH", Members: members}
	if err := s.Send(channelContext(t), d); err != nil {
		t.Fatal(err)
	}
	var p slackDecoded
	if err := json.Unmarshal(rc.last(t).Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Blocks[0].Type != "header" || p.Blocks[0].Text.Text != d.Subject {
		t.Errorf("header %+v", p.Blocks[0])
	}
	var list string
	for _, b := range p.Blocks[1:] {
		if b.Type != "section" || b.Text == nil || len(b.Text.Text) > slackTextMax {
			t.Errorf("block %+v", b)
			continue
		}
		list += b.Text.Text + "\n"
	}
	if n := strings.Count(list, "• HIGH: Root account used | 111122223333 (prod-payments) | arn:aws:iam::111122223333:root &lt;!channel&gt; &amp; co"); n != slackDigestLines {
		t.Errorf("%d members listed, want %d:\n%s", n, slackDigestLines, list)
	}
	if !strings.Contains(list, "…and 5 more") || !strings.Contains(list, "|event>") || strings.Contains(list, "a|b") {
		t.Errorf("list:\n%s", list)
	}

	test := Alert{Kind: "test", Key: "test-1", Subject: "trailwatch test <@U123>", Text: "If you read this, the slack channel works.\nA & B"}
	if err := s.Send(channelContext(t), test); err != nil {
		t.Fatal(err)
	}
	p = slackDecoded{}
	if err := json.Unmarshal(rc.last(t).Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Text != "trailwatch test &lt;@U123&gt;" || len(p.Blocks) != 2 ||
		p.Blocks[1].Text.Text != "If you read this, the slack channel works.\nA &amp; B" {
		t.Errorf("test message: %+v", p)
	}
}

func TestSlackStatusClassification(t *testing.T) {
	rc, srv := startChannelReceiver(t)
	s := slackSink(t, srv)
	checkStatusClassification(t, func(ctx context.Context) error { return s.Send(ctx, channelFinding()) }, rc)
}

func TestSlackConfig(t *testing.T) {
	t.Setenv("TW_TEST_SLACK_URL", "http://hooks.slack.example/services/T/B/secret-part")
	_, err := NewSlack(SlackConfig{WebhookURL: Secret{Env: "TW_TEST_SLACK_URL"}})
	if err == nil || !strings.Contains(err.Error(), "want https") {
		t.Errorf("plain http to a remote host: %v", err)
	}
	if strings.Contains(err.Error(), "secret-part") {
		t.Errorf("the error shows the webhook URL: %v", err)
	}
	if _, err := NewSlack(SlackConfig{}); err == nil || !strings.Contains(err.Error(), "webhook_url") {
		t.Errorf("no URL: %v", err)
	}
	t.Setenv("TW_TEST_SLACK_URL", "https://hooks.slack.com/services/T/B/x")
	if _, err := NewSlack(SlackConfig{WebhookURL: Secret{Env: "TW_TEST_SLACK_URL"}, Name: "slack-soc"}); err != nil {
		t.Error(err)
	}
}

func TestSlackTransportErrorHidesTheURL(t *testing.T) {
	_, srv := startChannelReceiver(t)
	s := slackSink(t, srv)
	srv.Close() // nothing listens any more
	err := s.Send(channelContext(t), channelFinding())
	if err == nil || IsPermanent(err) {
		t.Fatalf("send to a closed server: %v (permanent %v), want a retryable error", err, IsPermanent(err))
	}
	if strings.Contains(err.Error(), "XXXX") || strings.Contains(err.Error(), "/services/") {
		t.Errorf("the error shows the webhook URL: %v", err)
	}
}

func TestSlackEscape(t *testing.T) {
	if got := slackEscape(`<!here> & <https://evil.example|click> > `); got != `&lt;!here&gt; &amp; &lt;https://evil.example|click&gt; &gt; ` {
		t.Errorf("slackEscape = %q", got)
	}
}
