package sigma

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Params are the values an organisation sets for its rules (internal networks, log buckets, business
// hours…); rules use them through the expand modifier as %name%. Every parameter is a list of strings.
type Params map[string][]string

// ParamDocs describes every parameter trailwatch knows.
var ParamDocs = map[string]string{
	"internal_cidrs":    "the internal network, as CIDRs",
	"log_buckets":       "S3 buckets that hold the CloudTrail logs",
	"log_readers":       "role or user names allowed to read the logs",
	"cde_accounts":      "accounts of the cardholder data environment",
	"cde_buckets":       "S3 buckets holding cardholder data",
	"break_glass_roles": "role names reserved for emergencies",
	"admin_groups":      "IAM groups that grant administrator rights",
	"business_hours":    "the working day, HH:MM-HH:MM",
	"business_days":     "working days (Mon … Sun)",
	"timezone":          "the IANA time zone of business hours",
}

// DefaultParams returns the parameters a configuration starts from.
func DefaultParams() Params {
	return Params{
		"internal_cidrs":    {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"},
		"log_buckets":       nil,
		"log_readers":       nil,
		"cde_accounts":      nil,
		"cde_buckets":       nil,
		"break_glass_roles": nil,
		"admin_groups":      {"Admins", "Administrators"},
		"business_hours":    {"08:00-18:00"},
		"business_days":     {"Mon", "Tue", "Wed", "Thu", "Fri"},
		"timezone":          {"UTC"},
	}
}

// With returns a copy of p with the values of q laid over it.
func (p Params) With(q Params) Params {
	out := Params{}
	for k, v := range p {
		out[k] = v
	}
	for k, v := range q {
		out[k] = v
	}
	return out
}

var weekdays = map[string]int{"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}

// Validate checks every parameter and returns one message per problem.
func (p Params) Validate() []string {
	var out []string
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := ParamDocs[k]; !ok {
			out = append(out, fmt.Sprintf("unknown parameter %q", k))
		}
	}
	for _, c := range p["internal_cidrs"] {
		if _, _, err := net.ParseCIDR(c); err != nil {
			out = append(out, fmt.Sprintf("internal_cidrs: %q is not a CIDR network", c))
		}
	}
	if _, _, _, err := p.businessHours(); err != nil {
		out = append(out, err.Error())
	}
	return out
}

// businessHours returns the working days (ISO numbers), start and end minute of day, and the time zone.
func (p Params) businessHours() (days []int, start, end int, err error) {
	bh := p["business_hours"]
	if len(bh) != 1 {
		return nil, 0, 0, fmt.Errorf("business_hours: want one HH:MM-HH:MM value, got %d", len(bh))
	}
	from, to, ok := strings.Cut(bh[0], "-")
	if !ok {
		return nil, 0, 0, fmt.Errorf("business_hours: %q is not HH:MM-HH:MM", bh[0])
	}
	if start, err = clockMinute(from); err == nil {
		end, err = clockMinute(to)
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("business_hours: %v", err)
	}
	if end <= start {
		return nil, 0, 0, fmt.Errorf("business_hours: %q ends before it starts", bh[0])
	}
	for _, d := range p["business_days"] {
		n, ok := weekdays[strings.ToLower(strings.TrimSpace(d))[:min(3, len(strings.TrimSpace(d)))]]
		if !ok {
			return nil, 0, 0, fmt.Errorf("business_days: %q is not a day of the week", d)
		}
		days = append(days, n)
	}
	tz := p["timezone"]
	if len(tz) != 1 {
		return nil, 0, 0, fmt.Errorf("timezone: want one IANA time zone name")
	}
	if _, err := time.LoadLocation(tz[0]); err != nil {
		return nil, 0, 0, fmt.Errorf("timezone: %q: %v", tz[0], err)
	}
	return days, start, end, nil
}

func clockMinute(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return hh*60 + mm, nil
}
