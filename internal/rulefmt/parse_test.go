package rulefmt

import (
	"strings"
	"testing"
)

const good = `title: Root console sign-in
id: 5f0a3c1e-0b7e-4c55-9d1e-2c8e7f1f0a01
name: root_console_login
status: stable
description: Root signed in.
author: trailwatch
date: 2026-11-22
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: ConsoleLogin
    userIdentity.type|cased: Root
  condition: selection
level: high
pci:
  v4.0.1: ["10.2.1.2"]
  v3.2.1: ["10.2.2"]
alert: true
tests:
  must_fire:
    - {eventName: ConsoleLogin, userIdentity: {type: Root}, n: 12, ok: true, none: null}
  must_not_fire:
    - {"eventName": "ConsoleLogin", "userIdentity": {"type": "IAMUser"}}
`

func TestParseGood(t *testing.T) {
	rules, ps := Parse("r.yml", []byte(good))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	r := rules[0]
	if r.Name != "root_console_login" || !r.Alerts() || r.PCI.V4[0] != "10.2.1.2" || r.PCI.V321[0] != "10.2.2" {
		t.Errorf("decoded %+v", r)
	}
	m := r.Detection.Searches["selection"].Maps[0]
	if m[1].Field != "userIdentity.type" || m[1].Modifiers[0] != "cased" || m[1].Values[0].S != "Root" {
		t.Errorf("field match %+v", m[1])
	}
	if got := string(r.Tests.MustFire[0].JSON); got != `{"eventName":"ConsoleLogin","userIdentity":{"type":"Root"},"n":12,"ok":true,"none":null}` {
		t.Errorf("event JSON %s", got)
	}
	if ps := Lint(rules); len(ps) > 0 {
		t.Errorf("lint: %v", ps)
	}
}

func TestParseProblems(t *testing.T) {
	cases := []struct{ edit, want string }{
		{"level: high\n", "level: high\nseverity: high\n"},
		{"detection:\n", "detection:\n  timeframe: 5m\n"},
		{"  condition: selection\n", "  condition: [selection, 42]\n  bad key: x\n"},
		{"pci:\n", "pci:\n  v5: ['10.1']\n"},
		{"tests:\n", "tests:\n  should_fire: []\n"},
		{"    eventName: ConsoleLogin\n", "    eventName: {nested: map}\n"},
	}
	wants := []string{
		`r.yml:15:1: unknown key "severity"`,
		"r.yml:10:3: detection timeframe is Sigma v1 aggregation syntax",
		`r.yml:14:3: search identifier "bad key" may only contain`,
		`r.yml:16:3: unknown PCI DSS version "v5"`,
		`r.yml:20:3: unknown key "should_fire" in tests`,
		"r.yml:11:16: value of eventName must be a scalar or a list, not a mapping",
	}
	for i, c := range cases {
		src := strings.Replace(good, c.edit, c.want, 1)
		_, ps := Parse("r.yml", []byte(src))
		if !strings.Contains(ps.Error(), wants[i]) {
			t.Errorf("case %d: problems\n%v\nwant %q", i, ps, wants[i])
		}
	}
}

func TestLintProblems(t *testing.T) {
	src := strings.NewReplacer(
		"id: 5f0a3c1e-0b7e-4c55-9d1e-2c8e7f1f0a01", "id: not-a-uuid",
		`v3.2.1: ["10.2.2"]`, `v3.2.1: ["10.2.6"]`,
		"  must_not_fire:\n    - {\"eventName\": \"ConsoleLogin\", \"userIdentity\": {\"type\": \"IAMUser\"}}\n", "",
	).Replace(good)
	rules, ps := Parse("r.yml", []byte(src))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	got := Lint(rules).Error()
	for _, want := range []string{
		`r.yml:2:1: id "not-a-uuid" is not a UUID`,
		"v3.2.1 10.2.6 corresponds to v4.0.1 10.2.1.6, which the rule does not list",
		"tests have no must_not_fire events",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lint:\n%s\nwant %q", got, want)
		}
	}
}

func TestCorrelation(t *testing.T) {
	src := good + `---
title: Burst
id: 6f0a3c1e-0b7e-4c55-9d1e-2c8e7f1f0a02
name: burst
correlation:
  type: event_count
  rules: [root_console_login]
  group-by: [sourceIPAddress]
  timespan: 10m
  condition: {gte: 5}
`
	rules, ps := Parse("r.yml", []byte(src))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	c := rules[1].Correlation
	if c.Type != "event_count" || c.Timespan.Minutes() != 10 || c.Condition.Ops["gte"] != 5 || c.GroupBy[0] != "sourceIPAddress" {
		t.Errorf("correlation %+v", c)
	}
	bad := strings.Replace(src, "type: event_count", "type: value_sum", 1)
	if _, ps := Parse("r.yml", []byte(bad)); !strings.Contains(ps.Error(), "value_sum is not supported") {
		t.Errorf("value_sum: %v", ps)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("title: x\ncorrelation: {type: temporal, rules: [a, b], timespan: 5m}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, ps := Parse("f.yml", data)
		for _, p := range ps {
			if p.Pos.File != "f.yml" {
				t.Fatalf("problem without the file: %v", p)
			}
		}
		_ = Lint(rules)
	})
}
