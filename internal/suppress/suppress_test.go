package suppress

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/rulefmt"
)

func TestLoadExample(t *testing.T) {
	s, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.File != "testdata/example.yaml" || len(s.Items) != 2 {
		t.Fatalf("set %+v", s)
	}
	x := s.Items[0]
	want := &Suppression{
		ID:         "ci-deployer-security-groups",
		Rule:       "security_group_changes",
		Owner:      "alice@example.com",
		Reason:     "The CI pipeline manages these groups; change CHG-1234",
		Ticket:     "CHG-1234",
		Expires:    time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		ExpiresDay: "2026-12-31",
		Match: map[string][]string{
			"principal":  {"ci-deployer/*"},
			"account":    {"111122223333"},
			"event_name": {"AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"},
			"source_ip":  {"10.0.0.0/8"},
		},
		Pos: rulefmt.Pos{File: "testdata/example.yaml", Line: 6, Col: 5},
	}
	got := *x
	got.rulePos, got.matchers, got.compiled = rulefmt.Pos{}, nil, false
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("first suppression\n got %+v\nwant %+v", &got, want)
	}
	if x.rulePos.String() != "testdata/example.yaml:7:11" {
		t.Errorf("rule position %s", x.rulePos)
	}
	if keys := matcherKeys(x); !reflect.DeepEqual(keys, []string{"principal", "account", "event_name", "source_ip"}) {
		t.Errorf("matchers not in file order: %v", keys)
	}
	if y := s.Items[1]; y.ID != "breakglass-drill" || !reflect.DeepEqual(y.Match["source_ip"], []string{"203.0.113.7", "2001:db8::/32"}) {
		t.Errorf("second suppression %+v", y)
	}
}

func matcherKeys(x *Suppression) []string {
	var keys []string
	for _, m := range x.matchers {
		keys = append(keys, m.key)
	}
	return keys
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# nothing yet\n", "---\n", "{}\n", "suppressions: []\n", "suppressions:\n", "suppressions: []\n---\n"} {
		s, err := Parse([]byte(src), "s.yaml")
		if err != nil || s == nil || s.File != "s.yaml" || len(s.Items) != 0 {
			t.Errorf("%q: set %+v, error %v", src, s, err)
		}
	}
}

// valid is one suppression that parses; the cases below edit it.
const valid = `suppressions:
  - id: a
    rule: r
    owner: o
    reason: why
    expires: 2026-12-31
`

func TestParseProblems(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"not a mapping", "- id: a\n", []string{
			"s.yaml:1:1: a suppressions file must be a mapping with the key suppressions, not a list"}},
		{"suppressions not a list", "suppressions: {id: a}\n", []string{
			"s.yaml:1:15: suppressions must be a list, not a mapping"}},
		{"unknown top key", valid + "suppression: []\n", []string{
			`s.yaml:7:1: unknown key "suppression" (a suppressions file has one key, suppressions)`}},
		{"second document", valid + "---\nsuppressions: []\n", []string{
			"s.yaml:7:1: a suppressions file holds one YAML document; this is a second"}},
		{"invalid YAML", "suppressions:\n  - id: a\n   rule: r\n", []string{
			"s.yaml:1:0: invalid YAML: did not find expected '-' indicator"}},
		{"unknown key", strings.Replace(valid, "    owner: o\n", "    owner: o\n    onwer: p\n", 1), []string{
			`s.yaml:5:5: unknown key "onwer" (id, rule, match, owner, reason, expires, ticket)`}},
		{"missing owner", strings.Replace(valid, "    owner: o\n", "", 1), []string{
			"s.yaml:2:5: missing required key owner"}},
		{"everything missing", "suppressions:\n  - ticket: T-1\n", []string{
			"s.yaml:2:5: missing required keys id, rule, owner, reason and expires"}},
		{"null owner", strings.Replace(valid, "owner: o", "owner:", 1), []string{
			"s.yaml:4:11: owner must be a string, not null"}},
		{"blank reason", strings.Replace(valid, "reason: why", `reason: " "`, 1), []string{
			"s.yaml:5:13: reason must not be empty"}},
		{"reason a list", strings.Replace(valid, "reason: why", "reason: [a, b]", 1), []string{
			"s.yaml:5:13: reason must be a string, not a list"}},
		{"ticket a mapping", valid + "    ticket: {id: 1}\n", []string{
			"s.yaml:7:13: ticket must be a string, not a mapping"}},
		{"empty id", strings.Replace(valid, "id: a", `id: ""`, 1), []string{
			"s.yaml:2:9: id must not be empty"}},
		{"bad id", strings.Replace(valid, "id: a", "id: CI.Deployer", 1), []string{
			`s.yaml:2:9: id "CI.Deployer" may only contain a-z, 0-9, _ and -`}},
		{"duplicate id", valid + strings.TrimPrefix(valid, "suppressions:\n"), []string{
			`s.yaml:7:9: id "a" is already used at line 2`}},
		{"duplicate key", valid + "    owner: p\n", []string{
			`s.yaml:7:5: duplicate key "owner" in suppression`}},
		{"date with time", strings.Replace(valid, "2026-12-31", "2026-12-31T00:00:00Z", 1), []string{
			`s.yaml:6:14: expires "2026-12-31T00:00:00Z" is not a date written YYYY-MM-DD`}},
		{"no such day", strings.Replace(valid, "2026-12-31", "2026-13-01", 1), []string{
			`s.yaml:6:14: expires "2026-13-01" is not a date written YYYY-MM-DD`}},
		{"day first", strings.Replace(valid, "2026-12-31", "31/12/2026", 1), []string{
			`s.yaml:6:14: expires "31/12/2026" is not a date written YYYY-MM-DD`}},
		{"unknown match key", valid + "    match: {principal: x, src_ip: 10.0.0.1}\n", []string{
			`s.yaml:7:27: unknown match key "src_ip" (account, region, principal, principal_arn, identity_type, event_source, event_name, source_ip, user_agent, error_code, event_id)`}},
		{"match a list", valid + "    match: [principal]\n", []string{
			"s.yaml:7:12: match must be a mapping, not a list"}},
		{"match value a mapping", valid + "    match:\n      account: {id: 1}\n", []string{
			"s.yaml:8:16: match account must be a string or a list of strings, not a mapping"}},
		{"match value null", valid + "    match:\n      account:\n", []string{
			"s.yaml:8:15: match account must be a string or a list of strings, not null"}},
		{"match empty list", valid + "    match:\n      event_name: []\n", []string{
			"s.yaml:8:19: match event_name is an empty list, which would match nothing"}},
		{"match list of lists", valid + "    match:\n      event_name: [[a]]\n", []string{
			"s.yaml:8:20: match event_name value must be a string, not a list"}},
		{"lone backslash", valid + "    match:\n      principal: 'ci\\'\n", []string{
			`s.yaml:8:18: match principal: glob "ci\\" ends in a lone backslash (write \\ for a backslash)`}},
		{"unknown escape", valid + "    match:\n      user_agent: 'a\\d'\n", []string{
			`s.yaml:8:19: match user_agent: glob "a\\d" has the unknown escape \d (only \*, \? and \\ are escapes)`}},
		{"ip glob", valid + "    match:\n      source_ip: 10.0.*\n", []string{
			`s.yaml:8:18: match source_ip: "10.0.*" is a glob; source_ip takes IP addresses and CIDR ranges`}},
		{"ip host bits", valid + "    match:\n      source_ip: [10.0.0.0/8, 2001:db8::1/32]\n", []string{
			"s.yaml:8:31: match source_ip: 2001:db8::1/32 has bits set past the prefix length; write 2001:db8::/32"}},
		{"ip bad prefix", valid + "    match:\n      source_ip: 10.0.0.0/33\n", []string{
			`s.yaml:8:18: match source_ip: "10.0.0.0/33" is not a CIDR range`}},
		{"ip not an address", valid + "    match:\n      source_ip: ec2.amazonaws.com\n", []string{
			`s.yaml:8:18: match source_ip: "ec2.amazonaws.com" is not an IP address or CIDR range`}},
		{"problems in two suppressions", valid + "  - id: b\n    rule: r\n    owner: []\n    reason: why\n    expires: 2026-12-32\n", []string{
			"s.yaml:9:12: owner must be a string, not a list",
			`s.yaml:11:14: expires "2026-12-32" is not a date written YYYY-MM-DD`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse([]byte(c.src), "s.yaml")
			if s != nil {
				t.Errorf("a set despite problems: %+v", s)
			}
			var ps rulefmt.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %v (%T), want rulefmt.Problems", err, err)
			}
			if got := strings.Split(ps.Error(), "\n"); !reflect.DeepEqual(got, c.want) {
				t.Errorf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestParseFiles parses each testdata/invalid/<case>.yaml and compares every problem with <case>.want.
func TestParseFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			_, perr := Parse(data, name)
			if perr == nil {
				t.Fatal("no problems")
			}
			if got := perr.Error() + "\n"; got != string(want) {
				t.Errorf("problems\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v", err)
	}
}

func rule(name, id string) *engine.Rule {
	return &engine.Rule{Rule: &rulefmt.Rule{Name: name, ID: id}}
}

const matchSrc = `suppressions:
  - id: ci
    rule: security_group_changes
    match:
      principal: ci-deployer/*
      account: "111122223333"
      event_name: [AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress]
      source_ip: [10.0.0.0/8, "2001:db8::/32", 192.0.2.7]
    owner: alice@example.com
    reason: CI manages security groups.
    expires: 2026-12-31
  - id: by-id
    rule: 6f0a3c1e-0b7e-4c55-9d1e-2c8e7f1f0a02
    match:
      principal: "?ob"
    owner: o
    reason: r
    expires: 2026-12-31
  - id: whole-rule
    rule: noisy_rule
    owner: o
    reason: Every finding of this rule is expected here.
    expires: 2026-12-31
  - id: literal-star
    rule: stars
    match:
      user_agent: 'aws-cli/\*'
      error_code: ""
    owner: o
    reason: r
    expires: 2026-12-31
`

func TestMatch(t *testing.T) {
	s, err := Parse([]byte(matchSrc), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ci := func(edit func(f *engine.Finding)) *engine.Finding {
		f := &engine.Finding{Rule: rule("security_group_changes", "1d4c2c8e-0000-4000-8000-000000000001"),
			Account: "111122223333", Principal: "ci-deployer/run-42", EventName: "AuthorizeSecurityGroupIngress",
			SourceIP: "10.1.2.3"}
		if edit != nil {
			edit(f)
		}
		return f
	}
	cases := []struct {
		name string
		f    *engine.Finding
		want string // the id of the active suppression, "" for none
	}{
		{"all keys hold", ci(nil), "ci"},
		{"other value of the list", ci(func(f *engine.Finding) { f.EventName = "RevokeSecurityGroupIngress" }), "ci"},
		{"value outside the list", ci(func(f *engine.Finding) { f.EventName = "CreateSecurityGroup" }), ""},
		{"one key fails", ci(func(f *engine.Finding) { f.Account = "444455556666" }), ""},
		{"glob is case-sensitive", ci(func(f *engine.Finding) { f.Principal = "CI-Deployer/run-42" }), ""},
		{"glob matches the whole field", ci(func(f *engine.Finding) { f.Principal = "x-ci-deployer/run" }), ""},
		{"glob star matches an empty run", ci(func(f *engine.Finding) { f.Principal = "ci-deployer/" }), "ci"},
		{"glob star matches slashes", ci(func(f *engine.Finding) { f.Principal = "ci-deployer/a/b" }), "ci"},
		{"other rule", ci(func(f *engine.Finding) { f.Rule = rule("root_console_login", "") }), ""},
		{"rule matched by id", ci(func(f *engine.Finding) { f.Rule = rule("x", "security_group_changes") }), "ci"},
		{"IPv4 in the CIDR", ci(func(f *engine.Finding) { f.SourceIP = "10.255.255.255" }), "ci"},
		{"IPv4 outside the CIDR", ci(func(f *engine.Finding) { f.SourceIP = "11.0.0.1" }), ""},
		{"IPv4-mapped IPv6 in the CIDR", ci(func(f *engine.Finding) { f.SourceIP = "::ffff:10.0.0.9" }), "ci"},
		{"IPv6 in the CIDR", ci(func(f *engine.Finding) { f.SourceIP = "2001:db8:1::5" }), "ci"},
		{"IPv6 outside the CIDR", ci(func(f *engine.Finding) { f.SourceIP = "2001:db9::5" }), ""},
		{"single address", ci(func(f *engine.Finding) { f.SourceIP = "192.0.2.7" }), "ci"},
		{"next to the single address", ci(func(f *engine.Finding) { f.SourceIP = "192.0.2.8" }), ""},
		{"source IP a service name", ci(func(f *engine.Finding) { f.SourceIP = "cloudformation.amazonaws.com" }), ""},
		{"source IP empty", ci(func(f *engine.Finding) { f.SourceIP = "" }), ""},
		{"rule by id, ? is one character", &engine.Finding{Rule: rule("burst", "6f0a3c1e-0b7e-4c55-9d1e-2c8e7f1f0a02"), Principal: "bob"}, "by-id"},
		{"? is exactly one character", &engine.Finding{Rule: rule("burst", "6f0a3c1e-0b7e-4c55-9d1e-2c8e7f1f0a02"), Principal: "blob"}, ""},
		{"? is one character, not one byte", &engine.Finding{Rule: rule("burst", "6f0a3c1e-0b7e-4c55-9d1e-2c8e7f1f0a02"), Principal: "éob"}, "by-id"},
		{"empty match covers the rule", &engine.Finding{Rule: rule("noisy_rule", ""), Account: "999999999999"}, "whole-rule"},
		{"escaped star is literal", &engine.Finding{Rule: rule("stars", ""), UserAgent: "aws-cli/*"}, "literal-star"},
		{"escaped star is not a wildcard", &engine.Finding{Rule: rule("stars", ""), UserAgent: "aws-cli/2.15"}, ""},
		{`"" matches only an empty field`, &engine.Finding{Rule: rule("stars", ""), UserAgent: "aws-cli/*", ErrorCode: "AccessDenied"}, ""},
		{"finding without a rule", &engine.Finding{Principal: "ci-deployer/x"}, ""},
		{"no finding", nil, ""},
	}
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			active, expired := s.Match(c.f, at)
			if expired != nil {
				t.Errorf("expired %s before the expiry", expired.ID)
			}
			got := ""
			if active != nil {
				got = active.ID
			}
			if got != c.want {
				t.Errorf("active %q, want %q", got, c.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	const src = `suppressions:
  - {id: old, rule: r, owner: o, reason: Until the migration, expires: 2026-03-31}
  - {id: older, rule: r, owner: o, reason: Before the migration, expires: 2026-01-31}
  - {id: new, rule: r, owner: o, reason: After the migration, expires: 2026-06-30, match: {account: "222222222222"}}
`
	s, err := Parse([]byte(src), "e.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := &engine.Finding{Rule: rule("r", ""), Account: "111111111111"}
	lastInstant := time.Date(2026, 3, 31, 23, 59, 59, 999999999, time.UTC)
	cases := []struct {
		name            string
		at              time.Time
		active, expired string
	}{
		{"well before", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "old", ""},
		{"first instant of the expiry day", time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC), "old", ""},
		{"last instant of the expiry day", lastInstant, "old", ""},
		{"expiry day's end in another zone", lastInstant.In(time.FixedZone("UTC-5", -5*3600)), "old", ""},
		{"the next day", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), "", "old"},
		{"00:30 the next day in UTC+1 is still the expiry day in UTC", time.Date(2026, 4, 1, 0, 30, 0, 0, time.FixedZone("UTC+1", 3600)), "old", ""},
		{"long after", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), "", "old"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			active, expired := s.Match(f, c.at)
			if id(active) != c.active || id(expired) != c.expired {
				t.Errorf("active %q, expired %q; want %q, %q", id(active), id(expired), c.active, c.expired)
			}
		})
	}
	if x := s.Items[0]; x.ExpiresDay != "2026-03-31" || !x.Expires.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expires %s, %s", x.ExpiresDay, x.Expires)
	}

	// An active suppression later in the file wins over an expired one earlier.
	f.Account = "222222222222"
	if active, expired := s.Match(f, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)); id(active) != "new" || expired != nil {
		t.Errorf("active %q, expired %q; want new", id(active), id(expired))
	}

	now := time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)
	if got := ids(s.Expired(now)); !reflect.DeepEqual(got, []string{"older"}) {
		t.Errorf("Expired %v", got)
	}
	if got := ids(s.Expired(lastInstant.Add(time.Nanosecond))); !reflect.DeepEqual(got, []string{"old", "older"}) {
		t.Errorf("Expired the day after %v", got)
	}
	for _, c := range []struct {
		d    time.Duration
		want []string
	}{
		{16*24*time.Hour + 15*time.Hour - time.Nanosecond, nil}, // "old" stops applying 16 days 15 hours after now
		{16*24*time.Hour + 15*time.Hour, []string{"old"}},
		{30 * 24 * time.Hour, []string{"old"}},
		{120 * 24 * time.Hour, []string{"old", "new"}},
	} {
		if got := ids(s.ExpiringWithin(now, c.d)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ExpiringWithin %s: %v, want %v", c.d, got, c.want)
		}
	}
}

func id(x *Suppression) string {
	if x == nil {
		return ""
	}
	return x.ID
}

func ids(xs []*Suppression) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.ID)
	}
	return out
}

func TestCheck(t *testing.T) {
	const src = `suppressions:
  - {id: a, rule: root_console_login, owner: o, reason: r, expires: 2026-12-31}
  - id: b
    rule: root_console_logins
    owner: o
    reason: r
    expires: 2026-12-31
  - {id: c, rule: 6f0a3c1e-0b7e-4c55-9d1e-2c8e7f1f0a02, owner: o, reason: r, expires: 2026-12-31}
  - {id: d, rule: 00000000-0000-4000-8000-000000000000, owner: o, reason: r, expires: 2026-12-31}
`
	s, err := Parse([]byte(src), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"root_console_login": true, "6f0a3c1e-0b7e-4c55-9d1e-2c8e7f1f0a02": true}
	got := s.Check(func(ref string) bool { return known[ref] }).Error()
	want := `c.yaml:4:11: rule "root_console_logins" is not in the rule library
c.yaml:9:19: rule "00000000-0000-4000-8000-000000000000" is not in the rule library`
	if got != want {
		t.Errorf("Check\n%s\nwant\n%s", got, want)
	}
	if ps := s.Check(func(string) bool { return true }); ps != nil {
		t.Errorf("Check with every rule known: %v", ps)
	}
}

// TestHandBuilt: a Suppression made without Parse has no compiled match, so a non-empty Match must not
// turn into "match everything".
func TestHandBuilt(t *testing.T) {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Set{Items: []*Suppression{
		{ID: "narrow", Rule: "r", Expires: exp, Match: map[string][]string{"account": {"111111111111"}}},
		{ID: "whole", Rule: "r", Expires: exp},
	}}
	f := &engine.Finding{Rule: rule("r", ""), Account: "222222222222"}
	if active, _ := s.Match(f, exp.Add(-time.Hour)); id(active) != "whole" {
		t.Errorf("active %q, want whole", id(active))
	}
	if ps := s.Check(func(string) bool { return false }); len(ps) != 2 {
		t.Errorf("Check %v", ps)
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		glob, s string
		want    bool
	}{
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything\nat all", true},
		{"a*c", "ac", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "a€c", true},
		{`a\*c`, "a*c", true},
		{`a\*c`, "abc", false},
		{`a\?c`, "a?c", true},
		{`a\?c`, "abc", false},
		{`a\\c`, `a\c`, true},
		{`a\\*`, `a\bc`, true},
		{"a.c", "abc", false},
		{"(a|b)+", "(a|b)+", true},
		{"[ab]", "a", false},
		{"*-*-*-*-*-*-*-*b", strings.Repeat("-", 5000), false},
	}
	for _, c := range cases {
		g, err := compileGlob(c.glob)
		if err != nil {
			t.Errorf("%q: %v", c.glob, err)
			continue
		}
		if got := g.match(c.s); got != c.want {
			t.Errorf("%q matches %q: %v, want %v", c.glob, c.s, got, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	several, err := os.ReadFile("testdata/invalid/several.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add(several)
	f.Add([]byte(matchSrc))
	f.Add([]byte("suppressions: [&a {id: x, match: *a}]\n"))
	f.Add([]byte("suppressions:\n  - {id: a, rule: r, owner: o, reason: r, expires: 2026-12-31, match: {source_ip: '::ffff:10.0.0.0/104'}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, "f.yaml")
		if err != nil {
			var ps rulefmt.Problems
			if !errors.As(err, &ps) || len(ps) == 0 || s != nil {
				t.Fatalf("set %v, error %v (%T)", s, err, err)
			}
			for _, p := range ps {
				if p.Pos.File != "f.yaml" {
					t.Fatalf("problem without the file: %v", p)
				}
			}
			return
		}
		for _, x := range s.Items {
			if x.ID == "" || x.Rule == "" || x.Owner == "" || x.Reason == "" || x.Expires.IsZero() {
				t.Fatalf("incomplete suppression accepted: %+v", x)
			}
			fd := &engine.Finding{Rule: rule(x.Rule, ""), SourceIP: "10.0.0.1", Principal: x.ID}
			s.Match(fd, x.Expires)
		}
		s.Check(func(string) bool { return false })
	})
}
