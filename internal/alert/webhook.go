package alert

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Headers of a webhook delivery; the package documentation says how a receiver verifies them.
const (
	WebhookSignatureHeader   = "X-Trailwatch-Signature"
	WebhookTimestampHeader   = "X-Trailwatch-Timestamp"
	WebhookIdempotencyHeader = "Idempotency-Key"
)

const webhookName = "webhook"

// webhookReserved are the headers the channel sets itself: configured headers may not replace them.
var webhookReserved = []string{
	"Content-Type", "Content-Length", "Host", "Transfer-Encoding", "Connection",
	WebhookSignatureHeader, WebhookTimestampHeader, WebhookIdempotencyHeader,
}

// WebhookConfig configures the generic JSON webhook channel.
type WebhookConfig struct {
	// Name names the sink (default "webhook"); give each of several webhooks its own.
	Name string `yaml:"name"`
	// URL receives the POSTs: https, or http to a loopback host.
	URL string `yaml:"url"`
	// Secret is the HMAC-SHA256 key that signs each delivery (X-Trailwatch-Signature).
	Secret Secret `yaml:"secret"`
	// Headers are extra request headers, e.g. a routing key; not for credentials.
	Headers map[string]string `yaml:"headers"`
	// SecretHeaders are extra headers whose values are secrets, e.g. Authorization.
	SecretHeaders map[string]Secret `yaml:"secret_headers"`
	// Timeout bounds one delivery (default 10s); the context's deadline, when sooner, wins.
	Timeout time.Duration `yaml:"timeout"`
}

// Webhook POSTs each alert as JSON, signed with HMAC-SHA256 over the timestamp and the body, with the alert
// key as Idempotency-Key. The package documentation says how a receiver verifies a delivery.
type Webhook struct {
	name    string
	url     string
	secret  []byte
	headers http.Header
	client  *http.Client
	now     func() time.Time
}

var _ Sink = (*Webhook)(nil)

// Validate checks the configuration without reading the secrets, and returns every problem, joined.
func (c WebhookConfig) Validate() error {
	name := cmp.Or(c.Name, webhookName)
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(name+": "+format, args...)) }
	if c.URL == "" {
		bad("url is required")
	} else if err := checkPostURL(c.URL); err != nil {
		bad("url: %v", err)
	}
	if err := c.Secret.validate(); err != nil {
		bad("secret: %v", err)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Headers)) {
		if err := checkHeader(k, c.Headers[k], true); err != nil {
			bad("headers: %v", err)
		}
		if _, dup := c.SecretHeaders[k]; dup {
			bad("header %s is in both headers and secret_headers", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.SecretHeaders)) {
		if err := checkHeader(k, "", false); err != nil {
			bad("secret_headers: %v", err)
		}
		if err := c.SecretHeaders[k].validate(); err != nil {
			bad("secret_headers: %s: %v", k, err)
		}
	}
	if c.Timeout < 0 {
		bad("timeout %s is negative", c.Timeout)
	}
	return errors.Join(errs...)
}

// NewWebhook validates the configuration, reads the secrets and returns the sink.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	name := cmp.Or(cfg.Name, webhookName)
	secret, err := cfg.Secret.Value()
	if err != nil {
		return nil, fmt.Errorf("%s: secret: %w", name, err)
	}
	h := http.Header{}
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	for k, s := range cfg.SecretHeaders {
		v, err := s.Value()
		if err != nil {
			return nil, fmt.Errorf("%s: secret_headers: %s: %w", name, k, err)
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return nil, fmt.Errorf("%s: secret_headers: %s: the value from %s has a line break or control character", name, k, s)
		}
		h.Set(k, v)
	}
	h.Set("User-Agent", "trailwatch")
	return &Webhook{
		name:    name,
		url:     cfg.URL,
		secret:  []byte(secret),
		headers: h,
		client:  newPostClient(cmp.Or(cfg.Timeout, 10*time.Second)),
		now:     time.Now,
	}, nil
}

// Name returns the configured name, "webhook" by default.
func (w *Webhook) Name() string { return w.name }

// Send POSTs the alert. 2xx is success; 408, 429 and 5xx are retryable; other statuses are Permanent.
func (w *Webhook) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode alert: %w", w.name, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("%s: %w", w.name, err))
	}
	req.Header = w.headers.Clone()
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(WebhookTimestampHeader, ts)
	req.Header.Set(WebhookSignatureHeader, WebhookSignature(w.secret, ts, body))
	if a.Key != "" {
		req.Header.Set(WebhookIdempotencyHeader, a.Key)
	}
	return doPost(w.client, w.name, req)
}

// WebhookSignature returns the X-Trailwatch-Signature value of a delivery: "sha256=" and the lowercase hex
// HMAC-SHA256, keyed with secret, of timestamp + "." + body. A receiver in Go can call it to verify, comparing
// with hmac.Equal.
func WebhookSignature(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// checkHeader checks a configured header's name (and value, when checkValue).
func checkHeader(name, value string, checkValue bool) error {
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("%q is not a valid header name", name)
	}
	for _, r := range webhookReserved {
		if strings.EqualFold(name, r) {
			return fmt.Errorf("header %s is set by trailwatch", r)
		}
	}
	if checkValue && !httpguts.ValidHeaderFieldValue(value) {
		return fmt.Errorf("header %s: the value has a line break or control character", name)
	}
	return nil
}
