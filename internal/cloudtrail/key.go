// Package cloudtrail knows the shape of AWS CloudTrail log files: the S3 key layout CloudTrail delivers to,
// the log-file formats (S3 delivery, JSON arrays, JSON lines, LookupEvents output) and the event model mapped
// onto the columns of the Athena CloudTrail table.
package cloudtrail

import (
	"path"
	"strings"
	"time"
)

// Kind says what a CloudTrail object holds, judged from its key.
type Kind int

// Kinds of objects found under AWSLogs/.
const (
	KindLog     Kind = iota // events (also any file outside the AWSLogs layout)
	KindInsight             // CloudTrail-Insight: Insights events, read like the others
	KindDigest              // CloudTrail-Digest: integrity digests, never read as events
	KindOther               // something else under AWSLogs/ (Config, ELB logs, …)
)

func (k Kind) String() string {
	switch k {
	case KindLog:
		return "log"
	case KindInsight:
		return "insight"
	case KindDigest:
		return "digest"
	default:
		return "other"
	}
}

// Key is what an object key says about the events inside, following the layouts
//
//	[prefix/]AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>
//	[prefix/]AWSLogs/o-<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>
//
// and the same with CloudTrail-Digest or CloudTrail-Insight in place of CloudTrail.
// InLayout is false for keys outside these layouts; the other fields are then empty.
type Key struct {
	InLayout bool
	Prefix   string // everything before AWSLogs/, without the trailing slash
	Org      string // o-xxxxxxxxxx for organization trails
	Account  string
	Region   string
	Year     string
	Month    string
	Day      string
	Kind     Kind
}

// Date returns the delivery day the key names, or the zero time outside the layout.
func (k Key) Date() time.Time {
	if !k.InLayout {
		return time.Time{}
	}
	t, err := time.Parse("2006/01/02", k.Year+"/"+k.Month+"/"+k.Day)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Timestamp returns the day as the Athena partition-projection value yyyy/MM/dd.
func (k Key) Timestamp() string {
	if !k.InLayout {
		return ""
	}
	return k.Year + "/" + k.Month + "/" + k.Day
}

// ParseKey reads the CloudTrail layout out of an object key or a slash-separated relative path.
// It never fails: a key outside the layout gives Key{InLayout: false} with Kind set from its name.
func ParseKey(key string) Key {
	parts := strings.Split(key, "/")
	idx := -1
	for i, p := range parts {
		if p == "AWSLogs" {
			idx = i
		}
	}
	out := Key{Kind: kindFromName(key)}
	if idx < 0 {
		return out
	}
	rest := parts[idx+1:]
	var org string
	if len(rest) > 0 && strings.HasPrefix(rest[0], "o-") {
		org, rest = rest[0], rest[1:]
	}
	// account, service, region, YYYY, MM, DD, file
	if len(rest) < 7 {
		return out
	}
	account, service, region, y, m, d := rest[0], rest[1], rest[2], rest[3], rest[4], rest[5]
	var kind Kind
	switch service {
	case "CloudTrail":
		kind = KindLog
	case "CloudTrail-Insight":
		kind = KindInsight
	case "CloudTrail-Digest":
		kind = KindDigest
	default:
		return Key{Kind: KindOther}
	}
	if !IsDigits(account, 12) || !IsDigits(y, 4) || !IsDigits(m, 2) || !IsDigits(d, 2) || region == "" {
		return out
	}
	if _, err := time.Parse("2006/01/02", y+"/"+m+"/"+d); err != nil {
		return out
	}
	return Key{
		InLayout: true,
		Prefix:   strings.Join(parts[:idx], "/"),
		Org:      org,
		Account:  account,
		Region:   region,
		Year:     y,
		Month:    m,
		Day:      d,
		Kind:     kind,
	}
}

func kindFromName(key string) Kind {
	if strings.Contains(key, "/CloudTrail-Digest/") || strings.Contains(path.Base(key), "_CloudTrail-Digest_") {
		return KindDigest
	}
	if strings.Contains(key, "/CloudTrail-Insight/") {
		return KindInsight
	}
	return KindLog
}

// IsDigits reports whether s is exactly n ASCII digits, as account IDs and the date parts of keys are.
func IsDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// DayPrefix returns the key prefix under which CloudTrail delivers one account's logs of one region and day,
// e.g. "logs/AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2024/05/01/".
func DayPrefix(prefix, org, account, region string, day time.Time) string {
	var b strings.Builder
	if prefix != "" {
		b.WriteString(strings.TrimSuffix(prefix, "/"))
		b.WriteByte('/')
	}
	b.WriteString("AWSLogs/")
	if org != "" {
		b.WriteString(org)
		b.WriteByte('/')
	}
	b.WriteString(account)
	b.WriteString("/CloudTrail/")
	b.WriteString(region)
	b.WriteByte('/')
	b.WriteString(day.UTC().Format("2006/01/02"))
	b.WriteByte('/')
	return b.String()
}
