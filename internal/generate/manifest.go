package generate

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Manifest is the ground truth Run writes to scenarios.json, next to AWSLogs/. Its JSON form is
//
//	{
//	  "seed": 42,
//	  "generated_with": {"accounts": 5, "regions": 3, "days": 7, "end": "2024-03-31", "events_per_day": 100000, "seed": 42},
//	  "organization": {
//	    "id": "o-a1b2c3d4e5", "management_account": "…", "log_archive_account": "…",
//	    "log_bucket": "org-cloudtrail-logs-…", "identity_store": "d-…",
//	    "accounts": [{"id": "…", "name": "prod-payments"}, {"id": "…", "name": "prod-newmarket", "joined": "2024-03-31T10:12:00Z"}],
//	    "regions": ["us-east-1", "eu-west-1", "us-west-2"]
//	  },
//	  "scenarios": [{
//	    "name": "root-console-login", "description": "…", "pci": ["10.2.1.2"],
//	    "account": "…", "region": "us-east-1", "principal": "arn:aws:iam::…:root", "source_ip": "…",
//	    "event_ids": ["…"], "start": "2024-03-29T03:12:40Z", "end": "2024-03-29T03:12:40Z"
//	  }],
//	  "missing": [{"account": "…", "region": "eu-west-1", "day": "2024-03-28"}],
//	  "totals": {"events": 700000, "files": 28734}
//	}
//
// generated_with holds the options that shape the output (not the output folder or the number of
// workers, which do not). Every event of a scenario is listed by eventID; start and end are the times of
// its first and last event. A scenario's events belong to its account and region, except that
// new-account names the joining account and also lists the CreateAccount call of the management account
// (region us-east-1). missing lists the
// account, region and day (the folder date) for which no log file exists at all. totals count exactly the
// records and files written under AWSLogs/.
type Manifest struct {
	Seed          int64        `json:"seed"`
	GeneratedWith Params       `json:"generated_with"`
	Organization  Organization `json:"organization"`
	Scenarios     []Scenario   `json:"scenarios"`
	Missing       []Missing    `json:"missing"`
	Totals        Totals       `json:"totals"`
}

// Params are the options a generated data set was made with.
type Params struct {
	Accounts     int    `json:"accounts"`
	Regions      int    `json:"regions"`
	Days         int    `json:"days"`
	End          string `json:"end"` // YYYY-MM-DD
	EventsPerDay int    `json:"events_per_day"`
	Seed         int64  `json:"seed"`
}

// Organization describes the generated AWS Organization.
type Organization struct {
	ID                string        `json:"id"`
	ManagementAccount string        `json:"management_account"`
	LogArchiveAccount string        `json:"log_archive_account"`
	LogBucket         string        `json:"log_bucket"`
	IdentityStore     string        `json:"identity_store"`
	Accounts          []AccountInfo `json:"accounts"`
	Regions           []string      `json:"regions"`
}

// AccountInfo is one account of the organization.
type AccountInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Joined string `json:"joined,omitempty"` // RFC 3339 time its logs start, for the account joining late
}

// Scenario is one planted incident.
type Scenario struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	PCI         []string `json:"pci"` // PCI DSS v4.0.1 requirements the incident is evidence for
	Account     string   `json:"account"`
	Region      string   `json:"region"`
	Principal   string   `json:"principal"` // ARN of the identity that acted
	SourceIP    string   `json:"source_ip"`
	EventIDs    []string `json:"event_ids"`
	Start       string   `json:"start"` // RFC 3339
	End         string   `json:"end"`   // RFC 3339
}

// Missing is an account, region and day with no log files.
type Missing struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Day     string `json:"day"` // YYYY-MM-DD

	acct, region, day int
}

// Totals count what was written.
type Totals struct {
	Events int `json:"events"`
	Files  int `json:"files"`
}

func writeManifest(path string, p *plan, sum Summary) error {
	m := Manifest{
		Seed: p.o.Seed,
		GeneratedWith: Params{
			Accounts: p.o.Accounts, Regions: p.o.Regions, Days: p.o.Days,
			End: p.o.End.Format(time.DateOnly), EventsPerDay: p.o.EventsPerDay, Seed: p.o.Seed,
		},
		Organization: Organization{
			ID:                p.org,
			ManagementAccount: p.accounts[0].id,
			LogArchiveAccount: p.accounts[p.logArchive].id,
			LogBucket:         p.logBucket,
			IdentityStore:     p.storeID,
			Regions:           p.regions,
		},
		Scenarios: p.scenarios,
		Missing:   p.missing,
		Totals:    Totals{Events: sum.Events, Files: sum.Files},
	}
	for _, a := range p.accounts {
		info := AccountInfo{ID: a.id, Name: a.name}
		if a.idx == p.newcomer {
			info.Joined = rfc3339(p.joinAt)
		}
		m.Organization.Accounts = append(m.Organization.Accounts, info)
	}
	if m.Scenarios == nil {
		m.Scenarios = []Scenario{}
	}
	if m.Missing == nil {
		m.Missing = []Missing{}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func rfc3339(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }
