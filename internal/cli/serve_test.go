package cli_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/generate"
	"github.com/trailwatch/trailwatch/internal/testenv"
)

// hookReceiver is the loopback webhook endpoint: it checks the HMAC as the README tells a receiver to, and
// records each delivery by idempotency key.
type hookReceiver struct {
	secret string
	mu     sync.Mutex
	byKey  map[string]int
	rules  map[string]string // key -> rule
	events map[string]string // key -> event id
	got    chan string       // keys, as they arrive
	hang   chan struct{}     // when set, requests block here (a channel that hangs)
	hung   chan struct{}     // closed when the first request hangs
	bad    int               // deliveries whose signature did not verify
	once   sync.Once
}

func newHookReceiver(secret string) *hookReceiver {
	return &hookReceiver{secret: secret, byKey: map[string]int{}, rules: map[string]string{}, events: map[string]string{}, got: make(chan string, 1000), hung: make(chan struct{})}
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	hang := h.hang
	h.mu.Unlock()
	if hang != nil {
		h.once.Do(func() { close(h.hung) })
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	ts := r.Header.Get("X-Trailwatch-Timestamp")
	mac := hmac.New(sha256.New, []byte(h.secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	var a struct {
		Key     string `json:"key"`
		Rule    string `json:"rule"`
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(body, &a)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Trailwatch-Signature"))) || r.Header.Get("Idempotency-Key") != a.Key {
		h.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	h.byKey[a.Key]++
	h.rules[a.Key] = a.Rule
	h.events[a.Key] = a.EventID
	h.got <- a.Key
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) snapshot() (map[string]int, map[string]string, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.byKey), maps.Clone(h.rules), h.bad
}

// waitFor reads arriving keys until pred holds or the deadline passes.
func (h *hookReceiver) waitFor(t *testing.T, deadline time.Duration, pred func(rules map[string]string) bool) bool {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		if _, rules, _ := h.snapshot(); pred(rules) {
			return true
		}
		select {
		case <-h.got:
		case <-timer.C:
			return false
		}
	}
}

func hasRule(rule string) func(map[string]string) bool {
	return func(rules map[string]string) bool {
		for _, r := range rules {
			if r == rule {
				return true
			}
		}
		return false
	}
}

// serveProcess is a running `trailwatch serve`.
type serveProcess struct {
	cmd   *exec.Cmd
	ready chan struct{}
	done  chan error
	log   *strings.Builder
	mu    *sync.Mutex
}

func startServe(t *testing.T, env []string, cfg, metricsAddr string) *serveProcess {
	t.Helper()
	cmd := exec.Command(binPath, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, ready: make(chan struct{}), done: make(chan error, 1), log: &strings.Builder{}, mu: &sync.Mutex{}}
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.Contains(sc.Text(), "msg=ingested") || strings.Contains(sc.Text(), "daily review scheduled") {
				once.Do(func() { close(p.ready) })
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case <-p.ready:
	case err := <-p.done:
		t.Fatalf("serve exited: %v\n%s", err, p.logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start:\n%s", p.logs())
	}
	return p
}

func (p *serveProcess) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitDrained reads /metrics until the outbox has nothing pending.
func waitDrained(t *testing.T, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(b), "\n") {
			if line == "trailwatch_outbox_pending 0" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained within %s", within)
		}
		<-tick.C
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// uploadDay puts one generated day's files into the bucket.
func uploadDay(t *testing.T, m *testenv.MinIO, bucket, dir, day string) int {
	t.Helper()
	n := 0
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.Contains(filepath.ToSlash(p), "/"+strings.ReplaceAll(day, "-", "/")+"/") {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m.Put(t, bucket, filepath.ToSlash(rel), b)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// End to end: serve watches a real S3-compatible server; yesterday's logs are there at start, today's
// (with a planted root sign-in) arrive later; the alert arrives by e-mail and by webhook within two poll
// intervals; a kill -9 while a webhook delivery hangs, then a restart, loses nothing and sends nothing twice.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MinIO and Mailpit")
	}
	m := testenv.StartMinIO(t)
	mp := testenv.StartMailpit(t, testenv.MailpitOptions{Username: "trailwatch", Password: "s3cret-pass"})
	hook := newHookReceiver("hook-secret")
	hs := httptest.NewServer(hook)
	defer hs.Close()

	today := time.Now().UTC().Truncate(24 * time.Hour)
	gen := t.TempDir()
	if _, err := generate.Run(context.Background(), generate.Options{Out: gen, Accounts: 2, Regions: 1, Days: 2, End: today, EventsPerDay: 1500, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	m.MakeBucket(t, "org-trail")
	uploadDay(t, m, "org-trail", gen, today.AddDate(0, 0, -1).Format("2006-01-02"))

	work := t.TempDir()
	secretFile := filepath.Join(work, "hook.secret")
	if err := os.WriteFile(secretFile, []byte("hook-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	metrics := freePort(t)
	const interval = 8 * time.Second
	cfg := filepath.Join(work, "trailwatch.yaml")
	cfgText := fmt.Sprintf(`store: ./tw.duckdb
sources:
  - location: s3://org-trail/
    endpoint: %s
alerts:
  level: high
  dedupe_window: 0s
  digest_over: 0
  rate_per_minute: 0
  channels:
    - name: mail
      smtp:
        host: %s
        port: %d
        tls: starttls
        ca_file: %s
        username: trailwatch
        password: {env: TEST_SMTP_PASSWORD}
        from: trailwatch <trailwatch@example.com>
        to: [security@example.com]
    - name: hook
      webhook:
        url: %s/hook
        secret: {file: %s}
serve:
  listen: %s
  poll_interval: %s
  outbox: ./outbox.db
review:
  out: ./evidence
`, m.Endpoint, mp.Host, mp.Port, mp.CAFile, hs.URL, secretFile, metrics, interval)
	if err := os.WriteFile(cfg, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(m.Env(), "TEST_SMTP_PASSWORD=s3cret-pass", "TRAILWATCH_DB=")
	if r := mustRun(t, env, "config", "check", cfg); !strings.Contains(r.stdout, "ok (1 sources, 2 channels") {
		t.Fatalf("config check: %s", r.stdout)
	}
	r := mustRun(t, env, "alert", "test", "--config", cfg)
	if !strings.Contains(r.stdout, "OK   hook") || !strings.Contains(r.stdout, "OK   mail") {
		t.Fatalf("alert test: %s", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, "s3cret-pass") || strings.Contains(r.stdout+r.stderr, "hook-secret") {
		t.Fatal("a secret was printed")
	}

	p := startServe(t, env, cfg, metrics)
	resp, err := http.Get("http://" + metrics + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	// Today's files arrive, the planted root sign-in among them.
	arrived := time.Now()
	uploadDay(t, m, "org-trail", gen, today.Format("2006-01-02"))
	if !hook.waitFor(t, 2*interval, hasRule("root_console_login")) {
		t.Fatalf("no root sign-in alert by webhook within two poll intervals (%s)\n%s", 2*interval, p.logs())
	}
	took := time.Since(arrived)
	// The e-mail goes out in the same dispatch round; Mailpit's API is read until it shows it.
	mailed := func() (bool, []string) {
		var subjects []string
		for _, msg := range mp.Messages(t) {
			subjects = append(subjects, msg.Subject)
			if strings.Contains(msg.Subject, "root_console_login") || strings.Contains(strings.ToLower(msg.Subject), "root") && !strings.Contains(msg.Subject, "test message") {
				return true, subjects
			}
		}
		return false, subjects
	}
	deadline := time.Now().Add(2*interval - took)
	for ok, subjects := mailed(); !ok; ok, subjects = mailed() {
		if time.Now().After(deadline) {
			t.Fatalf("no root sign-in e-mail within two poll intervals; subjects: %q\n%s", subjects, p.logs())
		}
		select {
		case <-hook.got: // another delivery: look again
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Logf("root sign-in alert by webhook %s after the files arrived", took.Round(100*time.Millisecond))

	resp, err = http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"trailwatch_files_total", "trailwatch_alerts_sent_total", "trailwatch_log_lag_seconds", "trailwatch_rule_run_seconds"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Let the outbox drain (the other alerts of the day go out after the root sign-in's), then SIGTERM: a
	// clean stop.
	waitDrained(t, metrics, 4*interval)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-p.done; err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, p.logs())
	}
	if strings.Contains(p.logs(), "s3cret-pass") || strings.Contains(p.logs(), "hook-secret") {
		t.Fatal("a secret was logged")
	}
	before, _, _ := hook.snapshot()

	// kill -9 while a delivery hangs: a new alerting event arrives, the webhook hangs on it, serve is
	// killed; restarted (the webhook answering again), it delivers it once more under the same key.
	hook.mu.Lock()
	hook.hang = make(chan struct{})
	hook.mu.Unlock()
	p = startServe(t, env, cfg, metrics)
	extra := strings.Replace(rootLoginRecord, "{TIME}", time.Now().UTC().Format(time.RFC3339), 1)
	acct := firstAccount(t, gen)
	key := fmt.Sprintf("AWSLogs/o-test/%s/CloudTrail/us-east-1/%s/%s_CloudTrail_us-east-1_%sZ_late.json", acct, today.Format("2006/01/02"), acct, time.Now().UTC().Format("20060102T1504"))
	m.Put(t, "org-trail", key, []byte(`{"Records":[`+extra+`]}`))
	select {
	case <-hook.hung:
	case <-time.After(4 * interval):
		t.Fatalf("the new alert was not sent\n%s", p.logs())
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
	hook.mu.Lock()
	close(hook.hang)
	hook.hang = nil
	hook.mu.Unlock()
	p = startServe(t, env, cfg, metrics)
	if !hook.waitFor(t, 4*interval, func(rules map[string]string) bool { return len(rules) > len(before) }) {
		t.Fatalf("the interrupted alert was not delivered after the restart\n%s", p.logs())
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	after, _, bad := hook.snapshot()
	if bad > 0 {
		t.Errorf("%d deliveries with a bad signature", bad)
	}
	// Every alert delivered before the kill exactly once; the one interrupted by the kill once or twice (if
	// the receiver took it in just before the sender died), always under its one key: a receiver that
	// dedupes on Idempotency-Key sees every alert exactly once. Nothing is lost.
	hook.mu.Lock()
	events := maps.Clone(hook.events)
	hook.mu.Unlock()
	added := 0
	for k, n := range after {
		_, old := before[k]
		if old && n != 1 || !old && (n < 1 || n > 2) {
			t.Errorf("alert %s accepted %d times (delivered before the kill: %v)", k, n, old)
		}
		if !old {
			added++
			if events[k] != rootLoginID {
				t.Errorf("after the restart, alert %s for event %s: only the new root sign-in's alerts were due", k, events[k])
			}
		}
	}
	if added == 0 {
		t.Errorf("the root sign-in that arrived before the kill was never delivered")
	}
}

func firstAccount(t *testing.T, gen string) string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(gen, "AWSLogs", "*", "*"))
	if len(ms) == 0 {
		t.Fatal("no account folder")
	}
	return filepath.Base(ms[0])
}

// rootLoginID is the event id of rootLoginRecord.
const rootLoginID = "5b1c7a4e-9d1f-4c8e-b2a3-0e6f7a8b9c01"

// rootLoginRecord is a root console sign-in, as CloudTrail records it.
const rootLoginRecord = `{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},"eventTime":"{TIME}","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.77","userAgent":"Mozilla/5.0","requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/","MobileVersion":"No","MFAUsed":"No"},"eventID":"5b1c7a4e-9d1f-4c8e-b2a3-0e6f7a8b9c01","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`
