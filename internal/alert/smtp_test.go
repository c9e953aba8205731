package alert

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/testenv"
)

// smtpTestConfig is a configuration for a Mailpit server started by testenv.
func smtpTestConfig(mp *testenv.Mailpit, tlsMode string) SMTPConfig {
	return SMTPConfig{
		Host:   mp.Host,
		Port:   mp.Port,
		TLS:    tlsMode,
		CAFile: mp.CAFile,
		From:   "trailwatch <alerts@pci.example.com>",
		To:     []string{"soc@example.com", "PCI Team <pci@example.com>"},
	}
}

func smtpTestContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSMTPStartTLSWithAuth delivers a finding to a real SMTP server (Mailpit) over STARTTLS with AUTH
// PLAIN, and reads it back through Mailpit's API: subject, both parts, escaping, Message-ID, login.
func TestSMTPStartTLSWithAuth(t *testing.T) {
	mp := testenv.StartMailpit(t, testenv.MailpitOptions{Username: "trailwatch", Password: "correct-horse-staple"})
	pwFile := filepath.Join(t.TempDir(), "smtp-password")
	if err := os.WriteFile(pwFile, []byte("correct-horse-staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := smtpTestConfig(mp, SMTPStartTLS)
	cfg.Username, cfg.Password = "trailwatch", Secret{File: pwFile}
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := channelFinding()
	if err := s.Send(smtpTestContext(t), a); err != nil {
		t.Fatalf("send: %v", err)
	}

	list := mp.Messages(t)
	if len(list) != 1 {
		t.Fatalf("%d messages received, want 1", len(list))
	}
	msg := mp.Message(t, list[0].ID)
	wantSubject, wantText, _ := Render(a)
	if msg.Subject != wantSubject {
		t.Errorf("subject = %q, want %q", msg.Subject, wantSubject)
	}
	if msg.MessageID != "f-3b5c1e2a9d@pci.example.com" {
		t.Errorf("Message-ID = %q, want f-3b5c1e2a9d@pci.example.com", msg.MessageID)
	}
	if msg.Username != "trailwatch" {
		t.Errorf("authenticated as %q, want trailwatch", msg.Username)
	}
	if msg.From.Address != "alerts@pci.example.com" || len(msg.To) != 2 || msg.To[1].Address != "pci@example.com" {
		t.Errorf("from %+v to %+v", msg.From, msg.To)
	}
	if got := strings.ReplaceAll(msg.Text, "\r\n", "\n"); strings.TrimSpace(got) != strings.TrimSpace(wantText) { // e-mail lines end in CRLF
		t.Errorf("text part:\n%s\nwant:\n%s", msg.Text, wantText)
	}
	if !strings.Contains(msg.Text, `User agent:      <script>alert("x")</script> Mozilla/5.0`) {
		t.Errorf("text part lost the user agent:\n%s", msg.Text)
	}
	if strings.Contains(msg.HTML, "<script>") || !strings.Contains(msg.HTML, "&lt;script&gt;") {
		t.Errorf("HTML part does not escape the user agent:\n%s", msg.HTML)
	}
	if !strings.Contains(msg.HTML, "&lt;!channel&gt; &amp; co") || !strings.Contains(msg.HTML, "Root account used") {
		t.Errorf("HTML part:\n%s", msg.HTML)
	}

	raw := string(mp.Raw(t, list[0].ID))
	for _, want := range []string{"Content-Type: multipart/alternative", "Content-Type: text/plain; charset=UTF-8",
		"Content-Type: text/html; charset=UTF-8", "Message-ID: <f-3b5c1e2a9d@pci.example.com>", "Auto-Submitted: auto-generated"} {
		if !strings.Contains(raw, want) {
			t.Errorf("raw message lacks %q:\n%s", want, raw)
		}
	}
	if strings.Index(raw, "text/plain") > strings.Index(raw, "text/html") {
		t.Error("the HTML part comes first: clients show the last alternative they can, so text must come first")
	}

	// A redelivery of the same alert carries the same Message-ID, so the receiver can drop it.
	if err := s.Send(smtpTestContext(t), a); err != nil {
		t.Fatal(err)
	}
	list = mp.Messages(t)
	if len(list) != 2 || list[0].MessageID != list[1].MessageID {
		t.Errorf("redelivery: %+v", list)
	}
}

// TestSMTPImplicitTLS delivers a digest over implicit TLS (465 style) with AUTH PLAIN.
func TestSMTPImplicitTLS(t *testing.T) {
	mp := testenv.StartMailpit(t, testenv.MailpitOptions{ImplicitTLS: true, Username: "relay", Password: "pw-465"})
	t.Setenv("TW_TEST_SMTP_PASSWORD", "pw-465")
	cfg := smtpTestConfig(mp, SMTPImplicitTLS)
	cfg.Username, cfg.Password = "relay", Secret{Env: "TW_TEST_SMTP_PASSWORD"}
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	digest := Alert{Key: "digest-0a1b", Kind: "digest", Subject: "[trailwatch] Digest: 2 alerts",
		Members: []Alert{channelFinding(), channelFinding()}}
	if err := s.Send(smtpTestContext(t), digest); err != nil {
		t.Fatalf("send: %v", err)
	}
	list := mp.Messages(t)
	if len(list) != 1 {
		t.Fatalf("%d messages, want 1", len(list))
	}
	msg := mp.Message(t, list[0].ID)
	if msg.Subject != "[trailwatch] Digest: 2 alerts" || msg.MessageID != "digest-0a1b@pci.example.com" || msg.Username != "relay" {
		t.Errorf("got %+v", msg)
	}
	if strings.Count(msg.Text, "- HIGH: Root account used") != 2 || strings.Count(msg.HTML, "<li>") != 2 {
		t.Errorf("digest bodies:\n%s\n%s", msg.Text, msg.HTML)
	}

	// Without the CA the send fails: the server's certificate is verified.
	cfg.CAFile = ""
	s, err = NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(smtpTestContext(t), channelFinding())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
	if IsPermanent(err) {
		t.Errorf("a certificate problem is retryable (it may be renewed): %v", err)
	}
}

// TestSMTPClassifiesReplies checks, against Mailpit's chaos triggers, that a 5xx reply is permanent and a
// 4xx reply retryable, and that a wrong password is permanent.
func TestSMTPClassifiesReplies(t *testing.T) {
	mp := testenv.StartMailpit(t, testenv.MailpitOptions{Chaos: true, Username: "trailwatch", Password: "right"})
	t.Setenv("TW_TEST_SMTP_PASSWORD", "right")
	cfg := smtpTestConfig(mp, SMTPStartTLS)
	cfg.Username, cfg.Password = "trailwatch", Secret{Env: "TW_TEST_SMTP_PASSWORD"}
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}

	mp.FailRecipients(t, 550)
	err = s.Send(smtpTestContext(t), channelFinding())
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "550") {
		t.Errorf("550 on RCPT: %v (permanent: %v), want a permanent error", err, IsPermanent(err))
	}
	mp.FailRecipients(t, 451)
	err = s.Send(smtpTestContext(t), channelFinding())
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "451") {
		t.Errorf("451 on RCPT: %v (permanent: %v), want a retryable error", err, IsPermanent(err))
	}
	mp.FailRecipients(t, 0)
	if err := s.Send(smtpTestContext(t), channelFinding()); err != nil {
		t.Errorf("after the chaos: %v", err)
	}
	if n := len(mp.Messages(t)); n != 1 {
		t.Errorf("%d messages stored, want 1", n)
	}

	t.Setenv("TW_TEST_SMTP_PASSWORD", "wrong")
	s, err = NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(smtpTestContext(t), channelFinding())
	if err == nil || !IsPermanent(err) {
		t.Errorf("wrong password: %v (permanent: %v), want a permanent error", err, IsPermanent(err))
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestSMTPContextEndsAStalledSession talks to a server that accepts the connection and never greets: the
// context's deadline must end the send, with the context's error.
func TestSMTPContextEndsAStalledSession(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
			_, _ = bufio.NewReader(c).ReadString('\n') // read nothing useful; wait for the client to give up
		}
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	p, _ := strconv.Atoi(port)
	s, err := NewSMTP(SMTPConfig{Host: host, Port: p, TLS: SMTPNoTLS, From: "a@example.com", To: []string{"b@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, channelFinding())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
	if IsPermanent(err) {
		t.Error("a timeout is retryable")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("send took %s after a 300ms deadline", d)
	}
	select {
	case c := <-accepted:
		c.Close()
	default:
	}
}

func TestSMTPConfigValidate(t *testing.T) {
	err := SMTPConfig{
		Host:     "smtp.example.com",
		TLS:      SMTPNoTLS,
		Username: "u",
		From:     "not an address",
		To:       []string{"ok@example.com", "bad"},
		Port:     70000,
	}.Validate()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{
		"port 70000 out of range",
		`tls: none is allowed only for a loopback host`,
		"username is set but password is not",
		`from "not an address"`,
		`to "bad"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if err := (SMTPConfig{Host: "127.0.0.1", TLS: SMTPNoTLS, From: "a@example.com", To: []string{"b@example.com"}}).Validate(); err != nil {
		t.Errorf("tls none to loopback: %v", err)
	}
	if err := (SMTPConfig{Host: "smtp.example.com", TLS: "ssl", From: "a@example.com"}).Validate(); err == nil ||
		!strings.Contains(err.Error(), `tls "ssl"`) || !strings.Contains(err.Error(), "at least one recipient") {
		t.Errorf("bad tls mode and no recipient: %v", err)
	}
	if _, err := NewSMTP(SMTPConfig{Host: "smtp.example.com", CAFile: filepath.Join(t.TempDir(), "none.pem"),
		From: "a@example.com", To: []string{"b@example.com"}}); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Errorf("missing CA file: %v", err)
	}
	if _, err := NewSMTP(SMTPConfig{Host: "smtp.example.com", Username: "u", Password: Secret{Env: "TW_TEST_NOT_SET"},
		From: "a@example.com", To: []string{"b@example.com"}}); err == nil || !strings.Contains(err.Error(), "TW_TEST_NOT_SET") {
		t.Errorf("unset password variable: %v", err)
	}
}

func TestSMTPMessageID(t *testing.T) {
	if got := smtpMessageID("f-3b5c1e2a9d", "example.com"); got != "f-3b5c1e2a9d@example.com" {
		t.Errorf("plain key: %q", got)
	}
	// Keys that are not a dot-atom, or too long, are hashed: stable, distinct, valid.
	seen := map[string]string{}
	for _, key := range []string{"rule/acct:1 x", "a..b", "<k>", strings.Repeat("k", 65), "ключ"} {
		got := smtpMessageID(key, "example.com")
		left, domain, _ := strings.Cut(got, "@")
		if !strings.HasPrefix(left, "tw.") || len(left) != 35 || !isDotAtom(left) || domain != "example.com" {
			t.Errorf("smtpMessageID(%q) = %q", key, got)
		}
		if got != smtpMessageID(key, "example.com") {
			t.Errorf("smtpMessageID(%q) is not stable", key)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("keys %q and %q share %q", key, other, got)
		}
		seen[got] = key
	}
}
