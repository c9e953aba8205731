package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// channelFinding is a finding whose CloudTrail values try everything a hostile log line could: markup in
// the user agent, a Slack broadcast in the principal, a header break in the account, a right-to-left
// override in the source IP.
func channelFinding() Alert {
	return Alert{
		Key:          "f-3b5c1e2a9d",
		Kind:         "finding",
		Rule:         "root-account-usage",
		RuleID:       "tw-0001",
		Title:        "Root account used",
		Level:        "high",
		PCIv4:        []string{"10.2.1.2", "10.2.1.5"},
		PCIv321:      []string{"10.2.2"},
		Time:         time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600)),
		Account:      "111122223333",
		AccountAlias: "prod-payments",
		Region:       "eu-west-1",
		Principal:    "arn:aws:iam::111122223333:root <!channel> & co",
		SourceIP:     "203.0.113.7\u202egnp.exe",
		EventSource:  "signin.amazonaws.com",
		EventName:    "ConsoleLogin",
		EventID:      "0f6e2f0a-1b2c-4d5e-8f90-123456789abc",
		ErrorCode:    "",
		UserAgent:    `<script>alert("x")</script> Mozilla/5.0`,
		Link:         "https://trailwatch.example.com/events/0f6e2f0a?account=111122223333&day=2026-03-04",
	}
}

func TestRenderFindingEscapesAndCleans(t *testing.T) {
	a := channelFinding()
	a.AccountAlias = "prod\r\nBcc: victim@example.com"
	subject, text, html := Render(a)

	if want := "[trailwatch] HIGH: Root account used in 111122223333 (prod Bcc: victim@example.com)"; subject != want {
		t.Errorf("subject = %q, want %q", subject, want)
	}
	for _, want := range []string{
		"HIGH: Root account used\n",
		"Rule:            root-account-usage\n",
		"PCI DSS v4.0:    10.2.1.2, 10.2.1.5\n",
		"Time (UTC):      2026-03-04 04:06:07 UTC\n",
		`User agent:      <script>alert("x")</script> Mozilla/5.0` + "\n",
		"Source IP:       203.0.113.7gnp.exe\n", // the right-to-left override is gone
		"Event:           signin.amazonaws.com / ConsoleLogin\n",
		"\nLink: " + a.Link + "\n",
		"trailwatch alert f-3b5c1e2a9d\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Error code") {
		t.Errorf("text shows an empty field:\n%s", text)
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Errorf("user agent not escaped in the HTML:\n%s", html)
	}
	if !strings.Contains(html, "&lt;!channel&gt; &amp; co") {
		t.Errorf("principal not escaped in the HTML:\n%s", html)
	}
	if !strings.Contains(html, `<a href="https://trailwatch.example.com/events/0f6e2f0a?account=111122223333&amp;day=2026-03-04">`) {
		t.Errorf("link missing from the HTML:\n%s", html)
	}
	if strings.ContainsRune(html, '\u202e') || strings.ContainsRune(text, '\u202e') {
		t.Error("bidirectional override kept")
	}
}

func TestRenderDropsUnsafeLinks(t *testing.T) {
	for _, link := range []string{`javascript:alert(1)`, `data:text/html,<b>x</b>`, "https://a.example/\x00x", "https://a.example/ x", "//evil.example/"} {
		a := channelFinding()
		a.Link = link
		_, text, html := Render(a)
		if strings.Contains(html, "<a ") {
			t.Errorf("link %q rendered:\n%s", link, html)
		}
		if strings.Contains(text, "\nLink: ") {
			t.Errorf("link %q in the text:\n%s", link, text)
		}
	}
}

func TestRenderPrebuiltAndDigestFallback(t *testing.T) {
	a := Alert{Kind: "summary", Key: "s-1", Subject: "Daily review\n2026-03-04", Text: "body", HTML: "<p>body</p>"}
	subject, text, html := Render(a)
	if subject != "Daily review 2026-03-04" || text != "body" || html != "<p>body</p>" {
		t.Errorf("summary = %q %q %q", subject, text, html)
	}

	m1, m2 := channelFinding(), channelFinding()
	m2.Principal, m2.Level, m2.Title = "alice", "low", "Console login without MFA"
	d := Alert{Kind: "digest", Key: "d-1", Subject: "[trailwatch] Digest: 2 alerts", Members: []Alert{m1, m2}}
	_, text, html = Render(d)
	if !strings.Contains(text, "- HIGH: Root account used | 111122223333 (prod-payments) | arn:aws:iam::111122223333:root <!channel> & co | 2026-03-04 04:06:07Z\n") ||
		!strings.Contains(text, "- LOW: Console login without MFA | 111122223333 (prod-payments) | alice |") {
		t.Errorf("digest text:\n%s", text)
	}
	if strings.Contains(html, "<!channel>") || !strings.Contains(html, "&lt;!channel&gt;") || strings.Count(html, "<li>") != 2 {
		t.Errorf("digest HTML:\n%s", html)
	}
}

func TestRenderCleanClipsToLimit(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"  a\x1b[31mb ", 10, "a[31mb"},
		{"é\u200bé", 10, "éé"},
		{"bad \xff byte", 20, "bad \uFFFD byte"},
	} {
		if got := renderClean(tc.in, tc.limit); got != tc.want {
			t.Errorf("renderClean(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
	if got := renderClip("ééé", 5); got != "…" && got != "é…" {
		t.Errorf("renderClip = %q", got)
	}
	if got := renderClip("abcdef", 5); got != "ab…" {
		t.Errorf("renderClip = %q, want ab…", got)
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("550 no such user")
	p := Permanent(base)
	if !IsPermanent(p) || !errors.Is(p, base) || p.Error() != base.Error() {
		t.Errorf("Permanent(%v) = %v", base, p)
	}
	if !IsPermanent(fmt.Errorf("send: %w", p)) {
		t.Error("wrapped Permanent not recognised")
	}
	if IsPermanent(base) || IsPermanent(nil) || Permanent(nil) != nil {
		t.Error("plain error or nil taken as permanent")
	}
	if Permanent(p) != p {
		t.Error("Permanent wrapped twice")
	}
}

func TestSecret(t *testing.T) {
	t.Setenv("TW_TEST_SECRET", "hunter2")
	if v, err := (Secret{Env: "TW_TEST_SECRET"}).Value(); err != nil || v != "hunter2" {
		t.Errorf("env secret = %q, %v", v, err)
	}
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("from-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := (Secret{File: file}).Value(); err != nil || v != "from-file" {
		t.Errorf("file secret = %q, %v", v, err)
	}

	for _, tc := range []struct {
		s    Secret
		want string
	}{
		{Secret{Env: "TW_TEST_SECRET_UNSET"}, "environment variable TW_TEST_SECRET_UNSET: not set"},
		{Secret{File: filepath.Join(t.TempDir(), "missing")}, "missing: no such file or directory"},
		{Secret{}, "set env"},
		{Secret{Env: "TW_TEST_SECRET", File: file}, "not both"},
	} {
		_, err := tc.s.Value()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v.Value() error = %v, want one containing %q", tc.s, err, tc.want)
		}
	}
	t.Setenv("TW_TEST_SECRET_EMPTY", "")
	if _, err := (Secret{Env: "TW_TEST_SECRET_EMPTY"}).Value(); err == nil {
		t.Error("empty secret accepted")
	}

	s := Secret{Env: "TW_TEST_SECRET"}
	for _, out := range []string{s.String(), fmt.Sprintf("%v %+v %#v %s", s, s, s, s)} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret value printed: %s", out)
		}
	}
	if s.String() != "env:TW_TEST_SECRET" || (Secret{File: "/run/x"}).String() != "file:/run/x" {
		t.Errorf("String() = %q", s.String())
	}
}

func TestSecretYAML(t *testing.T) {
	type doc struct {
		Password Secret `yaml:"password"`
	}
	decode := func(src string) (doc, error) {
		var d doc
		dec := yaml.NewDecoder(strings.NewReader(src))
		dec.KnownFields(true)
		err := dec.Decode(&d)
		return d, err
	}
	if d, err := decode("password: {env: SMTP_PASSWORD}\n"); err != nil || d.Password != (Secret{Env: "SMTP_PASSWORD"}) {
		t.Errorf("env form: %+v, %v", d, err)
	}
	if d, err := decode("password:\n  file: /run/secrets/smtp\n"); err != nil || d.Password != (Secret{File: "/run/secrets/smtp"}) {
		t.Errorf("file form: %+v, %v", d, err)
	}
	if _, err := decode("\npassword: hunter2\n"); err == nil || !strings.Contains(err.Error(), "line 2: a secret is not written in the configuration") {
		t.Errorf("plain string: %v", err)
	} else if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the value: %v", err)
	}
	if _, err := decode("password: {env: X, value: hunter2}\n"); err == nil || !strings.Contains(err.Error(), "field value not found") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestConfigsDecodeFromYAML(t *testing.T) {
	var cfg struct {
		SMTP    SMTPConfig    `yaml:"smtp"`
		Slack   SlackConfig   `yaml:"slack"`
		Webhook WebhookConfig `yaml:"webhook"`
		SNS     SNSConfig     `yaml:"sns"`
		File    FileConfig    `yaml:"file"`
	}
	src := `
smtp:
  host: smtp.example.com
  tls: tls
  ca_file: /etc/trailwatch/ca.pem
  username: trailwatch
  password: {env: SMTP_PASSWORD}
  from: trailwatch <trailwatch@example.com>
  to: [soc@example.com]
  timeout: 20s
slack:
  webhook_url: {file: /run/secrets/slack-url}
webhook:
  name: siem
  url: https://siem.example.com/hooks/trailwatch
  secret: {env: WEBHOOK_SECRET}
  headers: {X-Tenant: pci}
  secret_headers: {Authorization: {env: SIEM_TOKEN}}
sns:
  topic_arn: arn:aws:sns:eu-west-1:111122223333:pci-alerts.fifo
file:
  path: /var/log/trailwatch/alerts.jsonl
`
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.SMTP.Timeout != 20*time.Second || cfg.SMTP.Password.Env != "SMTP_PASSWORD" || cfg.Webhook.SecretHeaders["Authorization"].Env != "SIEM_TOKEN" {
		t.Errorf("decoded %+v", cfg)
	}
	for _, err := range []error{cfg.SMTP.Validate(), cfg.Slack.Validate(), cfg.Webhook.Validate(), cfg.SNS.Validate(), cfg.File.Validate()} {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestFileAppendsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	f, err := NewFile(FileConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	a1, a2 := channelFinding(), channelFinding()
	a2.Key, a2.UserAgent = "f-second", "line\nbreak"
	for _, a := range []Alert{a1, a2} {
		if err := f.Send(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// A new sink on the same file appends; it does not truncate.
	f2, err := NewFile(FileConfig{Path: path, Name: "audit"})
	if err != nil {
		t.Fatal(err)
	}
	if f2.Name() != "audit" || f.Name() != "file" {
		t.Errorf("names %q %q", f.Name(), f2.Name())
	}
	a3 := Alert{Key: "t-1", Kind: "test", Subject: "test"}
	if err := f2.Send(ctx, a3); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), data)
	}
	for i, want := range []Alert{a1, a2, a3} {
		var got Alert
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if got.Key != want.Key || got.UserAgent != want.UserAgent || !got.Time.Equal(want.Time) || got.Kind != want.Kind {
			t.Errorf("line %d = %+v, want %+v", i+1, got, want)
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", st.Mode(), err)
	}

	if _, err := NewFile(FileConfig{Path: filepath.Join(t.TempDir(), "missing-dir", "a.jsonl")}); err == nil {
		t.Error("a file in a missing folder accepted")
	}
	if _, err := NewFile(FileConfig{}); err == nil {
		t.Error("empty path accepted")
	}
	cancel()
	if err := f.Send(ctx, a1); !errors.Is(err, context.Canceled) {
		t.Errorf("send with a cancelled context: %v", err)
	}
}

func TestFileStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	f, err := NewFile(FileConfig{Path: "-"})
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	a := channelFinding()
	if err := f.Send(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if err := f.Send(t.Context(), Alert{Key: "t-2", Kind: "test"}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(a)
	if got := out.String(); got != string(want)+"\n"+`{"key":"t-2","kind":"test"}`+"\n" {
		t.Errorf("stdout:\n%s", got)
	}
}
