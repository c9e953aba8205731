// Package pci is the catalog of PCI DSS requirement 10, in the v4.0.1 numbering and the retired v3.2.1
// one, with the correspondence between them. Titles are paraphrases, not the standard's text.
package pci

import "strings"

// Requirement is one requirement of PCI DSS requirement 10.
type Requirement struct {
	ID    string
	Title string
}

// V4 lists the requirements of PCI DSS v4.0.1 requirement 10.
var V4 = []Requirement{
	{"10.1.1", "Requirement 10 policies and procedures are documented, in use and known"},
	{"10.1.2", "Roles and responsibilities for requirement 10 are assigned"},
	{"10.2.1", "Audit logs are enabled and active for all system components"},
	{"10.2.1.1", "Audit logs capture all individual user access to cardholder data"},
	{"10.2.1.2", "Audit logs capture all actions by anyone with administrative access"},
	{"10.2.1.3", "Audit logs capture all access to audit logs"},
	{"10.2.1.4", "Audit logs capture all invalid logical access attempts"},
	{"10.2.1.5", "Audit logs capture all changes to identification and authentication credentials"},
	{"10.2.1.6", "Audit logs capture the initialisation, stopping or pausing of audit logs"},
	{"10.2.1.7", "Audit logs capture the creation and deletion of system-level objects"},
	{"10.2.2", "Audit logs record user, event type, time, outcome, origin and affected resource"},
	{"10.3.1", "Read access to audit logs is limited to those with a job-related need"},
	{"10.3.2", "Audit log files are protected from modification"},
	{"10.3.3", "Audit logs are promptly backed up to a secure, central store"},
	{"10.3.4", "File integrity monitoring or change detection is used on audit logs"},
	{"10.4.1", "Security events and critical-system logs are reviewed at least daily"},
	{"10.4.1.1", "Automated mechanisms perform the audit log reviews"},
	{"10.4.2", "Logs of all other system components are reviewed periodically"},
	{"10.4.2.1", "The frequency of periodic reviews is set by a targeted risk analysis"},
	{"10.4.3", "Exceptions and anomalies found in the review are addressed"},
	{"10.5.1", "Audit log history is retained for at least 12 months, 3 months immediately available"},
	{"10.6.1", "System clocks and time are synchronised using time-synchronisation technology"},
	{"10.6.2", "Systems are configured to the correct and consistent time"},
	{"10.6.3", "Time synchronisation settings and data are protected"},
	{"10.7.1", "(Service providers, until 31 March 2025) Failures of critical security control systems are detected and reported"},
	{"10.7.2", "Failures of critical security control systems are detected, alerted and addressed promptly"},
	{"10.7.3", "Failures of critical security control systems are responded to promptly"},
}

// V321 lists the requirements of PCI DSS v3.2.1 requirement 10.
var V321 = []Requirement{
	{"10.1", "Audit trails link all access to system components to each individual user"},
	{"10.2", "Automated audit trails reconstruct events for all system components"},
	{"10.2.1", "All individual user accesses to cardholder data"},
	{"10.2.2", "All actions taken by any individual with root or administrative privileges"},
	{"10.2.3", "Access to all audit trails"},
	{"10.2.4", "Invalid logical access attempts"},
	{"10.2.5", "Use of and changes to identification and authentication mechanisms"},
	{"10.2.6", "Initialization, stopping, or pausing of the audit logs"},
	{"10.2.7", "Creation and deletion of system-level objects"},
	{"10.3", "Audit trail entries record the details of each event"},
	{"10.3.1", "User identification"},
	{"10.3.2", "Type of event"},
	{"10.3.3", "Date and time"},
	{"10.3.4", "Success or failure indication"},
	{"10.3.5", "Origination of event"},
	{"10.3.6", "Identity or name of affected data, system component, or resource"},
	{"10.4", "Time-synchronization technology"},
	{"10.4.1", "Critical systems have the correct and consistent time"},
	{"10.4.2", "Time data is protected"},
	{"10.4.3", "Time settings are received from industry-accepted time sources"},
	{"10.5", "Audit trails are secured so they cannot be altered"},
	{"10.5.1", "Viewing of audit trails is limited to those with a job-related need"},
	{"10.5.2", "Audit trail files are protected from unauthorized modifications"},
	{"10.5.3", "Audit trail files are promptly backed up to a centralized log server"},
	{"10.5.4", "Logs for external-facing technologies are written to an internal log server"},
	{"10.5.5", "File-integrity monitoring or change-detection is used on logs"},
	{"10.6", "Logs and security events are reviewed to identify anomalies"},
	{"10.6.1", "Security events and critical-system logs are reviewed at least daily"},
	{"10.6.2", "Logs of all other system components are reviewed periodically"},
	{"10.6.3", "Exceptions and anomalies identified during review are followed up"},
	{"10.7", "Audit trail history is retained for at least one year, three months immediately available"},
	{"10.8", "(Service providers) Failures of critical security control systems are detected and reported"},
	{"10.8.1", "(Service providers) Failures of critical security controls are responded to promptly"},
	{"10.9", "Security policies and procedures for monitoring are documented, in use and known"},
}

// toV4 maps each v3.2.1 requirement to the v4.0.1 requirements that carry it on.
var toV4 = map[string][]string{
	"10.1": {"10.2.1"}, "10.2": {"10.2.1"},
	"10.2.1": {"10.2.1.1"}, "10.2.2": {"10.2.1.2"}, "10.2.3": {"10.2.1.3"}, "10.2.4": {"10.2.1.4"},
	"10.2.5": {"10.2.1.5"}, "10.2.6": {"10.2.1.6"}, "10.2.7": {"10.2.1.7"},
	"10.3": {"10.2.2"}, "10.3.1": {"10.2.2"}, "10.3.2": {"10.2.2"}, "10.3.3": {"10.2.2"}, "10.3.4": {"10.2.2"},
	"10.3.5": {"10.2.2"}, "10.3.6": {"10.2.2"},
	"10.4": {"10.6.1"}, "10.4.1": {"10.6.2"}, "10.4.3": {"10.6.2"}, "10.4.2": {"10.6.3"},
	"10.5": {"10.3.1", "10.3.2"}, "10.5.1": {"10.3.1"}, "10.5.2": {"10.3.2"}, "10.5.3": {"10.3.3"}, "10.5.4": {"10.3.3"},
	"10.5.5": {"10.3.4"},
	"10.6":   {"10.4.1"}, "10.6.1": {"10.4.1"}, "10.6.2": {"10.4.2"}, "10.6.3": {"10.4.3"},
	"10.7": {"10.5.1"}, "10.8": {"10.7.1", "10.7.2"}, "10.8.1": {"10.7.3"}, "10.9": {"10.1.1"},
}

// V4Title returns the title of a v4.0.1 requirement, or "" when there is none.
func V4Title(id string) string { return title(V4, id) }

// V321Title returns the title of a v3.2.1 requirement, or "" when there is none.
func V321Title(id string) string { return title(V321, id) }

func title(list []Requirement, id string) string {
	for _, r := range list {
		if r.ID == id {
			return r.Title
		}
	}
	return ""
}

// V4For returns the v4.0.1 requirements a v3.2.1 requirement became.
func V4For(v321 string) []string { return toV4[v321] }

// Corresponds reports whether a v3.2.1 requirement carries on as the v4.0.1 requirement (or a parent or
// child of it: 10.2.1.6 corresponds to 10.2.6 and 10.2).
func Corresponds(v321, v4 string) bool {
	for _, m := range toV4[v321] {
		if m == v4 || strings.HasPrefix(v4, m+".") || strings.HasPrefix(m, v4+".") {
			return true
		}
	}
	return false
}

// Matches reports whether a requirement ID selects id: equal, or a parent of it (10.2.1 selects 10.2.1.4).
func Matches(filter, id string) bool { return id == filter || strings.HasPrefix(id, filter+".") }

// V321For returns the v3.2.1 requirements that a v4.0.1 requirement carries on, in catalog order.
func V321For(v4 string) []string {
	var out []string
	for _, r := range V321 {
		for _, id := range toV4[r.ID] {
			if id == v4 {
				out = append(out, r.ID)
				break
			}
		}
	}
	return out
}
