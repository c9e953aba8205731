// Package review runs the daily PCI DSS log review: the whole rule library over a window, log coverage
// and gaps, retention, suppressions, and the files of the evidence bundle an assessor reads (report.html,
// report.md, findings.json, one CSV per rule, queries.sql, coverage.json, run.json and the summary). The
// manifest, signature and chain are the evidence package's.
package review

import (
	"time"
)

// Schema names the version of findings.json and of the Review it serialises. A change that removes or
// renames a field, or changes its meaning, makes a new version.
const Schema = "trailwatch.review/v1"

// Review is everything a review found, the model every file of the bundle is written from.
type Review struct {
	Schema  string    `json:"schema"`
	Version string    `json:"trailwatch_version"`
	Window  Window    `json:"window"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// RuleSet is the SHA-256 of the rule library run (every rule's id, name and version hash, sorted).
	RuleSet string `json:"rule_set"`
	// Rules is how many rules ran.
	Rules int `json:"rules"`
	// Events is how many events of the window were examined.
	Events int64 `json:"events"`
	// Sources are where the store's events came from (the objects' common prefixes).
	Sources []string `json:"sources"`

	Requirements []Requirement     `json:"requirements"`
	Findings     []Finding         `json:"findings"`
	Suppressions []SuppressionNote `json:"suppressions"`
	Coverage     Coverage          `json:"coverage"`
	Retention    []Retention       `json:"retention"`
	Charts       Charts            `json:"charts"`
	// Queries are the exact SQL run for each rule.
	Queries []Query `json:"-"`
	// Unreviewed lists earlier days in the evidence folder that nobody has acknowledged (newest first).
	Unreviewed []string `json:"unreviewed"`
}

// Window is the reviewed time range, Until exclusive.
type Window struct {
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	TimeZone string    `json:"time_zone"`
	// Label names the window: the day (2026-03-01) or since--until.
	Label string `json:"label"`
}

// Requirement is one PCI DSS v4.0.1 requirement-10 item and what the review found for it.
type Requirement struct {
	ID    string   `json:"id"`     // v4.0.1 number, e.g. 10.2.1.2
	V321  []string `json:"v3_2_1"` // the corresponding v3.2.1 numbers
	Title string   `json:"title"`
	// Evidenced says CloudTrail can evidence the requirement (some rule or check maps to it); the others
	// are listed with Note saying where their evidence lives.
	Evidenced  bool     `json:"evidenced"`
	Rules      []string `json:"rules"` // names of the rules and checks mapped to it
	Findings   int      `json:"findings"`
	Suppressed int      `json:"suppressed"`
	Note       string   `json:"note,omitempty"`
}

// Status is how the report states a requirement: "findings", "no findings", "suppressed only" or
// "not evidenced by CloudTrail".
func (r Requirement) Status() string {
	switch {
	case !r.Evidenced:
		return "not evidenced by CloudTrail"
	case r.Findings > 0:
		return "findings"
	case r.Suppressed > 0:
		return "suppressed only"
	}
	return "no findings"
}

// Finding is one rule hit or coverage check result, with the event that raised it.
type Finding struct {
	// ID is stable across runs over the same data: a hash of the rule id and the event id(s).
	ID      string   `json:"id"`
	Rule    string   `json:"rule"`
	RuleID  string   `json:"rule_id"`
	Title   string   `json:"title"`
	Level   string   `json:"level"`
	PCIv4   []string `json:"pci_v4"`
	PCIv321 []string `json:"pci_v3_2_1"`
	Alert   bool     `json:"alert"`

	Time         time.Time `json:"time"`
	Account      string    `json:"account,omitempty"`
	Region       string    `json:"region,omitempty"`
	Principal    string    `json:"principal,omitempty"`
	PrincipalARN string    `json:"principal_arn,omitempty"`
	IdentityType string    `json:"identity_type,omitempty"`
	EventSource  string    `json:"event_source,omitempty"`
	EventName    string    `json:"event_name,omitempty"`
	SourceIP     string    `json:"source_ip,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`
	ErrorCode    string    `json:"error_code,omitempty"`
	EventID      string    `json:"event_id,omitempty"`
	Object       string    `json:"source_object,omitempty"`
	// Count, EventIDs and Group are set for threshold (correlation) rules.
	Count    int      `json:"count,omitempty"`
	EventIDs []string `json:"event_ids,omitempty"`
	Group    []string `json:"group,omitempty"`
	// Detail says what a coverage or retention check found, in words.
	Detail string `json:"detail,omitempty"`
	// Event is the CloudTrail record (as stored), for findings shown in detail.
	Event *Event `json:"event,omitempty"`
	// Suppressed is set when a suppression covers the finding; it stays in the bundle.
	Suppressed *Suppressed `json:"suppressed,omitempty"`
}

// Event is the part of a CloudTrail record a reviewer reads.
type Event struct {
	RequestParameters  string `json:"request_parameters,omitempty"`
	ResponseElements   string `json:"response_elements,omitempty"`
	AdditionalData     string `json:"additional_event_data,omitempty"`
	ErrorMessage       string `json:"error_message,omitempty"`
	Resources          string `json:"resources,omitempty"`
	RecipientAccountID string `json:"recipient_account_id,omitempty"`
}

// Suppressed says which suppression covers a finding and why.
type Suppressed struct {
	ID      string `json:"id"`
	Reason  string `json:"reason"`
	Owner   string `json:"owner"`
	Expires string `json:"expires"` // YYYY-MM-DD
}

// SuppressionNote is one suppression of the file as the review applied it.
type SuppressionNote struct {
	ID      string `json:"id"`
	Rule    string `json:"rule"`
	Owner   string `json:"owner"`
	Reason  string `json:"reason"`
	Expires string `json:"expires"`
	Where   string `json:"where"` // file:line
	Expired bool   `json:"expired"`
	// Matched counts the findings it suppressed (an expired one suppresses none; Matched then counts
	// the findings it would have covered).
	Matched int `json:"matched"`
}

// Coverage is which account × region × hour had log files and events.
type Coverage struct {
	// Expected are the accounts and regions that should deliver logs, and where that list came from
	// ("config" or "seen in the previous 7 days").
	ExpectedAccounts []string `json:"expected_accounts"`
	ExpectedRegions  []string `json:"expected_regions"`
	ExpectedFrom     string   `json:"expected_from"`
	Hours            []string `json:"hours"` // RFC 3339 hour starts of the window, in order
	Cells            []Cell   `json:"cells"` // one per account × region seen or expected
	Gaps             []Gap    `json:"gaps"`
	NewAccounts      []string `json:"new_accounts"`
}

// Cell is one account and region over the window: per hour, files and events (same order as Hours).
type Cell struct {
	Account string  `json:"account"`
	Region  string  `json:"region"`
	Files   []int   `json:"files"`
	Events  []int64 `json:"events"`
}

// Gap is a run of hours without log files for an account and region (the whole window when it is silent).
type Gap struct {
	Account string    `json:"account"`
	Region  string    `json:"region"`
	From    time.Time `json:"from"`
	Until   time.Time `json:"until"`
	Silent  bool      `json:"silent"` // no log file in the whole window
}

// Retention is the log history available for one account and region.
type Retention struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	// OldestInStore is the oldest day with events in the store; OldestInSource the oldest day in the
	// configured S3 source ("" when none is configured).
	OldestInStore  string `json:"oldest_in_store"`
	OldestInSource string `json:"oldest_in_source,omitempty"`
	StoreDays      int    `json:"store_days"`
	AvailableDays  int    `json:"available_days"`
	// Problems name what falls short of 10.5.1: less than 12 months available, less than 3 in the store.
	Problems []string `json:"problems,omitempty"`
}

// Charts hold the series the report draws.
type Charts struct {
	EventsByHour    []Point `json:"events_by_hour"` // label: hour (HH:00 in the window's zone)
	FindingsByReq   []Point `json:"findings_by_requirement"`
	TopPrincipals   []Point `json:"top_principals"`
	TopErrorCodes   []Point `json:"top_error_codes"`
	SignInsByOrigin []Point `json:"sign_ins_by_origin"` // console sign-ins by source network (/24 or /48) or service
}

// Point is one bar of a chart.
type Point struct {
	Label string `json:"label"`
	Value int64  `json:"value"`
}

// Query is the SQL run for one rule.
type Query struct {
	Rule        string `json:"rule"`
	RuleID      string `json:"rule_id"`
	VersionHash string `json:"version_hash"`
	SQL         string `json:"sql"`
}
