package rulefmt

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/trailwatch/trailwatch/internal/pci"
)

var (
	uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	dateRE = regexp.MustCompile(`^\d{4}[-/]\d{2}[-/]\d{2}$`)
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)
)

var (
	statuses = map[string]bool{"stable": true, "test": true, "experimental": true, "deprecated": true, "unsupported": true}
)

// Lint checks what a rule of the library must have beyond what parsing checks: a UUID id, a name, a
// status, a level, a date, a description, the PCI DSS requirements in both numberings (each valid and
// corresponding), and tests with must-fire and must-not-fire events. Rules only counted by a correlation
// need neither PCI mapping nor tests: their correlation carries them.
func Lint(rules []*Rule) Problems {
	var ps Problems
	add := func(p Pos, format string, args ...any) {
		ps = append(ps, Problem{Pos: p, Msg: fmt.Sprintf(format, args...)})
	}
	counted := Counted(rules)
	ids := map[string]*Rule{}
	names := map[string]*Rule{}
	for _, r := range rules {
		at := func(key string) Pos {
			if p, ok := r.Keys[key]; ok {
				return p
			}
			return r.Pos
		}
		switch {
		case r.ID == "":
			add(r.Pos, "rule %q has no id", r.Title)
		case !uuidRE.MatchString(r.ID):
			add(at("id"), "id %q is not a UUID", r.ID)
		case ids[r.ID] != nil:
			add(at("id"), "id %s is also used by %s", r.ID, ids[r.ID].Pos)
		default:
			ids[r.ID] = r
		}
		switch {
		case r.Name == "":
			add(r.Pos, "rule %q has no name", r.Title)
		case !nameRE.MatchString(r.Name):
			add(at("name"), "name %q must be lower-case letters, digits and _", r.Name)
		case names[r.Name] != nil:
			add(at("name"), "name %s is also used by %s", r.Name, names[r.Name].Pos)
		default:
			names[r.Name] = r
		}
		if !statuses[r.Status] {
			add(at("status"), "status %q is not one of stable, test, experimental, deprecated, unsupported", r.Status)
		}
		if r.Date == "" || !dateRE.MatchString(r.Date) {
			add(at("date"), "date %q is not YYYY-MM-DD", r.Date)
		}
		if r.Modified != "" && !dateRE.MatchString(r.Modified) {
			add(at("modified"), "modified %q is not YYYY-MM-DD", r.Modified)
		}
		if strings.TrimSpace(r.Description) == "" {
			add(r.Pos, "rule %q has no description", r.Title)
		}
		if r.Author == "" {
			add(r.Pos, "rule %q has no author", r.Title)
		}
		if r.Detection != nil || r.SQL != "" {
			if !strings.EqualFold(r.LogSource.Product, "aws") || !strings.EqualFold(r.LogSource.Service, "cloudtrail") {
				add(at("logsource"), "logsource must be product: aws, service: cloudtrail")
			}
		}
		if counted[r] {
			continue
		}
		if LevelRank(r.Level) < 0 {
			add(at("level"), "level %q is not one of informational, low, medium, high, critical", r.Level)
		}
		if len(r.PCI.V4) == 0 {
			add(at("pci"), "rule %q has no PCI DSS v4.0.1 mapping (pci: {v4.0.1: [...]})", r.Title)
		}
		if len(r.PCI.V321) == 0 {
			add(at("pci"), "rule %q has no PCI DSS v3.2.1 mapping (pci: {v3.2.1: [...]})", r.Title)
		}
		for _, id := range r.PCI.V4 {
			if pci.V4Title(id) == "" {
				add(r.PCI.Pos, "%q is not a PCI DSS v4.0.1 requirement 10 number", id)
			}
		}
		for _, id := range r.PCI.V321 {
			if pci.V321Title(id) == "" {
				add(r.PCI.Pos, "%q is not a PCI DSS v3.2.1 requirement 10 number", id)
				continue
			}
			ok := false
			for _, v4 := range r.PCI.V4 {
				if pci.Corresponds(id, v4) {
					ok = true
				}
			}
			if !ok && len(r.PCI.V4) > 0 {
				add(r.PCI.Pos, "v3.2.1 %s corresponds to v4.0.1 %s, which the rule does not list", id, strings.Join(pci.V4For(id), ", "))
			}
		}
		if r.Tests == nil {
			add(r.Pos, "rule %q has no tests (tests: {must_fire: [...], must_not_fire: [...]})", r.Title)
			continue
		}
		if len(r.Tests.MustFire) == 0 {
			add(r.Tests.Pos, "tests have no must_fire events")
		}
		if len(r.Tests.MustNotFire) == 0 {
			add(r.Tests.Pos, "tests have no must_not_fire events")
		}
	}
	ps.Sort()
	return ps
}
