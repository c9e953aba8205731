package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// No SNS-compatible server could be installed here: the Go module proxy refuses
// github.com/Admiral-Piett/goaws (403 for its version list, v0.5.2 and v0.4.5), and the usual emulators
// (LocalStack, moto) are Python packages this machine cannot fetch. So the SNS tests run the real AWS SDK
// client, with real SigV4 signing and real HTTP on loopback, against an httptest server that answers with
// SNS's documented query-protocol responses (the Publish example response and the ErrorResponse shape of the
// SNS API Reference), and check the requests the SDK sends.

// snsDocumented are responses in the form the SNS API Reference documents for Publish.
const (
	snsPublishResponse = `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult>
    <MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId>
  </PublishResult>
  <ResponseMetadata>
    <RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId>
  </ResponseMetadata>
</PublishResponse>`
	snsPublishFIFOResponse = `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult>
    <MessageId>c6c2b7d2-6b4c-5b3e-9c11-6a0f2f1e2d3c</MessageId>
    <SequenceNumber>10000000000000003000</SequenceNumber>
  </PublishResult>
  <ResponseMetadata>
    <RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId>
  </ResponseMetadata>
</PublishResponse>`
	snsErrorResponse = `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error>
    <Type>%s</Type>
    <Code>%s</Code>
    <Message>%s</Message>
  </Error>
  <RequestId>9dd01905-5012-5f99-8663-4b3ecd0dfaef</RequestId>
</ErrorResponse>`
)

// snsRecorder serves one documented response per request and keeps the requests' forms and headers.
type snsRecorder struct {
	mu     sync.Mutex
	forms  []url.Values
	auth   []string
	status int
	body   string
}

func (r *snsRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	form, _ := url.ParseQuery(string(b))
	r.mu.Lock()
	r.forms = append(r.forms, form)
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	status, body := r.status, r.body
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (r *snsRecorder) answer(status int, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.body = status, body
}

func (r *snsRecorder) last(t *testing.T) (url.Values, string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.forms) == 0 {
		t.Fatal("no request received")
	}
	return r.forms[len(r.forms)-1], r.auth[len(r.auth)-1]
}

// snsAttributes reads MessageAttributes.entry.N.{Name,Value.DataType,Value.StringValue} from a form.
func snsAttributes(f url.Values) map[string]string {
	attrs := map[string]string{}
	for i := 1; ; i++ {
		p := fmt.Sprintf("MessageAttributes.entry.%d.", i)
		name := f.Get(p + "Name")
		if name == "" {
			return attrs
		}
		attrs[name] = f.Get(p+"Value.DataType") + ":" + f.Get(p+"Value.StringValue")
	}
}

// snsTestEnv gives the SDK's standard chain static test credentials and nothing else to find.
func snsTestEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIDTRAILWATCHTEST",
		"AWS_SECRET_ACCESS_KEY":       "trailwatch-test-secret",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_SNS":        "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

// TestSNSPublishAgainstDocumentedResponses: see the comment at the top of this file for why the server
// is not a real SNS emulator.
func TestSNSPublishAgainstDocumentedResponses(t *testing.T) {
	snsTestEnv(t)
	rec := &snsRecorder{status: 200, body: snsPublishResponse}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)

	s, err := NewSNS(SNSConfig{TopicARN: "arn:aws:sns:eu-west-1:111122223333:pci-alerts", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	a := channelFinding()
	a.Title = "Root account used — console sign-in from a new country, which is worth a look by someone today"
	if err := s.Send(channelContext(t), a); err != nil {
		t.Fatalf("publish: %v", err)
	}
	f, auth := rec.last(t)
	if f.Get("Action") != "Publish" || f.Get("Version") != "2010-03-31" || f.Get("TopicArn") != "arn:aws:sns:eu-west-1:111122223333:pci-alerts" {
		t.Errorf("request %v", f)
	}
	if !strings.Contains(auth, "AWS4-HMAC-SHA256 Credential=AKIDTRAILWATCHTEST/") || !strings.Contains(auth, "/eu-west-1/sns/aws4_request") {
		t.Errorf("Authorization %q: want SigV4 for sns in the topic's region", auth)
	}
	subj := f.Get("Subject")
	if len(subj) >= 100 || !strings.HasPrefix(subj, "[trailwatch] HIGH: Root account used ? console sign-in") || !strings.HasSuffix(subj, "...") {
		t.Errorf("subject %q (%d characters): want ASCII, under 100", subj, len(subj))
	}
	for _, r := range subj {
		if r < 0x20 || r > 0x7e {
			t.Errorf("subject has %q", r)
		}
	}
	_, wantText, _ := Render(a)
	if f.Get("Message") != wantText {
		t.Errorf("message:\n%s\nwant:\n%s", f.Get("Message"), wantText)
	}
	attrs := snsAttributes(f)
	for k, want := range map[string]string{"level": "String:high", "rule": "String:root-account-usage", "account": "String:111122223333", "kind": "String:finding"} {
		if attrs[k] != want {
			t.Errorf("attribute %s = %q, want %q (all: %v)", k, attrs[k], want, attrs)
		}
	}
	if f.Has("MessageGroupId") || f.Has("MessageDeduplicationId") {
		t.Errorf("FIFO ids on a standard topic: %v", f)
	}

	// Errors, as SNS documents them, classified.
	for _, tc := range []struct {
		status          int
		typ, code, text string
		permanent       bool
	}{
		{404, "Sender", "NotFound", "Topic does not exist", true},
		{403, "Sender", "AuthorizationError", "User is not authorized to perform: SNS:Publish", true},
		{400, "Sender", "InvalidParameter", "Invalid parameter: Subject", true},
		{400, "Sender", "KMSDisabled", "The key is disabled", true},
		{403, "Sender", "ExpiredToken", "The security token included in the request is expired", false},
		{429, "Sender", "Throttled", "Rate exceeded", false},
		{400, "Sender", "KMSThrottling", "KMS rate exceeded", false},
		{400, "Sender", "Throttling", "Rate exceeded", false},
		{500, "Receiver", "InternalError", "Internal error", false},
		{503, "Receiver", "ServiceUnavailable", "Service unavailable", false},
	} {
		rec.answer(tc.status, fmt.Sprintf(snsErrorResponse, tc.typ, tc.code, tc.text))
		err := s.Send(channelContext(t), a)
		if err == nil {
			t.Errorf("%s: no error", tc.code)
			continue
		}
		if IsPermanent(err) != tc.permanent {
			t.Errorf("%s (HTTP %d): permanent = %v, want %v: %v", tc.code, tc.status, IsPermanent(err), tc.permanent, err)
		}
		if !strings.Contains(err.Error(), tc.code) {
			t.Errorf("%s: error %q does not name the code", tc.code, err)
		}
	}
	rec.mu.Lock()
	if n := len(rec.forms); n != 11 {
		t.Errorf("%d requests, want 11: the SDK must not retry on its own", n)
	}
	rec.mu.Unlock()
}

func TestSNSFIFOTopicAgainstDocumentedResponses(t *testing.T) {
	snsTestEnv(t)
	rec := &snsRecorder{status: 200, body: snsPublishFIFOResponse}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	s, err := NewSNS(SNSConfig{TopicARN: "arn:aws:sns:us-east-2:111122223333:pci-alerts.fifo", Endpoint: srv.URL, Name: "sns-fifo"})
	if err != nil {
		t.Fatal(err)
	}
	a := channelFinding()
	if err := s.Send(channelContext(t), a); err != nil {
		t.Fatal(err)
	}
	f, auth := rec.last(t)
	if f.Get("MessageGroupId") != a.Key || f.Get("MessageDeduplicationId") != a.Key {
		t.Errorf("group %q dedup %q, want the key %q", f.Get("MessageGroupId"), f.Get("MessageDeduplicationId"), a.Key)
	}
	if !strings.Contains(auth, "/us-east-2/sns/") {
		t.Errorf("Authorization %q: want the ARN's region", auth)
	}

	// A key SNS would refuse as an id is hashed, the same way every time.
	a.Key = "finding " + strings.Repeat("é", 100)
	for range 2 {
		if err := s.Send(channelContext(t), a); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256([]byte(a.Key))
	rec.mu.Lock()
	for _, f := range rec.forms[1:] {
		if f.Get("MessageDeduplicationId") != hex.EncodeToString(sum[:]) {
			t.Errorf("dedup id %q", f.Get("MessageDeduplicationId"))
		}
	}
	rec.mu.Unlock()
}

func TestSNSConfigAndLimits(t *testing.T) {
	snsTestEnv(t)
	err := SNSConfig{TopicARN: "arn:aws:sqs:eu-west-1:111122223333:queue", Endpoint: "ftp://x"}.Validate()
	if err == nil || !strings.Contains(err.Error(), "not an SNS topic ARN") || !strings.Contains(err.Error(), "endpoint") {
		t.Errorf("bad ARN and endpoint: %v", err)
	}
	if err := (SNSConfig{}).Validate(); err == nil || !strings.Contains(err.Error(), "topic_arn is required") {
		t.Errorf("no ARN: %v", err)
	}
	if err := (SNSConfig{TopicARN: "not-an-arn"}).Validate(); err == nil {
		t.Error("not an ARN accepted")
	}

	for in, want := range map[string]string{
		"":                       "trailwatch alert",
		"Daily review\n€ 5":      "Daily review ? 5",
		strings.Repeat("x", 150): strings.Repeat("x", 96) + "...",
	} {
		if got := snsSubject(in); got != want {
			t.Errorf("snsSubject(%.20q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("ü", snsMessageMax)
	s := &SNS{topic: "arn:aws:sns:eu-west-1:111122223333:t"}
	in := s.publishInput(Alert{Kind: "summary", Subject: "s", Text: long})
	if len(*in.Message) > snsMessageMax || !utf8.ValidString(*in.Message) {
		t.Errorf("message of %d bytes", len(*in.Message))
	}
	if in = s.publishInput(Alert{Kind: "test", Subject: "only a subject"}); *in.Message != "only a subject" {
		t.Errorf("empty text: message %q", *in.Message)
	}
}
