// Package rulefmt reads detection rule files: Sigma rules for AWS CloudTrail with the keys trailwatch adds
// (pci, alert, tests, sql). It decodes strictly, keeps the file and line of everything, and reports every
// problem it finds, not only the first. It knows nothing of SQL or databases.
package rulefmt

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Rule is one Sigma document: a detection rule or a correlation rule.
type Rule struct {
	Pos            Pos
	Title          string
	ID             string
	Name           string
	Status         string
	Description    string
	License        string
	References     []string
	Author         string
	Date           string
	Modified       string
	Tags           []string
	Fields         []string
	FalsePositives []string
	Level          string
	Related        []Related
	LogSource      LogSource

	// Exactly one of Detection, Correlation and SQL is set.
	Detection   *Detection
	Correlation *Correlation
	SQL         string

	PCI   PCI
	Alert *bool
	Tests *Tests

	// Source is the file the rule came from.
	Source *Source

	// Keys records every top-level key present, with its position, for lint.
	Keys map[string]Pos
}

// Pos is a place in a rule file.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Related is an entry of the Sigma related list.
type Related struct {
	ID   string
	Type string
}

// LogSource is the Sigma logsource.
type LogSource struct {
	Product    string
	Service    string
	Category   string
	Definition string
}

// Detection is a Sigma detection: named searches and the condition that combines them.
type Detection struct {
	Pos        Pos
	Searches   map[string]*Search
	Order      []string // search names in file order
	Conditions []Condition
}

// Condition is one condition expression with its position; a list of conditions is OR-ed.
type Condition struct {
	Pos  Pos
	Text string
}

// Search is one named search identifier: an OR of AND-maps of field matches, or a keyword list.
type Search struct {
	Pos      Pos
	Name     string
	Maps     []FieldMap // OR of these
	Keywords *FieldMatch
}

// FieldMap is an AND of field matches (one Sigma map).
type FieldMap []*FieldMatch

// FieldMatch is one `field|modifier…: value(s)` pair. Field is empty for keyword searches.
type FieldMatch struct {
	Pos       Pos
	Field     string
	Modifiers []string
	Values    []Value
}

// ValueKind says what YAML scalar a value was.
type ValueKind int

// Value kinds.
const (
	String ValueKind = iota
	Number
	Bool
	Null
)

// Value is one value of a field match.
type Value struct {
	Pos  Pos
	Kind ValueKind
	S    string // the text as written (for Null: empty)
}

// Correlation is a Sigma correlation rule.
type Correlation struct {
	Pos       Pos
	Type      string
	Rules     []string
	GroupBy   []string
	Timespan  time.Duration
	Condition CorrelationCondition
	Aliases   map[string]map[string]string // alias -> rule -> field
	Generate  bool
}

// CorrelationCondition is the threshold of an event_count or value_count correlation.
type CorrelationCondition struct {
	Field string
	Ops   map[string]float64 // gt gte lt lte eq neq
}

// PCI holds the requirements a rule evidences in both numberings.
type PCI struct {
	Pos  Pos
	V4   []string
	V321 []string
}

// Tests are the events a rule must and must not fire on.
type Tests struct {
	Pos         Pos
	MustFire    []Event
	MustNotFire []Event
	Params      map[string][]string
}

// Event is one test event as JSON, with its position.
type Event struct {
	Pos  Pos
	JSON []byte
}

// Problem is one thing wrong with a rule file.
type Problem struct {
	Pos Pos
	Msg string
}

func (p Problem) String() string { return p.Pos.String() + ": " + p.Msg }

// Problems is a list of problems; as an error it prints one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by file and position.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Pos, ps[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// Err returns ps as an error, or nil when there are none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// Ref returns the name a person uses for the rule: its name, else its id, else its title.
func (r *Rule) Ref() string {
	switch {
	case r.Name != "":
		return r.Name
	case r.ID != "":
		return r.ID
	}
	return r.Title
}

// Alerts reports whether the rule is marked to alert.
func (r *Rule) Alerts() bool { return r.Alert != nil && *r.Alert }

// Counted returns the rules that correlations count without generating findings of their own (Sigma's
// generate: false, the default). They need neither PCI mapping nor tests: their correlation carries them.
func Counted(rules []*Rule) map[*Rule]bool {
	refs := map[string]bool{}
	for _, r := range rules {
		if r.Correlation != nil && !r.Correlation.Generate {
			for _, ref := range r.Correlation.Rules {
				refs[ref] = true
			}
		}
	}
	out := map[*Rule]bool{}
	for _, r := range rules {
		if r.Correlation == nil && (r.Name != "" && refs[r.Name] || r.ID != "" && refs[r.ID]) {
			out[r] = true
		}
	}
	return out
}

// Levels are the Sigma severities, lowest first.
var Levels = []string{"informational", "low", "medium", "high", "critical"}

// LevelRank orders severities: informational 0 … critical 4, and -1 for anything else.
func LevelRank(level string) int {
	for i, l := range Levels {
		if l == level {
			return i
		}
	}
	return -1
}
