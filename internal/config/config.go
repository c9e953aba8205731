// Package config reads trailwatch's configuration file: strict YAML (unknown keys are errors) and a
// Validate that lists every problem with its line.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/rulefmt"
	"github.com/trailwatch/trailwatch/internal/sigma"
)

// Example is a commented example configuration (trailwatch config example).
//
//go:embed example.yaml
var Example string

// DefaultFile is the configuration file trailwatch reads when none is named and it exists.
const DefaultFile = "trailwatch.yaml"

// Config is the whole configuration.
type Config struct {
	// Path is the file the configuration came from ("" for the default).
	Path string `yaml:"-"`
	// Store is the store file; the --db flag and TRAILWATCH_DB take precedence.
	Store string `yaml:"store"`
	// Rules configures the rule library.
	Rules Rules `yaml:"rules"`
	// Sources are where the CloudTrail logs come from: S3 trail buckets or folders. The review reads how
	// far back they go (PCI DSS 10.5.1).
	Sources []Source `yaml:"sources"`
	// Review configures the daily review and its evidence bundles.
	Review Review `yaml:"review"`
	// Alerts configures notifications: channels, routing, deduplication, rate limits, digests.
	Alerts Alerts `yaml:"alerts"`
	// Serve configures the long-running process.
	Serve Serve `yaml:"serve"`

	lines map[string]int
}

// Alerts configures notifications.
type Alerts struct {
	// Level is the lowest rule level that alerts (default high); rules with alert: true always alert.
	Level string `yaml:"level"`
	// Channels are where alerts go, each with a name and exactly one kind.
	Channels []Channel `yaml:"channels"`
	// Routes send alerts to channels by rule, level and account; the first route that matches decides.
	// Without routes every alert goes to every channel.
	Routes []Route `yaml:"routes"`
	// Summary names the channels that receive the daily review's summary (default: all).
	Summary []string `yaml:"summary"`
	// AccountAliases name accounts in messages.
	AccountAliases map[string]string `yaml:"account_aliases"`
	// DedupeWindow: the same rule, principal and resource alerts once per window (default 1h; 0s turns it off).
	DedupeWindow *time.Duration `yaml:"dedupe_window"`
	// RatePerMinute caps messages per channel and minute (default 30; 0 means no limit).
	RatePerMinute *int `yaml:"rate_per_minute"`
	// DigestOver: more alerts than this due at once for a channel go as one digest (default 10; 0 off).
	DigestOver *int `yaml:"digest_over"`
}

// Channel is one destination. Exactly one of the kinds is set.
type Channel struct {
	Name    string               `yaml:"name"`
	SMTP    *alert.SMTPConfig    `yaml:"smtp"`
	Slack   *alert.SlackConfig   `yaml:"slack"`
	SNS     *alert.SNSConfig     `yaml:"sns"`
	Webhook *alert.WebhookConfig `yaml:"webhook"`
	File    *alert.FileConfig    `yaml:"file"`
}

// Route sends the alerts it matches to its channels. Empty lists match everything.
type Route struct {
	Rules    []string `yaml:"rules"`
	Levels   []string `yaml:"levels"`
	Accounts []string `yaml:"accounts"`
	Channels []string `yaml:"channels"`
}

// Serve configures trailwatch serve.
type Serve struct {
	// Listen is the address of /healthz, /readyz and /metrics (default 127.0.0.1:9107). An address beyond
	// loopback needs MetricsToken.
	Listen string `yaml:"listen"`
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken alert.Secret `yaml:"metrics_token"`
	// PollInterval is the time between polls of the sources (default 5m).
	PollInterval time.Duration `yaml:"poll_interval"`
	// ReviewSchedule is a cron expression in review.time_zone for the daily review (default "30 6 * * *").
	ReviewSchedule string `yaml:"review_schedule"`
	// Outbox is the alert outbox file (default: trailwatch-outbox.db beside the store).
	Outbox string `yaml:"outbox"`
}

// Source is one place logs come from.
type Source struct {
	// Location is s3://bucket/prefix or a folder.
	Location string `yaml:"location"`
	// Endpoint and Region are for S3: an S3-compatible endpoint, and the bucket's region.
	Endpoint string `yaml:"endpoint"`
	Region   string `yaml:"region"`
}

// Review configures the daily review.
type Review struct {
	// Out is the evidence folder (a bundle per day goes in Out/<day>/), or s3://bucket/prefix.
	Out string `yaml:"out"`
	// TimeZone is the zone days are reviewed in (IANA name; default UTC).
	TimeZone string `yaml:"time_zone"`
	// SigningKey is a PEM file with an ed25519 private key (PKCS #8) that signs manifests and acks.
	SigningKey string `yaml:"signing_key"`
	// Suppressions is the suppressions file (exceptions as code, 10.4.3).
	Suppressions string `yaml:"suppressions"`
	// Accounts and Regions are those expected to deliver logs every hour; empty means "those seen in the
	// previous 7 days".
	Accounts StringList `yaml:"accounts"`
	Regions  StringList `yaml:"regions"`
	// ObjectLock, for an s3:// Out, keeps each bundle object under S3 Object Lock.
	ObjectLock ObjectLock `yaml:"object_lock"`
}

// ObjectLock is an S3 Object Lock retention.
type ObjectLock struct {
	Mode string `yaml:"mode"` // GOVERNANCE or COMPLIANCE
	Days int    `yaml:"days"`
}

// Location returns the review time zone.
func (r Review) Location() (*time.Location, error) {
	if r.TimeZone == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(r.TimeZone)
}

// Rules configures the rule library.
type Rules struct {
	// Folders hold rules of one's own, added to the built-in library (a rule with a built-in rule's id
	// replaces it).
	Folders []string `yaml:"folders"`
	// Params are the organisation's values the rules use (see sigma.ParamDocs).
	Params map[string]StringList `yaml:"params"`
}

// StringList is a YAML string or list of strings.
type StringList []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (s *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*s = nil
			return nil
		}
		*s = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(StringList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: want a string, found %s", c.Line, rulefmt.KindName(c))
			}
			out = append(out, c.Value)
		}
		*s = out
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings, found %s", n.Line, rulefmt.KindName(n))
}

// Default returns the configuration used without a file.
func Default() *Config { return &Config{} }

var lineRE = regexp.MustCompile(`^line (\d+): `)

// Load reads and validates a configuration file. Every problem is reported as "file:line: message".
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c := &Config{Path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				msgs[i] = path + ":" + lineRE.ReplaceAllString(m, "$1: ")
			}
			return nil, errors.New(strings.Join(msgs, "\n"))
		}
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil {
		c.lines = map[string]int{}
		indexLines(&doc, "", c.lines)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func indexLines(n *yaml.Node, prefix string, out map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, prefix, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := prefix + n.Content[i].Value
			out[key] = n.Content[i].Line
			indexLines(n.Content[i+1], key+".", out)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			key := prefix + strconv.Itoa(i)
			out[key] = item.Line
			indexLines(item, key+".", out)
		}
	}
}

func (c *Config) at(key string) string {
	if n, ok := c.lines[key]; ok {
		return fmt.Sprintf("%s:%d", c.Path, n)
	}
	if c.Path == "" {
		return "config"
	}
	return c.Path
}

// Validate checks the configuration and returns every problem, one per line.
func (c *Config) Validate() error {
	var msgs []string
	for _, m := range c.Params().Validate() {
		key := "rules.params"
		if name, _, ok := strings.Cut(m, ":"); ok {
			key += "." + name
		}
		msgs = append(msgs, c.at(key)+": "+m)
	}
	for _, f := range c.Rules.Folders {
		if st, err := os.Stat(c.Resolve(f)); err != nil || !st.IsDir() {
			msgs = append(msgs, fmt.Sprintf("%s: rules folder %s does not exist", c.at("rules.folders"), f))
		}
	}
	for i, src := range c.Sources {
		where := c.at(fmt.Sprintf("sources.%d", i))
		switch {
		case src.Location == "":
			msgs = append(msgs, fmt.Sprintf("%s: a source needs a location (s3://bucket/prefix or a folder)", where))
		case strings.HasPrefix(src.Location, "s3://"):
		default:
			if st, err := os.Stat(c.Resolve(src.Location)); err != nil || !st.IsDir() {
				msgs = append(msgs, fmt.Sprintf("%s: source folder %s does not exist", where, src.Location))
			}
		}
	}
	msgs = append(msgs, c.validateAlerts()...)
	if _, err := c.Review.Location(); err != nil {
		msgs = append(msgs, fmt.Sprintf("%s: time_zone %q is not a known time zone", c.at("review.time_zone"), c.Review.TimeZone))
	}
	for _, f := range []struct{ key, path string }{{"review.signing_key", c.Review.SigningKey}, {"review.suppressions", c.Review.Suppressions}} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(c.Resolve(f.path)); err != nil || st.IsDir() {
			msgs = append(msgs, fmt.Sprintf("%s: %s is not a readable file", c.at(f.key), f.path))
		}
	}
	for _, a := range c.Review.Accounts {
		if len(a) != 12 || strings.Trim(a, "0123456789") != "" {
			msgs = append(msgs, fmt.Sprintf("%s: account %q is not a 12-digit AWS account id", c.at("review.accounts"), a))
		}
	}
	if ol := c.Review.ObjectLock; ol.Mode != "" || ol.Days != 0 {
		if ol.Mode != "GOVERNANCE" && ol.Mode != "COMPLIANCE" {
			msgs = append(msgs, fmt.Sprintf("%s: object_lock.mode must be GOVERNANCE or COMPLIANCE", c.at("review.object_lock.mode")))
		}
		if ol.Days < 1 {
			msgs = append(msgs, fmt.Sprintf("%s: object_lock.days must be at least 1", c.at("review.object_lock.days")))
		}
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "\n"))
	}
	return nil
}

// Params returns the rule parameters: the defaults with the configured values laid over them.
func (c *Config) Params() sigma.Params {
	p := sigma.Params{}
	for k, v := range c.Rules.Params {
		p[k] = v
	}
	return sigma.DefaultParams().With(p)
}

// Resolve makes a path in the configuration relative to the file's folder.
func (c *Config) Resolve(p string) string {
	if c.Path == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.Path), p)
}

// validateAlerts checks the alerts and serve sections.
func (c *Config) validateAlerts() []string {
	var msgs []string
	a := c.Alerts
	if a.Level != "" && rulefmt.LevelRank(a.Level) < 0 {
		msgs = append(msgs, fmt.Sprintf("%s: level must be informational, low, medium, high or critical", c.at("alerts.level")))
	}
	names := map[string]bool{}
	for i, ch := range a.Channels {
		where := c.at(fmt.Sprintf("alerts.channels.%d", i))
		if ch.Name == "" {
			msgs = append(msgs, fmt.Sprintf("%s: channel %d has no name", where, i+1))
		} else if names[ch.Name] {
			msgs = append(msgs, fmt.Sprintf("%s: channel name %q is used twice", where, ch.Name))
		}
		names[ch.Name] = true
		kinds := 0
		var err error
		if ch.SMTP != nil {
			kinds++
			err = ch.SMTP.Validate()
		}
		if ch.Slack != nil {
			kinds++
			err = ch.Slack.Validate()
		}
		if ch.SNS != nil {
			kinds++
			err = ch.SNS.Validate()
		}
		if ch.Webhook != nil {
			kinds++
			err = ch.Webhook.Validate()
		}
		if ch.File != nil {
			kinds++
			err = ch.File.Validate()
		}
		switch {
		case kinds != 1:
			msgs = append(msgs, fmt.Sprintf("%s: channel %q needs exactly one of smtp, slack, sns, webhook, file", where, ch.Name))
		case err != nil:
			msgs = append(msgs, fmt.Sprintf("%s: channel %q: %v", where, ch.Name, err))
		}
	}
	for i, r := range a.Routes {
		where := c.at(fmt.Sprintf("alerts.routes.%d", i))
		if len(r.Channels) == 0 {
			msgs = append(msgs, fmt.Sprintf("%s: a route needs channels", where))
		}
		for _, n := range r.Channels {
			if !names[n] {
				msgs = append(msgs, fmt.Sprintf("%s: route names channel %q, which is not configured", where, n))
			}
		}
		for _, l := range r.Levels {
			if rulefmt.LevelRank(l) < 0 {
				msgs = append(msgs, fmt.Sprintf("%s: route level %q is not a level", where, l))
			}
		}
	}
	for _, n := range a.Summary {
		if !names[n] {
			msgs = append(msgs, fmt.Sprintf("%s: summary channel %q is not configured", c.at("alerts.summary"), n))
		}
	}
	if s := c.Serve.ReviewSchedule; s != "" {
		if _, err := cron.ParseStandard(s); err != nil {
			msgs = append(msgs, fmt.Sprintf("%s: review_schedule %q: %v", c.at("serve.review_schedule"), s, err))
		}
	}
	if c.Serve.PollInterval < 0 || c.Serve.PollInterval > 0 && c.Serve.PollInterval < time.Second {
		msgs = append(msgs, fmt.Sprintf("%s: poll_interval must be at least 1s", c.at("serve.poll_interval")))
	}
	if l := c.Serve.Listen; l != "" {
		host, _, err := net.SplitHostPort(l)
		switch {
		case err != nil:
			msgs = append(msgs, fmt.Sprintf("%s: listen %q: %v", c.at("serve.listen"), l, err))
		case !alert.IsLoopbackHost(host) && c.Serve.MetricsToken.IsZero():
			msgs = append(msgs, fmt.Sprintf("%s: listen %q reaches beyond this machine: set serve.metrics_token so /metrics is not open to anyone", c.at("serve.listen"), l))
		}
	}
	return msgs
}
