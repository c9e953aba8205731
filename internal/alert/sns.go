package alert

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// SNS limits: a subject is ASCII-safe, one line and under 100 characters; a message at most 256 KiB
// (attributes included); FIFO group and deduplication ids at most 128 characters of ASCII 33-126.
const (
	snsSubjectMax = 99
	snsMessageMax = 240 << 10 // leaves room for the attributes
	snsIDMax      = 128
	snsName       = "sns"
)

// SNSConfig configures the Amazon SNS channel. Credentials come from the AWS SDK's standard chain
// (environment, shared config and credentials files, SSO, web identity, container or instance role).
type SNSConfig struct {
	// Name names the sink (default "sns").
	Name string `yaml:"name"`
	// TopicARN is the topic to publish to; a topic whose name ends in .fifo is a FIFO topic.
	TopicARN string `yaml:"topic_arn"`
	// Region is the topic's region (default: the ARN's).
	Region string `yaml:"region"`
	// Endpoint overrides the SNS endpoint URL, e.g. a VPC endpoint or a test server.
	Endpoint string `yaml:"endpoint"`
}

// SNS publishes alerts to an SNS topic: the rendered subject (for e-mail subscriptions) and text, message
// attributes level, rule, account and kind (for subscription filter policies), and on a FIFO topic a message
// group and deduplication id derived from the alert key, so that SNS drops a redelivered copy within its
// five-minute deduplication window.
type SNS struct {
	name   string
	topic  string
	fifo   bool
	client *sns.Client
}

var _ Sink = (*SNS)(nil)

// Validate checks the configuration without contacting AWS, and returns every problem, joined.
func (c SNSConfig) Validate() error {
	name := cmp.Or(c.Name, snsName)
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(name+": "+format, args...)) }
	if c.TopicARN == "" {
		bad("topic_arn is required")
	} else if a, err := arn.Parse(c.TopicARN); err != nil {
		bad("topic_arn %q: %v", c.TopicARN, err)
	} else {
		if a.Service != "sns" || a.Resource == "" || strings.Contains(a.Resource, ":") {
			bad("topic_arn %q: not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)", c.TopicARN)
		}
		if a.Region == "" && c.Region == "" {
			bad("topic_arn %q has no region and region is not set", c.TopicARN)
		}
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			bad("endpoint %q: want an http(s) URL", c.Endpoint)
		}
	}
	return errors.Join(errs...)
}

// NewSNS validates the configuration and loads the AWS configuration (the standard credential chain). It
// does not contact AWS. The SDK makes one attempt per Send: the dispatcher does the retrying.
func NewSNS(cfg SNSConfig) (*SNS, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	name := cmp.Or(cfg.Name, snsName)
	topic, _ := arn.Parse(cfg.TopicARN) // checked by Validate
	region := cmp.Or(cfg.Region, topic.Region)
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("%s: load AWS configuration: %w", name, err)
	}
	client := sns.NewFromConfig(awsCfg, func(o *sns.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.RetryMaxAttempts = 1
	})
	return &SNS{
		name:   name,
		topic:  cfg.TopicARN,
		fifo:   strings.HasSuffix(topic.Resource, ".fifo"),
		client: client,
	}, nil
}

// Name returns the configured name, "sns" by default.
func (s *SNS) Name() string { return s.name }

// Send publishes the alert. Client errors (no such topic, access denied, invalid parameter, KMS key
// problems) are Permanent; throttling, server errors, expired credentials and network errors are not.
func (s *SNS) Send(ctx context.Context, a Alert) error {
	if _, err := s.client.Publish(ctx, s.publishInput(a)); err != nil {
		return snsError(fmt.Errorf("%s: publish to %s: %w", s.name, s.topic, err))
	}
	return nil
}

// publishInput builds the Publish request of an alert.
func (s *SNS) publishInput(a Alert) *sns.PublishInput {
	subject, text, _ := Render(a)
	if strings.TrimSpace(text) == "" {
		text = subject
	}
	in := &sns.PublishInput{
		TopicArn: aws.String(s.topic),
		Subject:  aws.String(snsSubject(subject)),
		Message:  aws.String(renderClip(strings.ToValidUTF8(text, "\uFFFD"), snsMessageMax)),
	}
	attrs := map[string]types.MessageAttributeValue{}
	for _, kv := range [][2]string{{"level", a.Level}, {"rule", a.Rule}, {"account", a.Account}, {"kind", a.Kind}} {
		if v := renderOneLine(kv[1], 256); v != "" {
			attrs[kv[0]] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	if len(attrs) > 0 {
		in.MessageAttributes = attrs
	}
	if s.fifo && a.Key != "" {
		id := snsID(a.Key)
		in.MessageGroupId = aws.String(id)
		in.MessageDeduplicationId = aws.String(id)
	}
	return in
}

// snsSubject makes a subject SNS accepts: printable ASCII (others become '?'), one line, under 100
// characters, starting with a letter, digit or punctuation.
func snsSubject(s string) string {
	var out []byte
	for _, r := range renderOneLine(s, snsSubjectMax*2) {
		switch {
		case r == '…':
			out = append(out, "..."...)
		case r >= 0x20 && r < 0x7f:
			out = append(out, byte(r))
		default:
			out = append(out, '?')
		}
	}
	subj := strings.TrimSpace(string(out))
	if len(subj) > snsSubjectMax {
		subj = strings.TrimSpace(subj[:snsSubjectMax-3]) + "..."
	}
	if subj == "" {
		subj = "trailwatch alert"
	}
	return subj
}

// snsID turns an alert key into a FIFO message group or deduplication id: the key itself when it is at most
// 128 characters of ASCII 33-126, else the hex SHA-256 of the key.
func snsID(key string) string {
	ok := len(key) <= snsIDMax
	for i := 0; ok && i < len(key); i++ {
		ok = key[i] >= 33 && key[i] <= 126
	}
	if ok {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// snsError marks client faults as Permanent, except throttling and expired credentials.
func snsError(err error) error {
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return err
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && retryableStatus(re.HTTPStatusCode()) {
		return err
	}
	var throttled *types.ThrottledException
	var kmsThrottled *types.KMSThrottlingException
	if errors.As(err, &throttled) || errors.As(err, &kmsThrottled) {
		return err
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorFault() == smithy.FaultServer {
		return err
	}
	switch ae.ErrorCode() {
	case "ExpiredToken", "ExpiredTokenException", "RequestExpired", "RequestTimeTooSkewed":
		return err // new credentials or a corrected clock fix these
	}
	return Permanent(err)
}
