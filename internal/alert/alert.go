// Package alert turns findings into notifications and delivers them: one file per channel; the outbox and
// dispatcher do retries, deduplication, rate limits and digests.
//
// An [Alert] is one notification; a [Sink] delivers it to one channel. Each channel has its own file, its own
// configuration struct (YAML tags, for the config package to embed) and a New function that validates it:
//
//   - smtp.go: e-mail over SMTP with STARTTLS, implicit TLS, or (loopback only) none; text and HTML parts.
//   - slack.go: a Slack incoming webhook, as Block Kit blocks with a text fallback.
//   - webhook.go: a generic JSON webhook, signed with HMAC-SHA256 (see "Verifying a webhook" below).
//   - sns.go: Amazon SNS Publish, FIFO topics included.
//   - file.go: one JSON line per alert, appended to a file or written to standard output.
//
// A Send returns nil once the channel accepted the alert. It returns an error wrapped by [Permanent] when
// retrying cannot help (a rejected address, a 4xx other than 408 and 429), and a plain error otherwise; the
// dispatcher retries the latter. An HTTP channel's error wraps a [StatusError] that carries the status and
// any Retry-After.
//
// Every value of an alert that comes from a CloudTrail record (principal, user agent, error code, ...) is
// attacker-controlled text: [Render] escapes it for HTML with html/template, strips control and
// bidirectional-formatting characters, and the Slack channel escapes &, < and > as Slack's mrkdwn requires.
// Secrets (SMTP password, Slack webhook URL, webhook signing key) are never written in the configuration:
// a [Secret] names the environment variable or file they are read from.
//
// # Verifying a webhook
//
// The webhook channel POSTs the alert as JSON (the [Alert] fields with their json tags) with these headers:
//
//	Content-Type: application/json
//	Idempotency-Key: <alert key>        the same for every delivery of the same alert: dedupe on it
//	X-Trailwatch-Timestamp: <unix seconds>
//	X-Trailwatch-Signature: sha256=<hex HMAC-SHA256, keyed with the shared secret, of timestamp + "." + body>
//
// A receiver verifies a delivery like this, before it parses the body:
//
//  1. Read the raw request body as bytes; do not re-encode parsed JSON.
//  2. Compute HMAC-SHA256 with the shared secret over the X-Trailwatch-Timestamp value, a ".", and the body.
//  3. Compare "sha256=" + lowercase hex of that MAC with X-Trailwatch-Signature in constant time
//     (hmac.Equal in Go, hmac.compare_digest in Python); reject on a mismatch.
//  4. Reject a timestamp more than five minutes away from the receiver's clock, so a captured request
//     cannot be replayed later; within that window, dedupe on Idempotency-Key.
//
// In Go:
//
//	ts := r.Header.Get("X-Trailwatch-Timestamp")
//	mac := hmac.New(sha256.New, secret)
//	mac.Write([]byte(ts + "."))
//	mac.Write(body)
//	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
//	sec, err := strconv.ParseInt(ts, 10, 64)
//	ok := err == nil && hmac.Equal([]byte(want), []byte(r.Header.Get("X-Trailwatch-Signature"))) &&
//		time.Since(time.Unix(sec, 0)).Abs() <= 5*time.Minute
//
// Answer 2xx once the alert is stored. trailwatch retries after 408, 429 (honouring Retry-After) and 5xx, and
// gives up at once on any other status, so answer 4xx only for a request that will never be accepted.
package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Alert is one notification.
type Alert struct {
	// Key is the idempotency key, stable for the same finding and channel-independent (the receiver can
	// dedupe on it).
	Key string `json:"key"`
	// Kind is "finding", "digest", "summary" or "test".
	Kind string `json:"kind"`

	// Rule is the rule's name, RuleID its identifier, Title its human title and Level its severity.
	Rule   string `json:"rule,omitempty"`
	RuleID string `json:"rule_id,omitempty"`
	Title  string `json:"title,omitempty"`
	Level  string `json:"level,omitempty"`
	// PCIv4 and PCIv321 are the PCI DSS requirements the rule maps to, in v4.0 and v3.2.1 numbering.
	PCIv4   []string `json:"pci_v4,omitempty"`
	PCIv321 []string `json:"pci_v3_2_1,omitempty"`

	// Time is the event's time; the other fields are the event's, as CloudTrail recorded them (so
	// attacker-controlled), except AccountAlias, which comes from the configuration.
	Time         time.Time `json:"time,omitzero"`
	Account      string    `json:"account,omitempty"`
	AccountAlias string    `json:"account_alias,omitempty"`
	Region       string    `json:"region,omitempty"`
	Principal    string    `json:"principal,omitempty"`
	SourceIP     string    `json:"source_ip,omitempty"`
	EventSource  string    `json:"event_source,omitempty"`
	EventName    string    `json:"event_name,omitempty"`
	EventID      string    `json:"event_id,omitempty"`
	ErrorCode    string    `json:"error_code,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`

	// Count is the number of events, for threshold rules.
	Count int `json:"count,omitempty"`
	// Link is a link to the event (dashboard or AWS console URL); may be empty.
	Link string `json:"link,omitempty"`

	// Subject is set for a digest, summary or test; for a finding the channel builds it (see Render).
	Subject string `json:"subject,omitempty"`
	// Text and HTML are prebuilt bodies for a summary, digest or test (HTML may be empty).
	Text string `json:"text,omitempty"`
	HTML string `json:"html,omitempty"`
	// Members are a digest's alerts.
	Members []Alert `json:"members,omitempty"`
}

// Sink delivers alerts to one channel.
type Sink interface {
	// Name names the channel in logs and in the outbox, e.g. "smtp" or the name set in its configuration.
	Name() string
	// Send delivers one alert, within the context's deadline.
	Send(ctx context.Context, a Alert) error
}

// permanentError marks an error that retrying will not fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps an error that retrying will not fix (bad address, 4xx other than 408/429); the dispatcher
// stops retrying it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// StatusError is an HTTP answer that a channel (Slack, webhook) did not accept. Send wraps it, in Permanent
// when the status is a 4xx other than 408 and 429, so the dispatcher can read RetryAfter with errors.As.
type StatusError struct {
	// Channel is the sink's name.
	Channel string
	// Code is the HTTP status code.
	Code int
	// RetryAfter is the delay the server asked for with Retry-After (on 429 or 503); 0 when it did not.
	RetryAfter time.Duration
	// Body is the start of the response body, control characters removed.
	Body string
}

// Error returns e.g. "slack: HTTP 404: channel_not_found".
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: HTTP %d", e.Channel, e.Code)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Secret is a secret read from an environment variable or a file, never from the configuration text itself.
// Exactly one of Env and File is set. Its String and errors name the variable or file, never the value.
type Secret struct {
	// Env is the environment variable holding the secret.
	Env string `yaml:"env"`
	// File is a file holding the secret; one trailing line break is ignored.
	File string `yaml:"file"`
}

// IsZero reports whether no source is set.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" }

// String names where the secret comes from ("env:NAME", "file:PATH" or "none"), never its value.
func (s Secret) String() string {
	switch {
	case s.Env != "" && s.File != "":
		return "env:" + s.Env + "+file:" + s.File
	case s.Env != "":
		return "env:" + s.Env
	case s.File != "":
		return "file:" + s.File
	}
	return "none"
}

// GoString is String, so that %#v does not print more than %v.
func (s Secret) GoString() string { return "alert.Secret(" + s.String() + ")" }

// validate checks that exactly one source is set.
func (s Secret) validate() error {
	switch {
	case s.Env != "" && s.File != "":
		return errors.New("set env or file, not both")
	case s.IsZero():
		return errors.New("set env (an environment variable) or file")
	}
	return nil
}

// Value reads the secret. An empty secret is an error. Errors name the variable or file, not the content.
func (s Secret) Value() (string, error) {
	if err := s.validate(); err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	if s.Env != "" {
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return "", fmt.Errorf("read secret from environment variable %s: not set", s.Env)
		}
		if v == "" {
			return "", fmt.Errorf("read secret from environment variable %s: empty", s.Env)
		}
		return v, nil
	}
	b, err := os.ReadFile(s.File)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named below, once
		}
		return "", fmt.Errorf("read secret from file %s: %w", s.File, err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("read secret from file %s: empty", s.File)
	}
	return v, nil
}

// UnmarshalYAML decodes {env: NAME} or {file: PATH}. Unknown keys are errors even without strict decoding,
// and a plain string is refused with a message saying where secrets go instead.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		*s = Secret{}
		return nil
	case n.Kind == yaml.ScalarNode:
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: a secret is not written in the configuration: use {env: VARIABLE} or {file: PATH}", n.Line)}}
	case n.Kind != yaml.MappingNode:
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want {env: VARIABLE} or {file: PATH}", n.Line)}}
	}
	var out Secret
	var problems []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			problems = append(problems, fmt.Sprintf("line %d: secret %s: want a string", v.Line, k.Value))
			continue
		}
		switch k.Value {
		case "env":
			out.Env = v.Value
		case "file":
			out.File = v.Value
		default:
			problems = append(problems, fmt.Sprintf("line %d: field %s not found in type alert.Secret", k.Line, k.Value))
		}
	}
	if len(problems) > 0 {
		return &yaml.TypeError{Errors: problems}
	}
	*s = out
	return nil
}

// Render renders an alert as an e-mail-like subject, a plain-text body and an HTML body, shared by the
// channels. For a finding it builds all three from the alert's fields; for a digest, summary or test it
// returns the prebuilt Subject, Text and HTML (building a list from Members when Text is empty). Values are
// cleaned of control and bidirectional-formatting characters, and escaped in the HTML by html/template; the
// subject is one line.
func Render(a Alert) (subject, text, html string) {
	if a.Kind != "finding" && a.Kind != "" {
		return renderPrebuilt(a)
	}
	subject = findingSubject(a)
	fields := findingFields(a)
	headline, link, key := findingHeadline(a), renderLink(a.Link), renderClean(a.Key, 200)

	var t strings.Builder
	t.WriteString(headline)
	t.WriteString("\n\n")
	width := 0
	for _, f := range fields {
		width = max(width, len(f.Label))
	}
	for _, f := range fields {
		fmt.Fprintf(&t, "%-*s  %s\n", width+1, f.Label+":", f.Value)
	}
	if link != "" {
		fmt.Fprintf(&t, "\nLink: %s\n", link)
	}
	if a.Key != "" {
		fmt.Fprintf(&t, "\n-- \ntrailwatch alert %s\n", key)
	}

	var h bytes.Buffer
	err := renderTemplates.ExecuteTemplate(&h, "finding", renderPage{
		Subject:  subject,
		Headline: headline,
		Level:    strings.ToLower(renderClean(a.Level, 40)),
		Fields:   fields,
		Link:     link,
		Key:      key,
	})
	if err != nil { // the template and its data are fixed: this cannot happen with a valid template
		return subject, t.String(), ""
	}
	return subject, t.String(), h.String()
}

// renderPrebuilt returns a digest's, summary's or test's prebuilt texts, with fallbacks for the missing ones.
func renderPrebuilt(a Alert) (subject, text, html string) {
	subject = renderOneLine(a.Subject, 200)
	if subject == "" {
		switch a.Kind {
		case "digest":
			subject = fmt.Sprintf("[trailwatch] Digest: %d alerts", len(a.Members))
		default:
			subject = "[trailwatch] " + renderOneLine(a.Kind, 40)
		}
	}
	text, html = a.Text, a.HTML
	if text == "" && len(a.Members) > 0 {
		var t strings.Builder
		items := make([]renderMember, 0, len(a.Members))
		for _, m := range a.Members {
			item := renderMember{Line: memberLine(m), Link: renderLink(m.Link)}
			fmt.Fprintf(&t, "- %s\n", item.Line)
			items = append(items, item)
		}
		text = t.String()
		if html == "" {
			var h bytes.Buffer
			if err := renderTemplates.ExecuteTemplate(&h, "digest", renderPage{Subject: subject, Members: items}); err == nil {
				html = h.String()
			}
		}
	}
	return subject, text, html
}

// renderField is one labelled value of a finding.
type renderField struct{ Label, Value string }

// renderMember is one line of a digest.
type renderMember struct{ Line, Link string }

// renderPage is all the HTML templates are given.
type renderPage struct {
	Subject, Headline, Level string
	Fields                   []renderField
	Link, Key                string
	Members                  []renderMember
}

// findingFields lists a finding's values, cleaned, in display order; empty ones are left out.
func findingFields(a Alert) []renderField {
	var fs []renderField
	add := func(label, value string) {
		if v := renderOneLine(value, 1000); v != "" {
			fs = append(fs, renderField{Label: label, Value: v})
		}
	}
	add("Rule", a.Rule)
	if a.RuleID != a.Rule {
		add("Rule ID", a.RuleID)
	}
	add("Level", strings.ToUpper(a.Level))
	add("PCI DSS v4.0", strings.Join(a.PCIv4, ", "))
	add("PCI DSS v3.2.1", strings.Join(a.PCIv321, ", "))
	if !a.Time.IsZero() {
		add("Time (UTC)", a.Time.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	add("Account", accountLabel(a))
	add("Region", a.Region)
	add("Principal", a.Principal)
	add("Source IP", a.SourceIP)
	add("Event", eventLabel(a))
	add("Error code", a.ErrorCode)
	if a.Count > 0 {
		add("Count", strconv.Itoa(a.Count))
	}
	add("User agent", a.UserAgent)
	add("Event ID", a.EventID)
	return fs
}

// findingSubject is e.g. "[trailwatch] HIGH: Root account used in 111122223333 (prod)".
func findingSubject(a Alert) string {
	s := "[trailwatch] " + findingHeadline(a)
	if acct := accountLabel(a); acct != "" {
		s += " in " + acct
	}
	if a.Count > 1 {
		s += fmt.Sprintf(" (%d events)", a.Count)
	}
	return renderOneLine(s, 200)
}

// findingHeadline is e.g. "HIGH: Root account used".
func findingHeadline(a Alert) string {
	title := renderOneLine(a.Title, 150)
	if title == "" {
		title = renderOneLine(a.Rule, 150)
	}
	if title == "" {
		title = "finding"
	}
	if lvl := renderOneLine(strings.ToUpper(a.Level), 20); lvl != "" {
		return lvl + ": " + title
	}
	return title
}

// memberLine is one digest line: level, title, account, principal, time.
func memberLine(m Alert) string {
	parts := []string{findingHeadline(m)}
	if acct := accountLabel(m); acct != "" {
		parts = append(parts, acct)
	}
	if p := renderOneLine(m.Principal, 200); p != "" {
		parts = append(parts, p)
	}
	if !m.Time.IsZero() {
		parts = append(parts, m.Time.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if m.Count > 1 {
		parts = append(parts, fmt.Sprintf("%d events", m.Count))
	}
	return strings.Join(parts, " | ")
}

// accountLabel is "id (alias)", "id" or "alias".
func accountLabel(a Alert) string {
	id, alias := renderOneLine(a.Account, 100), renderOneLine(a.AccountAlias, 100)
	switch {
	case id != "" && alias != "":
		return id + " (" + alias + ")"
	case id != "":
		return id
	}
	return alias
}

// eventLabel is "source / name", e.g. "iam.amazonaws.com / CreateUser".
func eventLabel(a Alert) string {
	src, name := renderOneLine(a.EventSource, 200), renderOneLine(a.EventName, 200)
	switch {
	case src != "" && name != "":
		return src + " / " + name
	case src != "":
		return src
	}
	return name
}

// renderLink returns link when it is an absolute http(s) URL without spaces or control characters, else "".
// (html/template filters the scheme again; Slack needs the check for its own link syntax.)
func renderLink(link string) string {
	l := strings.ToLower(link)
	if !strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "http://") || len(link) > 3000 {
		return ""
	}
	for _, r := range link {
		if r <= ' ' || r == 0x7f || unicode.Is(unicode.Cf, r) {
			return ""
		}
	}
	return link
}

// renderClean drops control characters (except line breaks and tabs) and Unicode format characters (which
// include the bidirectional overrides that can make text read backwards), replaces invalid UTF-8, trims
// spaces, and clips to at most limit runes, the last an ellipsis when clipped.
func renderClean(s string, limit int) string {
	rs := make([]rune, 0, min(len(s), limit+1))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if r != '\n' && r != '\t' && unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		if len(rs) == 0 && unicode.IsSpace(r) {
			continue
		}
		rs = append(rs, r)
		if len(rs) > limit {
			break
		}
	}
	out := strings.TrimRightFunc(string(rs), unicode.IsSpace)
	if len(rs) > limit && limit > 0 {
		out = strings.TrimRightFunc(string(rs[:limit-1]), unicode.IsSpace) + "…"
	}
	return out
}

// renderOneLine is renderClean with each line break (CRLF, LF or CR) and tab turned into a space.
func renderOneLine(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, strings.ReplaceAll(s, "\r\n", "\n"))
	return renderClean(s, limit)
}

// renderClip cuts s to at most n bytes on a rune boundary, ending with an ellipsis when cut.
func renderClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:max(cut, 0)] + ellipsis
}

// renderTemplates are the HTML bodies. Every value goes through html/template's contextual escaping.
var renderTemplates = template.Must(template.New("alert").Parse(`
{{- define "head" -}}
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#1f2328;margin:0;padding:16px">
{{- end -}}

{{- define "finding" -}}
{{template "head" .}}
<h2 style="margin:0 0 12px 0;font-size:18px" class="level-{{.Level}}">{{.Headline}}</h2>
<table cellpadding="4" cellspacing="0" style="border-collapse:collapse">
{{- range .Fields}}
<tr><th align="left" valign="top" style="padding-right:16px;color:#59636e;font-weight:600;white-space:nowrap">{{.Label}}</th><td style="word-break:break-all">{{.Value}}</td></tr>
{{- end}}
</table>
{{- if .Link}}
<p><a href="{{.Link}}">Open the event</a></p>
{{- end}}
<p style="color:#59636e;font-size:12px">trailwatch alert {{.Key}}</p>
</body></html>
{{end -}}

{{- define "digest" -}}
{{template "head" .}}
<h2 style="margin:0 0 12px 0;font-size:18px">{{.Subject}}</h2>
<ul>
{{- range .Members}}
<li>{{.Line}}{{if .Link}} (<a href="{{.Link}}">event</a>){{end}}</li>
{{- end}}
</ul>
</body></html>
{{end -}}
`))
