package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verifyWebhook checks a delivery exactly as the package documentation tells a receiver to, with the
// standard library only.
func verifyWebhook(secret []byte, header map[string][]string, body []byte, now time.Time) (ok bool, why string) {
	get := func(k string) string {
		if v := header[k]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	ts := get("X-Trailwatch-Timestamp")
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(get("X-Trailwatch-Signature"))) {
		return false, "signature mismatch"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false, "bad timestamp"
	}
	if now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false, "stale timestamp"
	}
	return true, ""
}

func webhookSink(t *testing.T, url string) *Webhook {
	t.Helper()
	t.Setenv("TW_TEST_WEBHOOK_SECRET", "whsec-0123456789")
	t.Setenv("TW_TEST_WEBHOOK_TOKEN", "Bearer tok-abc")
	w, err := NewWebhook(WebhookConfig{
		URL:           url,
		Secret:        Secret{Env: "TW_TEST_WEBHOOK_SECRET"},
		Headers:       map[string]string{"X-Tenant": "pci"},
		SecretHeaders: map[string]Secret{"Authorization": {Env: "TW_TEST_WEBHOOK_TOKEN"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookSignedDelivery(t *testing.T) {
	rc, srv := startChannelReceiver(t)
	w := webhookSink(t, srv.URL+"/hooks/trailwatch")
	a := channelFinding()
	if err := w.Send(channelContext(t), a); err != nil {
		t.Fatal(err)
	}
	req := rc.last(t)
	if ok, why := verifyWebhook([]byte("whsec-0123456789"), req.Header, req.Body, time.Now()); !ok {
		t.Errorf("verification as documented failed: %s\n%v", why, req.Header)
	}
	if ok, _ := verifyWebhook([]byte("another-secret"), req.Header, req.Body, time.Now()); ok {
		t.Error("verified with the wrong secret")
	}
	tampered := append([]byte(nil), req.Body...)
	tampered[len(tampered)-2] ^= 1
	if ok, _ := verifyWebhook([]byte("whsec-0123456789"), req.Header, tampered, time.Now()); ok {
		t.Error("verified a changed body")
	}
	if ok, why := verifyWebhook([]byte("whsec-0123456789"), req.Header, req.Body, time.Now().Add(6*time.Minute)); ok || why != "stale timestamp" {
		t.Errorf("a replay six minutes later: ok=%v %s", ok, why)
	}
	for k, want := range map[string]string{
		"Idempotency-Key": "f-3b5c1e2a9d",
		"Content-Type":    "application/json",
		"X-Tenant":        "pci",
		"Authorization":   "Bearer tok-abc",
		"User-Agent":      "trailwatch",
	} {
		if got := req.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	var got Alert
	if err := json.Unmarshal(req.Body, &got); err != nil {
		t.Fatal(err)
	}
	// The body is the alert itself, values unchanged (the receiver escapes for its own output).
	a.Time = a.Time.UTC()
	got.Time = got.Time.UTC()
	if !reflect.DeepEqual(got, a) {
		t.Errorf("body decodes to\n%+v\nwant\n%+v", got, a)
	}
	var raw map[string]any
	_ = json.Unmarshal(req.Body, &raw)
	for _, k := range []string{"key", "kind", "rule", "rule_id", "title", "level", "pci_v4", "pci_v3_2_1", "time",
		"account", "account_alias", "principal", "source_ip", "event_name", "user_agent", "link"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("body lacks %q: %s", k, req.Body)
		}
	}

	// The signature is over this delivery's timestamp: a fixed clock gives a known value.
	w.now = func() time.Time { return time.Unix(1767225600, 0) }
	if err := w.Send(channelContext(t), Alert{Key: "t-1", Kind: "test"}); err != nil {
		t.Fatal(err)
	}
	req = rc.last(t)
	if ts := req.Header.Get("X-Trailwatch-Timestamp"); ts != "1767225600" {
		t.Errorf("timestamp %q", ts)
	}
	if string(req.Body) != `{"key":"t-1","kind":"test"}` {
		t.Errorf("body %s", req.Body)
	}
	mac := hmac.New(sha256.New, []byte("whsec-0123456789"))
	mac.Write([]byte(`1767225600.{"key":"t-1","kind":"test"}`))
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); req.Header.Get("X-Trailwatch-Signature") != want ||
		WebhookSignature([]byte("whsec-0123456789"), "1767225600", req.Body) != want {
		t.Errorf("signature %q, want %q", req.Header.Get("X-Trailwatch-Signature"), want)
	}
}

func TestWebhookStatusClassification(t *testing.T) {
	rc, srv := startChannelReceiver(t)
	w := webhookSink(t, srv.URL)
	checkStatusClassification(t, func(ctx context.Context) error { return w.Send(ctx, channelFinding()) }, rc)
}

func TestWebhookConfig(t *testing.T) {
	err := WebhookConfig{
		Name:          "siem",
		URL:           "http://siem.example.com/hook",
		Headers:       map[string]string{"X-Trailwatch-Signature": "forged", "Bad Header": "x", "X-Ok": "a\r\nInjected: 1"},
		SecretHeaders: map[string]Secret{"Authorization": {}},
	}.Validate()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{
		"siem: url: scheme \"http\": want https",
		"siem: secret: set env",
		"header X-Trailwatch-Signature is set by trailwatch",
		`"Bad Header" is not a valid header name`,
		"header X-Ok: the value has a line break",
		"secret_headers: Authorization: set env",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	t.Setenv("TW_TEST_WEBHOOK_SECRET", "s")
	t.Setenv("TW_TEST_WEBHOOK_TOKEN", "Bearer x\r\nInjected: 1")
	_, err = NewWebhook(WebhookConfig{
		URL:           "https://siem.example.com/hook",
		Secret:        Secret{Env: "TW_TEST_WEBHOOK_SECRET"},
		SecretHeaders: map[string]Secret{"Authorization": {Env: "TW_TEST_WEBHOOK_TOKEN"}},
	})
	if err == nil || strings.Contains(err.Error(), "Bearer") {
		t.Errorf("a secret header value with a line break: %v", err)
	}
}
