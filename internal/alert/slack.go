package alert

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Slack limits (Block Kit reference): header text 150 characters, a section's text 3000, a field 2000,
// ten fields per section, fifty blocks per message.
const (
	slackHeaderMax   = 150
	slackTextMax     = 3000
	slackFieldMax    = 2000
	slackFieldsMax   = 10
	slackDigestLines = 40 // digest members listed; the rest are counted
	slackName        = "slack"
)

// SlackConfig configures the Slack channel: an incoming webhook.
type SlackConfig struct {
	// Name names the sink (default "slack").
	Name string `yaml:"name"`
	// WebhookURL is the incoming webhook's URL, https://hooks.slack.com/services/...; the URL is the
	// credential, so it is a Secret.
	WebhookURL Secret `yaml:"webhook_url"`
	// Timeout bounds one delivery (default 10s); the context's deadline, when sooner, wins.
	Timeout time.Duration `yaml:"timeout"`
}

// Slack posts alerts to a Slack incoming webhook as Block Kit blocks: a header with the level and the rule's
// title, the finding's fields, and a button to the event; a digest is a list. The text fallback (shown in
// notifications) is the subject.
type Slack struct {
	name   string
	url    string
	client *http.Client
}

var _ Sink = (*Slack)(nil)

// Validate checks the configuration without reading the webhook URL.
func (c SlackConfig) Validate() error {
	name := cmp.Or(c.Name, slackName)
	var errs []error
	if err := c.WebhookURL.validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s: webhook_url: %w", name, err))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%s: timeout %s is negative", name, c.Timeout))
	}
	return errors.Join(errs...)
}

// NewSlack validates the configuration, reads the webhook URL and checks it is https (http only to a
// loopback host).
func NewSlack(cfg SlackConfig) (*Slack, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	name := cmp.Or(cfg.Name, slackName)
	raw, err := cfg.WebhookURL.Value()
	if err != nil {
		return nil, fmt.Errorf("%s: webhook_url: %w", name, err)
	}
	if err := checkPostURL(raw); err != nil {
		// the URL is secret: say what is wrong, not what it is
		return nil, fmt.Errorf("%s: webhook_url from %s: %w", name, cfg.WebhookURL, err)
	}
	return &Slack{name: name, url: raw, client: newPostClient(cmp.Or(cfg.Timeout, 10*time.Second))}, nil
}

// Name returns the configured name, "slack" by default.
func (s *Slack) Name() string { return s.name }

// Send posts the alert. 2xx is success; 408, 429 and 5xx are retryable; other statuses are Permanent.
func (s *Slack) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(slackMessage(a))
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode message: %w", s.name, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("%s: %w", s.name, redactURLError(err)))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	return doPost(s.client, s.name, req)
}

// slackPayload is an incoming-webhook message.
type slackPayload struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// slackBlock is a header, section, actions, context or divider block.
type slackBlock struct {
	Type     string        `json:"type"`
	Text     *slackText    `json:"text,omitempty"`
	Fields   []slackText   `json:"fields,omitempty"`
	Elements []slackObject `json:"elements,omitempty"`
}

// slackText is a text object.
type slackText struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// slackObject is a context element (a text object) or a button.
type slackObject struct {
	Type  string `json:"type"`
	Text  any    `json:"text,omitempty"` // a string in a context element, a slackText in a button
	URL   string `json:"url,omitempty"`
	Style string `json:"style,omitempty"`
}

// slackMessage builds the payload of an alert.
func slackMessage(a Alert) slackPayload {
	subject, text, _ := Render(a)
	p := slackPayload{Text: slackEscape(renderClip(subject, slackTextMax))}
	switch {
	case a.Kind == "digest" && len(a.Members) > 0:
		p.Blocks = slackDigest(subject, a.Members)
	case a.Kind == "finding" || a.Kind == "":
		p.Blocks = slackFinding(a)
	default:
		p.Blocks = slackPlain(subject, text)
	}
	return p
}

// slackFinding is a header, the fields in two columns, the user agent and event id as context, and a button
// to the event.
func slackFinding(a Alert) []slackBlock {
	blocks := []slackBlock{slackHeader(slackLevelEmoji(a.Level) + " " + findingHeadline(a))}
	var fields []slackText
	var ctx []slackObject
	for _, f := range findingFields(a) {
		switch f.Label {
		case "Level": // the header shows the level
		case "User agent", "Event ID":
			ctx = append(ctx, slackObject{Type: "mrkdwn", Text: renderClip("*"+f.Label+"* "+slackEscape(f.Value), slackFieldMax)})
		default:
			fields = append(fields, slackText{Type: "mrkdwn", Text: renderClip("*"+f.Label+"*\n"+slackEscape(f.Value), slackFieldMax)})
		}
	}
	for len(fields) > 0 {
		n := min(len(fields), slackFieldsMax)
		blocks = append(blocks, slackBlock{Type: "section", Fields: fields[:n]})
		fields = fields[n:]
	}
	if link := slackLinkURL(a.Link); link != "" {
		blocks = append(blocks, slackBlock{Type: "actions", Elements: []slackObject{{
			Type: "button",
			Text: slackText{Type: "plain_text", Text: "Open the event"},
			URL:  link,
		}}})
	}
	if a.Key != "" {
		ctx = append(ctx, slackObject{Type: "mrkdwn", Text: "trailwatch alert `" + slackEscape(renderOneLine(a.Key, 200)) + "`"})
	}
	if len(ctx) > 0 {
		blocks = append(blocks, slackBlock{Type: "context", Elements: ctx})
	}
	return blocks
}

// slackDigest is a header and a bulleted list of the members, in sections of at most 3000 characters.
func slackDigest(subject string, members []Alert) []slackBlock {
	blocks := []slackBlock{slackHeader(subject)}
	var lines []string
	for i, m := range members {
		if i == slackDigestLines {
			lines = append(lines, fmt.Sprintf("…and %d more", len(members)-i))
			break
		}
		line := "• " + slackEscape(memberLine(m))
		if link := slackLinkURL(m.Link); link != "" {
			line += " <" + link + "|event>"
		}
		lines = append(lines, renderClip(line, slackTextMax))
	}
	return append(blocks, slackSections(lines)...)
}

// slackPlain is a header and the text, for a summary or a test.
func slackPlain(subject, text string) []slackBlock {
	blocks := []slackBlock{slackHeader(subject)}
	if text = strings.TrimSpace(renderClean(text, 12000)); text != "" {
		blocks = append(blocks, slackSections(strings.Split(slackEscape(text), "\n"))...)
	}
	return blocks
}

// slackSections packs lines into mrkdwn sections of at most 3000 characters each.
func slackSections(lines []string) []slackBlock {
	var blocks []slackBlock
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			blocks = append(blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: cur.String()}})
			cur.Reset()
		}
	}
	for _, l := range lines {
		l = renderClip(l, slackTextMax)
		if cur.Len() > 0 && cur.Len()+1+len(l) > slackTextMax {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(l)
	}
	flush()
	return blocks
}

// slackHeader is a header block; plain_text is not parsed for mrkdwn, so it is not escaped.
func slackHeader(text string) slackBlock {
	return slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: renderOneLine(text, slackHeaderMax), Emoji: true}}
}

// slackLevelEmoji marks the level in the header.
func slackLevelEmoji(level string) string {
	switch strings.ToLower(level) {
	case "critical":
		return ":rotating_light:"
	case "high":
		return ":red_circle:"
	case "medium":
		return ":large_orange_circle:"
	case "low":
		return ":large_yellow_circle:"
	}
	return ":white_circle:"
}

// slackEscape escapes the three characters Slack's mrkdwn treats as control characters, as Slack documents:
// & as &amp;, < as &lt;, > as &gt;. Without it a principal named "<!channel>" would notify the channel.
func slackEscape(s string) string { return slackEscaper.Replace(s) }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackLinkURL returns an http(s) link safe inside Slack's <url|text> syntax, or "".
func slackLinkURL(link string) string {
	link = renderLink(link)
	if link == "" || strings.ContainsAny(link, "<>|") {
		return ""
	}
	return link
}

// checkPostURL requires an absolute https URL, or http to a loopback host (for tests and local relays).
func checkPostURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	switch {
	case u.Host == "":
		return errors.New("not an absolute URL")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && IsLoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("scheme %q: want https (http only to a loopback host)", u.Scheme)
}

// newPostClient returns an HTTP client that does not follow redirects (a redirected POST loses its body or
// goes where it was not configured to) and gives up after timeout.
func newPostClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// doPost sends the request and classifies the answer: 2xx is nil; 408, 429 and 5xx are retryable
// StatusErrors; any other status is a Permanent StatusError. Transport errors are retryable, with the URL
// (which can hold a credential) left out.
func doPost(client *http.Client, name string, req *http.Request) error {
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: post: %w", name, redactURLError(err))
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &StatusError{Channel: name, Code: resp.StatusCode, Body: renderOneLine(string(head), 200)}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	if retryableStatus(resp.StatusCode) {
		return se
	}
	return Permanent(se)
}

// retryableStatus reports whether an HTTP status may succeed on a later try: 408, 429 and 5xx.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date; 0 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redactURLError drops the URL from a *url.Error, keeping the operation and the cause.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
