package testenv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
)

// How long StartMailpit waits for the server to come up, and Cleanup for it to stop.
const (
	mailpitStartTimeout = 30 * time.Second
	mailpitStopTimeout  = 10 * time.Second
)

// MailpitOptions chooses how a Mailpit server is set up. The zero value requires STARTTLS and accepts no
// login.
type MailpitOptions struct {
	// ImplicitTLS makes the SMTP port speak TLS from the first byte (465 style) instead of requiring
	// STARTTLS (587 style).
	ImplicitTLS bool
	// Username and Password, when set, are the only login the server accepts (AUTH PLAIN or LOGIN).
	// Neither may contain white space (Mailpit's password file splits on it).
	Username, Password string
	// Chaos enables Mailpit's chaos API, for FailRecipients.
	Chaos bool
}

// Mailpit is a Mailpit SMTP server started for one test: SMTP with TLS on a loopback port, with a
// self-signed certificate for 127.0.0.1 and localhost, and its REST API on another loopback port.
type Mailpit struct {
	// Host and Port are the SMTP server's (Host is 127.0.0.1).
	Host string
	Port int
	// CAFile is a PEM file with the server's self-signed certificate: trust it to verify the server.
	CAFile string
	// API is the base URL of the REST API, e.g. http://127.0.0.1:41234.
	API string
}

// MailpitSummary is one message in the API's message list.
type MailpitSummary struct {
	ID        string
	MessageID string
	Subject   string
}

// MailpitAddress is a mailbox in a MailpitMessage.
type MailpitAddress struct {
	Name    string
	Address string
}

// MailpitMessage is a received message, as the REST API shows it.
type MailpitMessage struct {
	ID        string
	MessageID string
	From      MailpitAddress
	To        []MailpitAddress
	Subject   string
	// Username is the login the message was sent with ("" without authentication).
	Username string
	// Text and HTML are the decoded text and HTML parts.
	Text, HTML string
}

// StartMailpit starts a Mailpit server for the test and stops it when the test ends. The binary is the one
// named by $MAILPIT_BIN, else mailpit on $PATH, else $(go env GOPATH)/bin/mailpit. Without one the test is
// skipped, or fails when TRAILWATCH_REQUIRE_MAILPIT=1 (as in CI); scripts/install-mailpit.sh installs it.
// With -short the test is skipped.
func StartMailpit(t testing.TB, opts MailpitOptions) *Mailpit {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Mailpit server: skipped with -short")
	}
	bin, err := findServer("MAILPIT_BIN", "mailpit")
	if err != nil {
		Missing(t, "TRAILWATCH_REQUIRE_MAILPIT", fmt.Sprintf("Mailpit server not found (%v): run scripts/install-mailpit.sh, or set MAILPIT_BIN", err))
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := writeSelfSigned(certFile, keyFile); err != nil {
		t.Fatalf("mailpit certificate: %v", err)
	}
	var authFile string
	if strings.ContainsFunc(opts.Username+opts.Password, unicode.IsSpace) {
		t.Fatal("StartMailpit: the username and password may not contain white space")
	}
	if opts.Username != "" {
		authFile = filepath.Join(dir, "smtp-auth")
		// Mailpit reads an htpasswd file; a plain "user:password" line is one of its formats.
		if err := os.WriteFile(authFile, []byte(opts.Username+":"+opts.Password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // another process may take a free port before Mailpit does
		m, err := startMailpit(t, bin, dir, certFile, keyFile, authFile, opts)
		if err == nil {
			return m
		}
		lastErr = err
	}
	t.Fatalf("start Mailpit %s: %v", bin, lastErr)
	return nil
}

func startMailpit(t testing.TB, bin, dir, certFile, keyFile, authFile string, opts MailpitOptions) (*Mailpit, error) {
	smtpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--smtp", smtpAddr,
		"--listen", apiAddr,
		"--database", filepath.Join(dir, fmt.Sprintf("mailpit-%d.db", time.Now().UnixNano())),
		"--smtp-tls-cert", certFile,
		"--smtp-tls-key", keyFile,
		"--disable-version-check",
		"--smtp-disable-rdns",
	}
	if opts.ImplicitTLS {
		args = append(args, "--smtp-require-tls")
	} else {
		args = append(args, "--smtp-require-starttls")
	}
	if authFile != "" {
		args = append(args, "--smtp-auth-file", authFile)
	}
	if opts.Chaos {
		args = append(args, "--enable-chaos")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = mailpitEnv()
	host, portStr, _ := net.SplitHostPort(smtpAddr)
	port, _ := strconv.Atoi(portStr)
	m := &Mailpit{Host: host, Port: port, CAFile: certFile, API: "http://" + apiAddr}
	ready := func(exited <-chan struct{}) error { return m.waitReady(smtpAddr, exited) }
	if err := runServer(t, "Mailpit", cmd, mailpitStopTimeout, ready); err != nil {
		return nil, err
	}
	return m, nil
}

// mailpitEnv is the environment without Mailpit's own MP_* settings, which would override the flags.
func mailpitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MP_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady polls /readyz and the SMTP port until both answer, the process exits, or the deadline passes.
func (m *Mailpit) waitReady(smtpAddr string, exited <-chan struct{}) error {
	deadline := time.NewTimer(mailpitStartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	for {
		if resp, err := client.Get(m.API + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if c, err := net.DialTimeout("tcp", smtpAddr, time.Second); err == nil {
					c.Close()
					return nil
				}
			}
		}
		select {
		case <-exited:
			return errExited
		case <-deadline.C:
			return fmt.Errorf("mailpit not ready after %s", mailpitStartTimeout)
		case <-tick.C:
		}
	}
}

// Messages lists the received messages, newest first.
func (m *Mailpit) Messages(t testing.TB) []MailpitSummary {
	t.Helper()
	var list struct{ Messages []MailpitSummary }
	m.getJSON(t, "/api/v1/messages", &list)
	return list.Messages
}

// Message returns a received message by its Mailpit ID.
func (m *Mailpit) Message(t testing.TB, id string) MailpitMessage {
	t.Helper()
	var msg MailpitMessage
	m.getJSON(t, "/api/v1/message/"+url.PathEscape(id), &msg)
	return msg
}

// Headers returns a received message's headers, each with all its values.
func (m *Mailpit) Headers(t testing.TB, id string) map[string][]string {
	t.Helper()
	h := map[string][]string{}
	m.getJSON(t, "/api/v1/message/"+url.PathEscape(id)+"/headers", &h)
	return h
}

// Raw returns a received message's source as the server got it.
func (m *Mailpit) Raw(t testing.TB, id string) []byte {
	t.Helper()
	return m.call(t, http.MethodGet, "/api/v1/message/"+url.PathEscape(id)+"/raw", nil)
}

// FailRecipients makes the server answer every RCPT TO with the SMTP reply code (4xx or 5xx); 0 turns it
// off. The server must have been started with Chaos.
func (m *Mailpit) FailRecipients(t testing.TB, code int) {
	t.Helper()
	trigger := map[string]int{"ErrorCode": 451, "Probability": 0}
	if code != 0 {
		trigger = map[string]int{"ErrorCode": code, "Probability": 100}
	}
	body, _ := json.Marshal(map[string]any{"Recipient": trigger})
	m.call(t, http.MethodPut, "/api/v1/chaos", body)
}

func (m *Mailpit) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(m.call(t, http.MethodGet, path, nil), v); err != nil {
		t.Fatalf("mailpit %s: decode: %v", path, err)
	}
}

func (m *Mailpit) call(t testing.TB, method, path string, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, m.API+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("mailpit %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("mailpit %s %s: read: %v", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit %s %s: HTTP %d: %s", method, path, resp.StatusCode, b)
	}
	return b
}

// writeSelfSigned writes a self-signed ECDSA certificate for 127.0.0.1, ::1 and localhost, valid for a day,
// and its key, as PEM files.
func writeSelfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "trailwatch test SMTP server"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}
