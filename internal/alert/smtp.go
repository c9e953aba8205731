package alert

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"
)

// SMTP TLS modes.
const (
	// SMTPStartTLS connects in plain text and upgrades with STARTTLS, which the server must offer (port 587).
	SMTPStartTLS = "starttls"
	// SMTPImplicitTLS speaks TLS from the first byte (port 465).
	SMTPImplicitTLS = "tls"
	// SMTPNoTLS sends in plain text: allowed only to a loopback host, e.g. a local relay.
	SMTPNoTLS = "none"
)

// Defaults of SMTPConfig.
const (
	smtpDefaultTimeout = 30 * time.Second
	smtpName           = "smtp"
)

// SMTPConfig configures the e-mail channel.
type SMTPConfig struct {
	// Name names the sink (default "smtp"); give each of several SMTP sinks its own.
	Name string `yaml:"name"`
	// Host and Port are the server's; Port defaults to 587 for starttls, 465 for tls and 25 for none.
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// TLS is "starttls" (the default), "tls" (implicit TLS) or "none" (loopback hosts only).
	TLS string `yaml:"tls"`
	// CAFile is a PEM file of CA certificates trusted besides the system's, for a server with a private CA.
	CAFile string `yaml:"ca_file"`
	// Username, when set, authenticates with AUTH PLAIN (over TLS) with Password.
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// From is the sender address, e.g. "trailwatch <trailwatch@example.com>".
	From string `yaml:"from"`
	// To are the recipients.
	To []string `yaml:"to"`
	// Timeout bounds one delivery (default 30s); the context's deadline, when sooner, wins.
	Timeout time.Duration `yaml:"timeout"`
}

// SMTP sends alerts as e-mail: a multipart/alternative message with a text and an HTML part, whose
// Message-ID is derived from the alert key so that receivers can drop a redelivered copy.
type SMTP struct {
	cfg      SMTPConfig
	password string
	tls      *tls.Config
	domain   string // of From, for Message-IDs
}

var _ Sink = (*SMTP)(nil)

// withDefaults fills in the name, TLS mode, port and timeout.
func (c SMTPConfig) withDefaults() SMTPConfig {
	if c.Name == "" {
		c.Name = smtpName
	}
	if c.TLS == "" {
		c.TLS = SMTPStartTLS
	}
	if c.Port == 0 {
		switch c.TLS {
		case SMTPImplicitTLS:
			c.Port = 465
		case SMTPNoTLS:
			c.Port = 25
		default:
			c.Port = 587
		}
	}
	if c.Timeout == 0 {
		c.Timeout = smtpDefaultTimeout
	}
	return c
}

// Validate checks the configuration without reading the password or the CA file, and returns every
// problem, joined.
func (c SMTPConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(c.Name+": "+format, args...)) }
	if c.Host == "" {
		bad("host is required")
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("port %d out of range", c.Port)
	}
	switch c.TLS {
	case SMTPStartTLS, SMTPImplicitTLS:
	case SMTPNoTLS:
		if c.Host != "" && !IsLoopbackHost(c.Host) {
			bad("tls: none is allowed only for a loopback host (localhost, 127.0.0.1, ::1), not %q", c.Host)
		}
		if c.CAFile != "" {
			bad("ca_file is set but tls is none")
		}
	default:
		bad("tls %q: want starttls, tls or none", c.TLS)
	}
	if c.Username != "" && c.Password.IsZero() {
		bad("username is set but password is not")
	}
	if c.Username == "" && !c.Password.IsZero() {
		bad("password is set but username is not")
	}
	if !c.Password.IsZero() {
		if err := c.Password.validate(); err != nil {
			bad("password: %v", err)
		}
	}
	if c.From == "" {
		bad("from is required")
	} else if _, err := netmail.ParseAddress(c.From); err != nil {
		bad("from %q: %v", c.From, err)
	}
	if len(c.To) == 0 {
		bad("to: at least one recipient is required")
	}
	for _, to := range c.To {
		if _, err := netmail.ParseAddress(to); err != nil {
			bad("to %q: %v", to, err)
		}
	}
	if c.Timeout < 0 {
		bad("timeout %s is negative", c.Timeout)
	}
	return errors.Join(errs...)
}

// NewSMTP validates the configuration, reads the password and the CA file, and returns the sink.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &SMTP{cfg: cfg}
	if cfg.Username != "" {
		pw, err := cfg.Password.Value()
		if err != nil {
			return nil, fmt.Errorf("%s: password: %w", cfg.Name, err)
		}
		s.password = pw
	}
	s.tls = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: ca_file: %w", cfg.Name, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: ca_file %s: no PEM certificate found", cfg.Name, cfg.CAFile)
		}
		s.tls.RootCAs = pool
	}
	from, _ := netmail.ParseAddress(cfg.From) // checked by Validate
	s.domain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	return s, nil
}

// Name returns the configured name, "smtp" by default.
func (s *SMTP) Name() string { return s.cfg.Name }

// Send renders the alert and delivers it as one message to every recipient. A 5xx answer (a rejected
// address, failed authentication) is Permanent; other failures are not.
func (s *SMTP) Send(ctx context.Context, a Alert) error {
	subject, text, html := Render(a)
	msg, err := s.message(a.Key, subject, text, html)
	if err != nil {
		return Permanent(fmt.Errorf("%s: build message: %w", s.cfg.Name, err))
	}
	return s.deliver(ctx, msg)
}

// message builds the MIME message: text part, HTML alternative, Message-ID from the key.
func (s *SMTP) message(key, subject, text, html string) (*mail.Msg, error) {
	m := mail.NewMsg()
	if err := m.From(s.cfg.From); err != nil {
		return nil, err
	}
	if err := m.To(s.cfg.To...); err != nil {
		return nil, err
	}
	m.Subject(subject)
	m.SetDateWithValue(time.Now())
	if key != "" {
		m.SetMessageIDWithValue(smtpMessageID(key, s.domain))
	} else {
		m.SetMessageID()
	}
	m.SetUserAgent("trailwatch")
	m.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated") // RFC 3834: no auto-replies
	m.SetBodyString(mail.TypeTextPlain, text)
	if html != "" {
		m.AddAlternativeString(mail.TypeTextHTML, html)
	}
	return m, nil
}

// deliver connects, authenticates and sends. The context bounds it all: its deadline caps the per-command
// timeout, and cancelling it closes the connection.
func (s *SMTP) deliver(ctx context.Context, msg *mail.Msg) error {
	where := fmt.Sprintf("%s: %s", s.cfg.Name, net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)))
	timeout := s.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if timeout <= 0 {
		return fmt.Errorf("%s: %w", where, context.DeadlineExceeded)
	}

	var (
		mu     sync.Mutex
		conn   net.Conn
		closed bool
	)
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		var err error
		if s.cfg.TLS == SMTPImplicitTLS {
			c, err = (&tls.Dialer{Config: s.tls.Clone()}).DialContext(dctx, network, addr)
		} else {
			c, err = (&net.Dialer{}).DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if closed {
			c.Close()
			return nil, ctx.Err()
		}
		conn = c
		return c, nil
	}
	closeConn := func() {
		mu.Lock()
		defer mu.Unlock()
		closed = true
		if conn != nil {
			conn.Close()
		}
	}
	stop := context.AfterFunc(ctx, closeConn) // unblocks a read or write in progress
	defer stop()
	defer closeConn() // go-mail leaves the connection open when the greeting, STARTTLS or AUTH fails

	opts := []mail.Option{
		mail.WithDialContextFunc(dial),
		mail.WithTimeout(timeout),
		mail.WithTLSConfig(s.tls),
	}
	switch s.cfg.TLS {
	case SMTPImplicitTLS:
		opts = append(opts, mail.WithSSL(), mail.WithTLSPolicy(mail.NoTLS)) // no STARTTLS inside TLS
	case SMTPNoTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain),
			mail.WithUsername(s.cfg.Username), mail.WithPassword(s.password))
	}
	opts = append(opts, mail.WithPort(s.cfg.Port))
	client, err := mail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return Permanent(fmt.Errorf("%s: %w", where, err))
	}
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return smtpError(ctx, where+": connect", err)
	}
	if err := client.SendWithSMTPClient(sc, msg); err != nil {
		_ = sc.Close()
		return smtpError(ctx, where+": send", err)
	}
	_ = client.CloseWithSMTPClient(sc) // the message is accepted: a failed QUIT changes nothing
	return nil
}

// smtpError wraps err: with the context's error when the context ended, as Permanent on a 5xx reply.
func smtpError(ctx context.Context, where string, err error) error {
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); cerr == nil && ok && !time.Now().Before(d) {
		// The connection's deadline is the context's: its i/o timeout can fire a moment before the
		// context's own timer marks the context done.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		return fmt.Errorf("%s: %w (%v)", where, cerr, err)
	}
	err = fmt.Errorf("%s: %w", where, err)
	var se *mail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		return Permanent(err)
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return Permanent(err)
	}
	return err
}

// smtpMessageID derives the Message-ID from the alert key: "<key@domain>" when the key is a plain dot-atom of
// at most 64 characters, else "<tw.HEX@domain>" with HEX from SHA-256 of the key. The same key gives the same
// Message-ID on every delivery attempt.
func smtpMessageID(key, domain string) string {
	left := key
	if !isDotAtom(key) || len(key) > 64 {
		sum := sha256.Sum256([]byte(key))
		left = "tw." + hex.EncodeToString(sum[:16])
	}
	if !isDotAtom(domain) {
		domain = "trailwatch.invalid"
	}
	return left + "@" + domain
}

// isDotAtom reports whether s is an RFC 5322 dot-atom-text: atext runs separated by single dots.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// IsLoopbackHost reports whether host is "localhost" or a loopback IP address (brackets allowed): a
// server reached only from this machine. The configuration uses it too, for serve's listen address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
