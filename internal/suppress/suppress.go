// Package suppress reads a suppressions file: the known, accepted exceptions to the detection rules, kept
// as code next to the configuration (PCI DSS v4.0.1 10.4.3: exceptions and anomalies identified during the
// review process are addressed). A finding a suppression covers stays in the evidence bundle, marked with
// the suppression's reason, owner and expiry; it is not dropped. A suppression past its expiry date stops
// applying, and the review says which findings it would have covered.
//
// The file is YAML:
//
//	suppressions:
//	  - id: ci-deployer-security-groups      # unique in the file; a-z, 0-9, _ and -
//	    rule: security_group_changes          # a rule name or rule id; required
//	    match:                                # optional; every key must hold
//	      principal: ci-deployer/*            # a glob: * any run, ? one character, \* \? \\ literal
//	      account: "111122223333"
//	      event_name: [AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress]   # a list: any of them
//	      source_ip: 10.0.0.0/8               # IP addresses or CIDR ranges, IPv4 or IPv6; not globs
//	    owner: alice@example.com              # required
//	    reason: The CI pipeline manages these groups; change CHG-1234   # required
//	    expires: 2026-12-31                   # required, YYYY-MM-DD: applies through the end of that day, UTC
//	    ticket: CHG-1234                      # optional
//
// The match keys name fields of a finding: account, region, principal, principal_arn, identity_type,
// event_source, event_name, source_ip, user_agent, error_code and event_id. Every key given must hold
// (AND); a key with a list holds when any of its values does (OR). Globs are case-sensitive and match the
// whole field; "" matches an empty field (error_code: "" covers the calls that succeeded). A suppression
// without match covers every finding of its rule: allowed, and worth a careful reason.
//
// The expiry is required, so that every exception is looked at again. Whether a suppression applies is
// decided at the finding's event time: a finding of 2026-12-31 23:59:59 UTC is covered by a suppression
// that expires 2026-12-31 even when the review runs later.
//
// Decoding is strict: unknown keys, values of the wrong type, missing required keys, empty owners and
// reasons, bad dates, globs and CIDR ranges, and duplicate ids are all reported, each as file:line:col.
package suppress

import (
	"fmt"
	"time"

	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/rulefmt"
)

// MatchKeys are the keys a suppression's match may use, in the order the documentation lists them.
var MatchKeys = []string{"account", "region", "principal", "principal_arn", "identity_type", "event_source",
	"event_name", "source_ip", "user_agent", "error_code", "event_id"}

// fields maps each match key to the field of a finding it tests.
var fields = map[string]func(f *engine.Finding) string{
	"account":       func(f *engine.Finding) string { return f.Account },
	"region":        func(f *engine.Finding) string { return f.Region },
	"principal":     func(f *engine.Finding) string { return f.Principal },
	"principal_arn": func(f *engine.Finding) string { return f.PrincipalARN },
	"identity_type": func(f *engine.Finding) string { return f.IdentityType },
	"event_source":  func(f *engine.Finding) string { return f.EventSource },
	"event_name":    func(f *engine.Finding) string { return f.EventName },
	"source_ip":     func(f *engine.Finding) string { return f.SourceIP },
	"user_agent":    func(f *engine.Finding) string { return f.UserAgent },
	"error_code":    func(f *engine.Finding) string { return f.ErrorCode },
	"event_id":      func(f *engine.Finding) string { return f.EventID },
}

// Suppression is one accepted exception.
type Suppression struct {
	// ID names the suppression; it is unique in its file.
	ID string
	// Rule is the name or id of the rule whose findings it covers.
	Rule string
	// Owner is who answers for the exception; Reason says why it is accepted; Ticket is an optional
	// change or risk ticket.
	Owner, Reason, Ticket string
	// Expires is the first instant the suppression no longer applies: the day after ExpiresDay, 00:00 UTC.
	Expires time.Time
	// ExpiresDay is the last day it applies, as written (YYYY-MM-DD).
	ExpiresDay string
	// Match holds the values of each match key as written; a key absent from it is not tested.
	Match map[string][]string
	// Pos is where the suppression starts in its file.
	Pos rulefmt.Pos

	rulePos  rulefmt.Pos // where the rule is named, for Check
	matchers []matcher   // Match, compiled in file order
	compiled bool        // set by Parse; a Suppression built by hand with a Match matches nothing
}

// matcher tests one field of a finding against the values of one match key.
type matcher struct {
	key    string
	field  func(f *engine.Finding) string
	values []valueMatcher // any of them
}

// valueMatcher is one compiled value: a glob or a set of IP ranges.
type valueMatcher interface {
	match(s string) bool
}

// Set is the content of one suppressions file, in file order.
type Set struct {
	// File is the file the set came from.
	File string
	// Items are the suppressions, in file order.
	Items []*Suppression
}

// ActiveAt reports whether the suppression applies at t: t is before the end of its expiry day (UTC).
func (x *Suppression) ActiveAt(t time.Time) bool { return t.Before(x.Expires) }

// Matches reports whether the suppression covers f, expiry aside: f is a finding of the suppression's rule
// (by name or id) and every match key holds. A Suppression not made by Parse matches only when its Match is
// empty, since its values were never checked and compiled.
func (x *Suppression) Matches(f *engine.Finding) bool {
	if f == nil || f.Rule == nil || f.Rule.Rule == nil || x.Rule == "" {
		return false
	}
	if x.Rule != f.Rule.Name && x.Rule != f.Rule.ID {
		return false
	}
	if !x.compiled {
		return len(x.Match) == 0
	}
	for _, m := range x.matchers {
		if !m.holds(f) {
			return false
		}
	}
	return true
}

func (m matcher) holds(f *engine.Finding) bool {
	v := m.field(f)
	for _, vm := range m.values {
		if vm.match(v) {
			return true
		}
	}
	return false
}

// Match finds the suppression that covers f at time at, the finding's event time. active is the first
// suppression, in file order, that matches f and has not expired at at. When none is active, expired is the
// first one that matches f but had expired at at, so the review can say "would have been suppressed by X,
// which expired on D"; otherwise both are nil.
func (s *Set) Match(f *engine.Finding, at time.Time) (active, expired *Suppression) {
	if s == nil {
		return nil, nil
	}
	for _, x := range s.Items {
		if !x.Matches(f) {
			continue
		}
		if x.ActiveAt(at) {
			return x, nil
		}
		if expired == nil {
			expired = x
		}
	}
	return nil, expired
}

// Check returns a problem for each suppression whose rule is not one known reports (known is typically
// built on engine.Set.Lookup): such a suppression would silently cover nothing.
func (s *Set) Check(known func(ref string) bool) rulefmt.Problems {
	if s == nil {
		return nil
	}
	var ps rulefmt.Problems
	for _, x := range s.Items {
		if known(x.Rule) {
			continue
		}
		pos := x.rulePos
		if pos.Line == 0 {
			pos = x.Pos
		}
		ps = append(ps, rulefmt.Problem{Pos: pos, Msg: fmt.Sprintf("rule %q is not in the rule library", x.Rule)})
	}
	return ps
}

// Expired returns the suppressions that no longer apply at now, in file order.
func (s *Set) Expired(now time.Time) []*Suppression {
	if s == nil {
		return nil
	}
	var out []*Suppression
	for _, x := range s.Items {
		if !x.ActiveAt(now) {
			out = append(out, x)
		}
	}
	return out
}

// ExpiringWithin returns the suppressions that apply at now but stop applying within d of it (their
// Expires is at most now+d), in file order.
func (s *Set) ExpiringWithin(now time.Time, d time.Duration) []*Suppression {
	if s == nil {
		return nil
	}
	var out []*Suppression
	for _, x := range s.Items {
		if x.ActiveAt(now) && !x.Expires.After(now.Add(d)) {
			out = append(out, x)
		}
	}
	return out
}
