package report

import (
	"fmt"
	"time"

	"github.com/trailwatch/trailwatch/internal/review"
)

// Hostile values put in fixtureReview's findings and charts, as an attacker could put them in CloudTrail
// fields (user agents, principal names, request parameters). Every report must show them as text.
const (
	pwnScript      = `<script>window.__pwned=1</script>`
	pwnAttribute   = `"><img src=x onerror="window.__pwned=2">`
	pwnEndScript   = `</script><script>window.__pwned=3</script>`
	pwnChartLabel  = `</script><script>window.__pwned=4</script>`
	pwnJSURL       = `javascript:window.__pwned=5`
	pwnTemplate    = `{{.}}`
	pwnPrincipal   = `attacker` + pwnAttribute
	pwnPrincipalID = `arn:aws:iam::111111111111:user/` + pwnChartLabel
)

// hostilePayloads are the strings above that each report must show verbatim.
var hostilePayloads = []string{pwnScript, pwnAttribute, pwnEndScript, pwnChartLabel, pwnJSURL, pwnTemplate}

// Accounts and regions of fixtureReview.
const (
	fixtureProd    = "111111111111"
	fixtureDev     = "222222222222"
	fixtureNew     = "333333333333"
	fixtureEast    = "us-east-1"
	fixtureWest    = "eu-west-1"
	fixtureRuleSet = "5b1f0c7e9a3d4c2b8e6f1a0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a392817065"
)

// fixtureReview is a review of 2026-03-01 (UTC) over two accounts and two regions, rich enough for every
// report format: requirements with findings, without findings, suppressed only and not evidenced; a
// threshold finding (Count, EventIDs, Group); a suppressed finding and an expired suppression; a coverage
// gap, a silent region and a new account; a retention problem; an unreviewed earlier day; chart series;
// queries. One finding carries the hostile payloads above in its principal, user agent, source object and
// event, and a chart label carries one too.
func fixtureReview() *review.Review {
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	until := since.Add(24 * time.Hour)
	at := func(h, m, s int) time.Time {
		return since.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}

	rv := &review.Review{
		Schema:     review.Schema,
		Version:    "v0.4.0-test",
		Window:     review.Window{Since: since, Until: until, TimeZone: "UTC", Label: "2026-03-01"},
		Started:    time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC),
		Ended:      time.Date(2026, 3, 2, 1, 0, 42, 0, time.UTC),
		RuleSet:    fixtureRuleSet,
		Rules:      148,
		Sources:    []string{"s3://org-trail-logs/AWSLogs/o-abc123def4/"},
		Unreviewed: []string{"2026-02-28"},
	}

	// Coverage: prod us-east-1 has no files 03:00-06:00, dev eu-west-1 is silent, a new account appears
	// in us-east-1 for three hours.
	cov := review.Coverage{
		ExpectedAccounts: []string{fixtureProd, fixtureDev},
		ExpectedRegions:  []string{fixtureEast, fixtureWest},
		ExpectedFrom:     "config",
		NewAccounts:      []string{fixtureNew},
	}
	for h := range 24 {
		cov.Hours = append(cov.Hours, since.Add(time.Duration(h)*time.Hour).Format(time.RFC3339))
	}
	cell := func(account, region string, base int64, present func(h int) bool) review.Cell {
		c := review.Cell{Account: account, Region: region, Files: make([]int, 24), Events: make([]int64, 24)}
		for h := range 24 {
			if present(h) {
				c.Files[h] = 12
				c.Events[h] = base + int64((h*37)%50)*base/50 // a daily rhythm, deterministic
				if h >= 8 && h < 18 {
					c.Events[h] *= 3
				}
			}
		}
		return c
	}
	always := func(int) bool { return true }
	cov.Cells = []review.Cell{
		cell(fixtureProd, fixtureEast, 1200, func(h int) bool { return h < 3 || h >= 6 }),
		cell(fixtureProd, fixtureWest, 80, always),
		cell(fixtureDev, fixtureEast, 300, always),
		cell(fixtureDev, fixtureWest, 0, func(int) bool { return false }),
		cell(fixtureNew, fixtureEast, 15, func(h int) bool { return h >= 14 && h < 17 }),
	}
	cov.Gaps = []review.Gap{
		{Account: fixtureProd, Region: fixtureEast, From: at(3, 0, 0), Until: at(6, 0, 0)},
		{Account: fixtureDev, Region: fixtureWest, From: since, Until: until, Silent: true},
	}
	rv.Coverage = cov
	for i := range cov.Hours {
		var n int64
		for _, c := range cov.Cells {
			n += c.Events[i]
		}
		rv.Events += n
		rv.Charts.EventsByHour = append(rv.Charts.EventsByHour, review.Point{Label: fmt.Sprintf("%02d:00", i), Value: n})
	}

	rv.Requirements = []review.Requirement{
		{ID: "10.1.1", V321: []string{"10.8"}, Title: "Requirement 10 policies and procedures are documented, in use and known",
			Note: "Evidenced by the organisation's policy documents, not by CloudTrail."},
		{ID: "10.2.1", V321: []string{"10.1", "10.2"}, Title: "Audit logs are enabled and active for all system components",
			Evidenced: true, Rules: []string{"log_coverage_gap", "aws_cloudtrail_logging_stopped"}, Findings: 2},
		{ID: "10.2.1.2", V321: []string{"10.2.2"}, Title: "Audit logs capture all actions by anyone with administrative access",
			Evidenced: true, Rules: []string{"aws_root_account_usage", "aws_iam_admin_policy_attached"}, Findings: 1},
		{ID: "10.2.1.3", V321: []string{"10.2.3"}, Title: "Audit logs capture all access to audit logs",
			Evidenced: true, Rules: []string{"aws_log_bucket_access"}},
		{ID: "10.2.1.4", V321: []string{"10.2.4"}, Title: "Audit logs capture all invalid logical access attempts",
			Evidenced: true, Rules: []string{"aws_console_login_failures_burst", "aws_access_denied_burst"}, Findings: 1},
		{ID: "10.2.1.5", V321: []string{"10.2.5"}, Title: "Audit logs capture all changes to identification and authentication credentials",
			Evidenced: true, Rules: []string{"aws_iam_access_key_created"}, Findings: 1},
		{ID: "10.2.1.6", V321: []string{"10.2.6"}, Title: "Audit logs capture the initialisation, stopping or pausing of audit logs",
			Evidenced: true, Rules: []string{"aws_cloudtrail_logging_stopped"}, Suppressed: 1},
		{ID: "10.5.1", V321: []string{"10.7"}, Title: "Audit log history is retained for at least 12 months, 3 months immediately available",
			Evidenced: true, Rules: []string{"log_retention"}, Findings: 1},
		{ID: "10.6.1", V321: []string{"10.4"}, Title: "System clocks and time are synchronised using time-synchronisation technology",
			Note: "AWS synchronises the clocks of its services; evidence for your own hosts is their NTP configuration."},
	}

	root := review.Finding{
		ID: "f-root-1", Rule: "aws_root_account_usage", RuleID: "0a1b2c3d-0001", Title: "Root account used",
		Level: "critical", PCIv4: []string{"10.2.1.2"}, PCIv321: []string{"10.2.2"}, Alert: true,
		Time: at(2, 17, 5), Account: fixtureProd, Region: fixtureEast,
		Principal: pwnPrincipal, PrincipalARN: pwnPrincipalID, IdentityType: "Root",
		EventSource: "s3.amazonaws.com", EventName: "PutBucketPolicy", SourceIP: "198.51.100.23",
		UserAgent: "aws-cli/2.15.0 " + pwnScript, ErrorCode: "AccessDenied", EventID: "e1f2a3b4-0000-4000-8000-000000000001",
		Object: pwnJSURL,
		Event: &review.Event{
			RequestParameters:  `{"bucketName":"` + jsonText(pwnEndScript) + `","policy":"` + pwnTemplate + `","acl":["private"]}`,
			ResponseElements:   `not json: ` + pwnAttribute,
			AdditionalData:     `{"SignatureVersion":"SigV4","x-amz-id-2":"` + jsonText(pwnScript) + `"}`,
			ErrorMessage:       "User is not authorized " + pwnTemplate,
			Resources:          `[{"ARN":"arn:aws:s3:::payments-logs","type":"AWS::S3::Bucket","accountId":"111111111111"},{"ARN":"arn:aws:s3:::payments-logs/policy","type":"AWS::S3::Object"}]`,
			RecipientAccountID: fixtureProd,
		},
	}
	burst := review.Finding{
		ID: "f-burst-1", Rule: "aws_console_login_failures_burst", RuleID: "0a1b2c3d-0002", Title: "Many failed console sign-ins",
		Level: "high", PCIv4: []string{"10.2.1.4"}, PCIv321: []string{"10.2.4"}, Alert: true,
		Time: at(9, 40, 0), Account: fixtureProd, Region: fixtureEast, Principal: "alice",
		EventSource: "signin.amazonaws.com", EventName: "ConsoleLogin", SourceIP: "203.0.113.7", ErrorCode: "Failed authentication",
		Count: 12, Group: []string{"alice", "203.0.113.7"},
		Detail: "12 failed sign-ins within 10 minutes (threshold 5)",
	}
	for i := range 12 {
		burst.EventIDs = append(burst.EventIDs, fmt.Sprintf("b0000000-0000-4000-8000-%012d", i+1))
	}
	key := review.Finding{
		ID: "f-key-1", Rule: "aws_iam_access_key_created", RuleID: "0a1b2c3d-0003", Title: "IAM access key created",
		Level: "low", PCIv4: []string{"10.2.1.5"}, PCIv321: []string{"10.2.5"},
		Time: at(11, 5, 30), Account: fixtureDev, Region: fixtureEast, Principal: "ci-deployer",
		PrincipalARN: "arn:aws:iam::222222222222:user/ci-deployer", IdentityType: "IAMUser",
		EventSource: "iam.amazonaws.com", EventName: "CreateAccessKey", SourceIP: "192.0.2.10", UserAgent: "Boto3/1.34.0",
		EventID: "e1f2a3b4-0000-4000-8000-000000000003",
		Event:   &review.Event{RequestParameters: `{"userName":"ci-deployer"}`, ResponseElements: `{"accessKey":{"accessKeyId":"AKIAEXAMPLE","status":"Active"}}`},
	}
	stopped := review.Finding{
		ID: "f-stop-1", Rule: "aws_cloudtrail_logging_stopped", RuleID: "0a1b2c3d-0004", Title: "CloudTrail logging stopped",
		Level: "high", PCIv4: []string{"10.2.1.6"}, PCIv321: []string{"10.2.6"},
		Time: at(23, 10, 0), Account: fixtureDev, Region: fixtureEast, Principal: "sandbox-pipeline",
		EventSource: "cloudtrail.amazonaws.com", EventName: "StopLogging", SourceIP: "cloudformation.amazonaws.com",
		EventID: "e1f2a3b4-0000-4000-8000-000000000004",
		Suppressed: &review.Suppressed{ID: "sup-sandbox-trail", Reason: "The sandbox pipeline recreates its own trail nightly",
			Owner: "platform-team", Expires: "2026-06-30"},
	}
	gap := review.Finding{
		ID: "f-gap-1", Rule: "log_coverage_gap", RuleID: "check-coverage", Title: "Hours without log files",
		Level: "medium", PCIv4: []string{"10.2.1"}, PCIv321: []string{"10.2"},
		Time: at(3, 0, 0), Account: fixtureProd, Region: fixtureEast,
		Detail: "no log files from 2026-03-01 03:00 to 2026-03-01 06:00 UTC (3 hours)",
	}
	silent := gap
	silent.ID, silent.Time, silent.Account, silent.Region = "f-gap-2", since, fixtureDev, fixtureWest
	silent.Detail = "no log file in the whole window: the region is silent"
	retention := review.Finding{
		ID: "f-ret-1", Rule: "log_retention", RuleID: "check-retention", Title: "Log history shorter than required",
		Level: "medium", PCIv4: []string{"10.5.1"}, PCIv321: []string{"10.7"},
		Time: until, Account: fixtureDev, Region: fixtureWest,
		Detail: "account 222222222222 in eu-west-1: oldest log day 2026-01-20; only 40 days of logs available (10.5.1: at least 12 months)",
	}
	rv.Findings = []review.Finding{gap, silent, root, burst, key, stopped, retention}

	rv.Suppressions = []review.SuppressionNote{
		{ID: "sup-sandbox-trail", Rule: "aws_cloudtrail_logging_stopped", Owner: "platform-team",
			Reason: "The sandbox pipeline recreates its own trail nightly", Expires: "2026-06-30", Where: "suppressions.yaml:4", Matched: 1},
		{ID: "sup-key-rotation", Rule: "aws_iam_access_key_created", Owner: "security-team",
			Reason: "Quarterly key rotation", Expires: "2026-02-15", Where: "suppressions.yaml:11", Expired: true, Matched: 1},
	}

	rv.Retention = []review.Retention{
		{Account: fixtureProd, Region: fixtureEast, OldestInStore: "2025-11-01", OldestInSource: "2024-06-01", StoreDays: 120, AvailableDays: 638},
		{Account: fixtureProd, Region: fixtureWest, OldestInStore: "2025-11-01", OldestInSource: "2024-06-01", StoreDays: 120, AvailableDays: 638},
		{Account: fixtureDev, Region: fixtureEast, OldestInStore: "2025-11-20", OldestInSource: "2025-01-10", StoreDays: 101, AvailableDays: 415},
		{Account: fixtureDev, Region: fixtureWest, OldestInStore: "2026-01-20", OldestInSource: "2026-01-20", StoreDays: 40, AvailableDays: 40,
			Problems: []string{"only 40 days in the store (10.5.1: at least 3 months immediately available)",
				"only 40 days of logs available (10.5.1: at least 12 months)"}},
	}

	rv.Charts.FindingsByReq = []review.Point{{Label: "10.2.1", Value: 2}, {Label: "10.2.1.2", Value: 1}, {Label: "10.2.1.4", Value: 1},
		{Label: "10.2.1.5", Value: 1}, {Label: "10.5.1", Value: 1}}
	rv.Charts.TopPrincipals = []review.Point{{Label: pwnChartLabel, Value: 3}, {Label: "alice", Value: 2}, {Label: "ci-deployer", Value: 1}}
	rv.Charts.TopErrorCodes = []review.Point{{Label: "AccessDenied", Value: 42}, {Label: "Client.UnauthorizedOperation", Value: 7},
		{Label: "Failed authentication", Value: 12}, {Label: "ThrottlingException", Value: 3}}
	rv.Charts.SignInsByOrigin = []review.Point{{Label: "203.0.113.0/24", Value: 14}, {Label: "198.51.100.0/24", Value: 3},
		{Label: "2001:db8:1::/48", Value: 1}}

	for _, r := range []struct{ name, id, sql string }{
		{"aws_root_account_usage", "0a1b2c3d-0001", `SELECT * FROM cloudtrail_logs WHERE useridentity.type = 'Root'`},
		{"aws_console_login_failures_burst", "0a1b2c3d-0002", `SELECT useridentity.username, sourceipaddress, count(*) FROM cloudtrail_logs WHERE eventname = 'ConsoleLogin' AND errormessage = 'Failed authentication' GROUP BY 1, 2 HAVING count(*) >= 5`},
		{"aws_iam_access_key_created", "0a1b2c3d-0003", `SELECT * FROM cloudtrail_logs WHERE eventsource = 'iam.amazonaws.com' AND eventname = 'CreateAccessKey'`},
		{"aws_cloudtrail_logging_stopped", "0a1b2c3d-0004", `SELECT * FROM cloudtrail_logs WHERE eventname IN ('StopLogging', 'DeleteTrail')`},
		{"aws_log_bucket_access", "0a1b2c3d-0005", `SELECT * FROM cloudtrail_logs WHERE eventsource = 's3.amazonaws.com' AND requestparameters LIKE '%org-trail-logs%'`},
	} {
		rv.Queries = append(rv.Queries, review.Query{Rule: r.name, RuleID: r.id, VersionHash: "v-" + r.id, SQL: r.sql})
	}
	return rv
}

// jsonText escapes s for a JSON string (quotes and backslashes; the payloads have no control characters).
func jsonText(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}
