package generate

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Values attackers bring with them.
const (
	torExitIP    = "185.220.101.47"
	scannerIP    = "45.155.205.233"
	vpsIP        = "193.142.146.35"
	kaliBoto3    = "Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.2 (kali)"
	linuxFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0"
	oldChrome    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.110 Safari/537.36"
	xssAgent     = `Mozilla/5.0 (X11; Linux x86_64) <script>alert(1)</script>`
	xssValue     = `"><script>alert(1)</script><img src=x onerror=alert(document.domain)>`
)

// planter plants the scenarios: it picks days, accounts and times with the plan's random stream and
// renders each planted record with the same writer as the background.
type planter struct {
	p   *plan
	rng *rand.Rand
	g   *gen
}

// incident collects the events of one scenario.
type incident struct {
	pl      *planter
	s       Scenario
	a, r    int
	p       *principal
	ip      string
	t0, t1  int64
	started bool
	err     error
}

// plantScenarios plants every scenario the time range allows, in a fixed order.
func (p *plan) plantScenarios(rng *rand.Rand) error {
	if p.o.EventsPerDay == 0 {
		return nil
	}
	pl := &planter{p: p, rng: rng, g: newGen(p, rng)}
	for _, plant := range []func() error{
		pl.rootConsoleLogin, pl.consoleLoginFailures, pl.cloudTrailStopped, pl.cloudTrailTampered,
		pl.securityGroupOpen, pl.adminGroup, pl.logBucketRead, pl.kmsKeyDeletion, pl.backdoorUser,
		pl.guardDutyDeleted, pl.configStopped, pl.loginWithoutMFA, pl.accessDeniedStorm, pl.xssPayload,
		pl.newAccount,
	} {
		if err := plant(); err != nil {
			return err
		}
	}
	return nil
}

// place picks a member account (not the management, log-archive or joining account when there are
// others) and a time between the hours from and to of a random day, such that the account has logs in
// region r from then for span seconds. ok is false when no such place was found.
func (pl *planter) place(r int, from, to float64, span int64) (a int, t int64, ok bool) {
	p := pl.p
	lo := 0
	if p.o.Accounts > 2 {
		lo = 2
	} else if p.o.Accounts == 2 {
		lo = 1
	}
	for range 50 {
		a = lo + pl.rng.IntN(p.o.Accounts-lo)
		day := pl.rng.IntN(p.o.Days)
		t = p.start + int64(day)*86400 + int64((from+pl.rng.Float64()*(to-from))*3600)
		if pl.fits(a, r, t, span) {
			return a, t, true
		}
	}
	return 0, 0, false
}

// fits says whether account a has logs in region r from t for span seconds.
func (pl *planter) fits(a, r int, t, span int64) bool {
	for x := t; x <= t+span; x += windowSeconds {
		if !pl.p.slotOK(a, r, x) {
			return false
		}
	}
	return pl.p.slotOK(a, r, t+span)
}

func (pl *planter) region() int {
	if pl.p.o.Regions == 1 {
		return 0
	}
	return pl.rng.IntN(pl.p.o.Regions)
}

func (pl *planter) start(name, desc string, pci []string, a, r int, p *principal, ip string) *incident {
	return &incident{pl: pl, a: a, r: r, p: p, ip: ip,
		s: Scenario{Name: name, Description: desc, PCI: pci, Account: pl.p.accounts[a].id, Region: pl.p.regions[r], SourceIP: ip}}
}

// add plants one event of the incident at time t. The call's principal and source IP default to the
// incident's.
func (in *incident) add(t int64, c call) {
	if in.err != nil {
		return
	}
	pl, p := in.pl, in.pl.p
	if !p.slotOK(in.a, in.r, t) {
		in.err = fmt.Errorf("scenario %s: no logs for account %d region %d at %s", in.s.Name, in.a, in.r, rfc3339(t))
		return
	}
	if c.p == nil {
		c.p = in.p
	}
	if c.ip == "" {
		c.ip = in.ip
	}
	c.t = t
	c.eventID = [2]uint64{pl.rng.Uint64(), pl.rng.Uint64()}
	g := pl.g
	g.setFile(in.a, in.r, t)
	g.c = c
	var w jw
	g.record(&w, &g.c)
	p.planted = append(p.planted, planted{acct: in.a, region: in.r, win: p.windowOf(t), t: t, raw: w.b})
	in.s.EventIDs = append(in.s.EventIDs, string(appendUUID(nil, c.eventID[0], c.eventID[1])))
	if !in.started || t < in.t0 {
		in.t0 = t
	}
	if !in.started || t > in.t1 {
		in.t1 = t
	}
	in.started = true
}

func (in *incident) done() error {
	if in.err != nil {
		return in.err
	}
	in.s.Start, in.s.End = rfc3339(in.t0), rfc3339(in.t1)
	if in.s.Principal == "" {
		in.s.Principal = principalARN(in.p)
	}
	in.pl.p.scenarios = append(in.pl.p.scenarios, in.s)
	return nil
}

func principalARN(p *principal) string {
	if p.kind == kindRole {
		return p.sessARN
	}
	return p.arn
}

// person's Identity Center session in account a, or nil.
func (pl *planter) ssoSession(a int, admin bool) *principal {
	for _, pr := range pl.p.accounts[a].principals[classHuman] {
		if pr.kind == kindRole && pr.person != nil && pr.person.admin == admin {
			return pr
		}
	}
	return nil
}

func (pl *planter) named(a int, cl class, name string) *principal {
	for _, pr := range pl.p.accounts[a].principals[cl] {
		if pr.name == name {
			return pr
		}
	}
	return nil
}

// legacyUser is the IAM user a person kept from before Identity Center.
func (pl *planter) legacyUser(a int) *principal {
	for _, pr := range pl.p.accounts[a].principals[classHuman] {
		if pr.kind == kindIAMUser && pr.person != nil {
			return pr
		}
	}
	return nil
}

func (pl *planter) contractor(a int) *principal {
	for _, pr := range pl.p.accounts[a].principals[classHuman] {
		if pr.kind == kindIAMUser && pr.person == nil {
			return pr
		}
	}
	return nil
}

// gap is a pause of a few seconds to a minute between two steps of an attack.
func (pl *planter) gap(min, max int) int64 { return int64(min + pl.rng.IntN(max-min+1)) }

func (pl *planter) rootConsoleLogin() error {
	a, t, ok := pl.place(0, 1.5, 4.5, 900)
	if !ok {
		return nil
	}
	root := pl.p.accounts[a].root
	in := pl.start("root-console-login",
		"The root user signs in to the console at night from a Tor exit node, without MFA.",
		[]string{"10.2.1.2", "10.2.1.5"}, a, 0, root, torExitIP)
	in.add(t, call{act: pl.p.cat.consoleLogin, ua: linuxFirefox})
	if err := in.done(); err != nil {
		return err
	}

	// The same session then looks around and makes itself a key.
	in = pl.start("root-api-calls",
		"Right after signing in, the root user lists users and keys, browses EC2 and S3, and creates an access key for itself.",
		[]string{"10.2.1.2", "10.2.1.5"}, a, 0, root, torExitIP)
	t += pl.gap(40, 90)
	for _, act := range []*action{
		api("iam.amazonaws.com", "GetAccountSummary", true, nil, nil),
		api("iam.amazonaws.com", "ListUsers", true, nil, nil),
		api("iam.amazonaws.com", "ListAccessKeys", true, nil, nil),
		api("s3.amazonaws.com", "ListBuckets", true, reqHost("s3.amazonaws.com"), nil),
		api("ec2.amazonaws.com", "DescribeInstances", true, reqDescribeInstances, nil),
		api("iam.amazonaws.com", "CreateAccessKey", false, nil, respAccessKey("")),
	} {
		if act.svc == "s3" {
			act.res, act.host = nil, "s3.amazonaws.com"
		}
		in.add(t, call{act: act, ua: linuxFirefox, console: true})
		t += pl.gap(5, 60)
	}
	return in.done()
}

func (pl *planter) consoleLoginFailures() error {
	a, t, ok := pl.place(0, 0, 23, 600)
	if !ok {
		return nil
	}
	user := pl.legacyUser(a)
	in := pl.start("console-login-failures",
		"Eight failed console sign-ins for one IAM user from one IP within ten minutes: password guessing.",
		[]string{"10.2.1.4"}, a, 0, user, scannerIP)
	for range 8 {
		in.add(t, call{act: pl.p.cat.consoleLogin, ua: oldChrome, loginFailed: true})
		t += pl.gap(20, 65)
	}
	return in.done()
}

func (pl *planter) trailARN(a, r int, name string) string {
	return "arn:aws:cloudtrail:" + pl.p.regions[r] + ":" + pl.p.accounts[a].id + ":trail/" + name
}

func (pl *planter) cloudTrailStopped() error {
	r := pl.region()
	stop := int64(35*60 + pl.rng.IntN(20*60))
	a, t, ok := pl.place(r, 18, 21, stop)
	if !ok {
		return nil
	}
	admin := pl.ssoSession(a, true)
	trail := pl.trailARN(a, r, pl.p.accounts[a].name+"-audit")
	in := pl.start("cloudtrail-stopped",
		"An administrator stops the account's own trail and starts it again "+strconv.Itoa(int(stop/60))+" minutes later.",
		[]string{"10.2.1.6", "10.7.2", "10.7.3"}, a, r, admin, admin.person.ips[2])
	req := func(g *gen, w *jw) {
		w.open("")
		w.str("name", trail)
		w.close()
	}
	in.add(t, call{act: api("cloudtrail.amazonaws.com", "StopLogging", false, req, nil), ua: admin.person.cli, command: true})
	in.add(t+stop, call{act: api("cloudtrail.amazonaws.com", "StartLogging", false, req, nil), ua: admin.person.cli, command: true})
	return in.done()
}

func (pl *planter) cloudTrailTampered() error {
	a, t, ok := pl.place(0, 8, 20, 600)
	if !ok {
		return nil
	}
	admin := pl.ssoSession(a, true)
	acct := pl.p.accounts[a]
	trail := pl.trailARN(a, 0, acct.name+"-audit")
	bucket := "acme-" + acct.name + "-trail-" + acct.id
	in := pl.start("cloudtrail-update-delete",
		"The account trail is narrowed (single region, log file validation off), then a second trail is deleted.",
		[]string{"10.2.1.6", "10.3.4"}, a, 0, admin, vpsIP)
	update := api("cloudtrail.amazonaws.com", "UpdateTrail", false, func(g *gen, w *jw) {
		w.open("")
		w.str("name", trail)
		w.boolean("isMultiRegionTrail", false)
		w.boolean("enableLogFileValidation", false)
		w.close()
	}, func(g *gen, w *jw) {
		w.open("")
		w.str("name", acct.name+"-audit")
		w.str("s3BucketName", bucket)
		w.boolean("includeGlobalServiceEvents", true)
		w.boolean("isMultiRegionTrail", false)
		w.str("trailARN", trail)
		w.boolean("logFileValidationEnabled", false)
		w.boolean("isOrganizationTrail", false)
		w.close()
	})
	del := api("cloudtrail.amazonaws.com", "DeleteTrail", false, func(g *gen, w *jw) {
		w.open("")
		w.str("name", pl.trailARN(a, 0, acct.name+"-data-events"))
		w.close()
	}, nil)
	in.add(t, call{act: update, ua: kaliBoto3})
	in.add(t+pl.gap(60, 240), call{act: del, ua: kaliBoto3})
	return in.done()
}

func (pl *planter) securityGroupOpen() error {
	r := pl.region()
	a, t, ok := pl.place(r, 9, 19, 300)
	if !ok {
		return nil
	}
	who := pl.legacyUser(a)
	acct := pl.p.accounts[a]
	sg := acct.estates[r].sgs[pl.rng.IntN(len(acct.estates[r].sgs))]
	in := pl.start("security-group-open-world",
		"A security group is opened to the whole internet (0.0.0.0/0) on SSH and RDP from the console.",
		[]string{"10.2.1.7", "10.7.2"}, a, r, who, who.person.ips[2])
	for _, port := range []int64{22, 3389} {
		act := api("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", false, func(g *gen, w *jw) {
			w.open("")
			w.str("groupId", sg)
			ipPermissions(w, port, "0.0.0.0/0", "temp access")
			w.close()
		}, func(g *gen, w *jw) {
			ruleSet(w, g, sg, port, "0.0.0.0/0", "temp access")
		})
		in.add(t, call{act: act, ua: who.person.browser, console: true})
		t += pl.gap(20, 90)
	}
	return in.done()
}

func (pl *planter) adminGroup() error {
	a, t, ok := pl.place(0, 9, 19, 60)
	if !ok {
		return nil
	}
	who := pl.legacyUser(a)
	target := pl.contractor(a)
	in := pl.start("iam-admin-group",
		"An IAM user adds the contractor's user to the Admins group.",
		[]string{"10.2.1.5"}, a, 0, who, who.person.ips[0])
	act := api("iam.amazonaws.com", "AddUserToGroup", false, func(g *gen, w *jw) {
		w.open("")
		w.str("groupName", "Admins")
		w.str("userName", target.name)
		w.close()
	}, nil)
	in.add(t, call{act: act, ua: who.person.cli, command: true})
	return in.done()
}

func (pl *planter) logBucketRead() error {
	p := pl.p
	a := p.logArchive
	var t int64
	found := false
	for range 50 {
		t = p.start + int64(pl.rng.IntN(p.o.Days))*86400 + int64((10+pl.rng.Float64()*7)*3600)
		if pl.fits(a, 0, t, 600) {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	reader := pl.ssoSession(a, false)
	if reader == nil {
		reader = pl.ssoSession(a, true)
	}
	in := pl.start("log-bucket-read",
		"A person downloads organization trail log files from the CloudTrail log bucket with the CLI.",
		[]string{"10.2.1.3", "10.3.1"}, a, 0, reader, reader.person.ips[0])
	list := api("s3.amazonaws.com", "ListObjects", true, reqLogList, nil)
	list.data = true
	get := api("s3.amazonaws.com", "GetObject", true, reqLogObject, nil).resources(resObject)
	get.data = true
	in.add(t, call{act: list, ua: reader.person.cli, command: true})
	for range 5 {
		t += pl.gap(1, 20)
		in.add(t, call{act: get, ua: reader.person.cli, command: true})
	}
	return in.done()
}

func (pl *planter) kmsKeyDeletion() error {
	r := pl.region()
	a, t, ok := pl.place(r, 9, 22, 300)
	if !ok {
		return nil
	}
	admin := pl.ssoSession(a, true)
	key := pl.p.accounts[a].estates[r].keys[1]
	in := pl.start("kms-key-deletion",
		"A customer managed KMS key is disabled and scheduled for deletion in 7 days.",
		[]string{"10.2.1.7"}, a, r, admin, admin.person.ips[2])
	disable := api("kms.amazonaws.com", "DisableKey", false, func(g *gen, w *jw) {
		g.c.s2 = key
		w.open("")
		g.keyArn(w, "keyId", key)
		w.close()
	}, nil).resources(resKey)
	schedule := api("kms.amazonaws.com", "ScheduleKeyDeletion", false, func(g *gen, w *jw) {
		g.c.s2 = key
		w.open("")
		g.keyArn(w, "keyId", key)
		w.num("pendingWindowInDays", 7)
		w.close()
	}, func(g *gen, w *jw) {
		w.open("")
		g.keyArn(w, "keyId", key)
		w.key("deletionDate")
		w.b = append(w.b, '"')
		w.b = time.Unix((floorDiv(g.c.t, 86400)+8)*86400, 0).UTC().AppendFormat(w.b, "Jan 2, 2006, 3:04:05 PM")
		w.b = append(w.b, '"')
		w.str("keyState", "PendingDeletion")
		w.num("pendingWindowInDays", 7)
		w.close()
	}).resources(resKey)
	in.add(t, call{act: disable, ua: admin.person.cli, command: true})
	in.add(t+pl.gap(30, 120), call{act: schedule, ua: admin.person.cli, command: true})
	return in.done()
}

func (pl *planter) backdoorUser() error {
	a, t, ok := pl.place(0, 0, 6, 600)
	if !ok {
		return nil
	}
	p := pl.p
	svc := pl.named(a, classAutomation, "svc-backup")
	acct := p.accounts[a]
	name := "support-sync"
	in := pl.start("iam-backdoor-admin-user",
		"A leaked automation key creates an IAM user, gives it AdministratorAccess, a console password and an access key.",
		[]string{"10.2.1.5", "10.2.1.2"}, a, 0, svc, vpsIP)
	userID := makeID("AIDA", p.hashIn(acct, "user", name), upperAlnum, 17)
	userReq := func(g *gen, w *jw) {
		w.open("")
		w.str("userName", name)
		w.close()
	}
	create := api("iam.amazonaws.com", "CreateUser", false, userReq, func(g *gen, w *jw) {
		w.open("")
		w.open("user")
		w.str("path", "/")
		w.str("userName", name)
		w.str("userId", userID)
		w.cat("arn", "arn:aws:iam::", acct.id, ":user/", name)
		w.key("createDate")
		w.b = append(w.b, '"')
		w.b = time.Unix(g.c.t, 0).UTC().AppendFormat(w.b, "Jan 2, 2006, 3:04:05 PM")
		w.b = append(w.b, '"')
		w.close()
		w.close()
	})
	attach := api("iam.amazonaws.com", "AttachUserPolicy", false, func(g *gen, w *jw) {
		w.open("")
		w.str("userName", name)
		w.str("policyArn", "arn:aws:iam::aws:policy/AdministratorAccess")
		w.close()
	}, nil)
	profile := api("iam.amazonaws.com", "CreateLoginProfile", false, func(g *gen, w *jw) {
		w.open("")
		w.str("userName", name)
		w.boolean("passwordResetRequired", false)
		w.close()
	}, func(g *gen, w *jw) {
		w.open("")
		w.open("loginProfile")
		w.str("userName", name)
		w.key("createDate")
		w.b = append(w.b, '"')
		w.b = time.Unix(g.c.t, 0).UTC().AppendFormat(w.b, "Jan 2, 2006, 3:04:05 PM")
		w.b = append(w.b, '"')
		w.boolean("passwordResetRequired", false)
		w.close()
		w.close()
	})
	key := api("iam.amazonaws.com", "CreateAccessKey", false, userReq, respAccessKey(name))
	for _, act := range []*action{create, attach, profile, key} {
		in.add(t, call{act: act, ua: kaliBoto3})
		t += pl.gap(2, 30)
	}
	return in.done()
}

func (pl *planter) guardDutyDeleted() error {
	r := pl.region()
	a, t, ok := pl.place(r, 0, 23, 60)
	if !ok {
		return nil
	}
	admin := pl.ssoSession(a, true)
	detector := makeID("", hash(uint64(pl.p.o.Seed), uint64(a), uint64(r), 0x6764), lowerHex, 32)
	in := pl.start("guardduty-detector-deleted",
		"The GuardDuty detector of a region is deleted, ending threat detection there.",
		[]string{"10.7.2", "10.2.1.7"}, a, r, admin, torExitIP)
	act := api("guardduty.amazonaws.com", "DeleteDetector", false, func(g *gen, w *jw) {
		w.open("")
		w.str("detectorId", detector)
		w.close()
	}, nil)
	act.version = "1.08"
	in.add(t, call{act: act, ua: kaliBoto3})
	return in.done()
}

func (pl *planter) configStopped() error {
	r := pl.region()
	a, t, ok := pl.place(r, 0, 23, 60)
	if !ok {
		return nil
	}
	admin := pl.ssoSession(a, true)
	in := pl.start("config-recorder-stopped",
		"The AWS Config recorder of a region is stopped, so configuration changes go unrecorded.",
		[]string{"10.2.1.6", "10.7.2"}, a, r, admin, torExitIP)
	act := api("config.amazonaws.com", "StopConfigurationRecorder", false, func(g *gen, w *jw) {
		w.open("")
		w.str("configurationRecorderName", "default")
		w.close()
	}, nil)
	in.add(t, call{act: act, ua: kaliBoto3})
	return in.done()
}

func (pl *planter) loginWithoutMFA() error {
	a, t, ok := pl.place(0, 5, 22, 60)
	if !ok {
		return nil
	}
	user := pl.legacyUser(a)
	in := pl.start("console-login-no-mfa",
		"An IAM user who always used MFA signs in to the console without it, from an unfamiliar IP. "+
			"(Identity Center sign-ins log MFAUsed No too, as federated sign-ins do: only IAM users count.)",
		[]string{"10.2.1.2", "10.2.1.4"}, a, 0, user, vpsIP)
	in.add(t, call{act: pl.p.cat.consoleLogin, ua: oldChrome})
	return in.done()
}

func (pl *planter) accessDeniedStorm() error {
	a, t, ok := pl.place(0, 0, 23, 600)
	if !ok {
		return nil
	}
	who := pl.contractor(a)
	in := pl.start("access-denied-storm",
		"A contractor's leaked access key enumerates the account from a VPS: one successful GetCallerIdentity, then 30 denied calls in a few minutes.",
		[]string{"10.2.1.4"}, a, 0, who, scannerIP)
	in.add(t, call{act: api("sts.amazonaws.com", "GetCallerIdentity", true, nil, nil), ua: kaliBoto3})
	probes := []*action{
		api("iam.amazonaws.com", "ListUsers", true, nil, nil),
		api("iam.amazonaws.com", "ListRoles", true, nil, nil),
		api("iam.amazonaws.com", "GetAccountAuthorizationDetails", true, nil, nil),
		api("iam.amazonaws.com", "ListPolicies", true, nil, nil),
		api("ec2.amazonaws.com", "DescribeInstances", true, reqDescribeInstances, nil),
		api("ec2.amazonaws.com", "DescribeSnapshots", true, nil, nil),
		api("secretsmanager.amazonaws.com", "ListSecrets", true, nil, nil),
		api("ssm.amazonaws.com", "DescribeParameters", true, nil, nil),
		api("lambda.amazonaws.com", "ListFunctions20150331", true, nil, nil),
		api("rds.amazonaws.com", "DescribeDBInstances", true, nil, nil),
		api("kms.amazonaws.com", "ListKeys", true, nil, nil),
		api("dynamodb.amazonaws.com", "ListTables", true, nil, nil),
		api("cloudtrail.amazonaws.com", "DescribeTrails", true, nil, nil),
		api("organizations.amazonaws.com", "DescribeOrganization", true, nil, nil),
		api("s3.amazonaws.com", "ListBuckets", true, reqHost("s3.amazonaws.com"), nil),
	}
	for i := range 30 {
		t += pl.gap(1, 12)
		act := probes[i%len(probes)]
		if act.svc == "s3" {
			act.res, act.host = nil, "s3.amazonaws.com"
		}
		in.add(t, call{act: act, ua: kaliBoto3, err: errDenied})
	}
	return in.done()
}

func (pl *planter) xssPayload() error {
	r := pl.region()
	a, t, ok := pl.place(r, 0, 23, 300)
	if !ok {
		return nil
	}
	who := pl.contractor(a)
	inst := pl.p.accounts[a].estates[r].instances[0]
	in := pl.start("xss-payload",
		"Calls with an HTML/JavaScript payload in the user agent and in a tag value: any report must show it escaped, never run it.",
		[]string{"10.2.2"}, a, r, who, scannerIP)
	tag := api("ec2.amazonaws.com", "CreateTags", false, func(g *gen, w *jw) {
		w.open("")
		w.items("resourcesSet", "resourceId", inst)
		w.open("tagSet")
		w.openArr("items")
		w.open("")
		w.str("key", "Name")
		w.str("value", xssValue)
		w.close()
		w.closeArr()
		w.close()
		w.close()
	}, respReturn)
	in.add(t, call{act: api("sts.amazonaws.com", "GetCallerIdentity", true, nil, nil), ua: xssAgent})
	in.add(t+pl.gap(3, 30), call{act: tag, ua: xssAgent})
	return in.done()
}

func (pl *planter) newAccount() error {
	p := pl.p
	if p.newcomer < 0 {
		return nil
	}
	admin := pl.ssoSession(0, true)
	newAcct := p.accounts[p.newcomer]
	created := p.joinAt - 600 - int64(pl.rng.IntN(600))
	in := pl.start("new-account",
		"An account is created in the organization on the last day; its logs start that day and it must be reviewed like the others.",
		[]string{"10.2.1", "10.2.1.5"}, 0, 0, admin, admin.person.ips[0])
	create := api("organizations.amazonaws.com", "CreateAccount", false, func(g *gen, w *jw) {
		w.open("")
		w.str("accountName", newAcct.name)
		w.str("email", "HIDDEN_DUE_TO_SECURITY_REASONS")
		w.str("roleName", "OrganizationAccountAccessRole")
		w.close()
	}, func(g *gen, w *jw) {
		w.open("")
		w.open("createAccountStatus")
		w.id("id", "car-", g.c.h, lowerHex, 32)
		w.str("accountName", newAcct.name)
		w.str("state", "IN_PROGRESS")
		w.key("requestedTimestamp")
		w.b = append(w.b, '"')
		w.b = time.Unix(g.c.t, 0).UTC().AppendFormat(w.b, "Jan 2, 2006, 3:04:05 PM")
		w.b = append(w.b, '"')
		w.close()
		w.close()
	})
	create.host = "organizations.us-east-1.amazonaws.com"
	create.version = "1.08"
	in.add(created, call{act: create, ua: admin.person.browser, console: true})
	if err := in.done(); err != nil {
		return err
	}
	// The first steps in the new account, through the role Organizations created, are part of the scenario.
	s := &p.scenarios[len(p.scenarios)-1]
	first := p.newRole(newAcct, "OrganizationAccountAccessRole", "", admin.person.email, classHuman)
	first.person = admin.person
	in2 := pl.start("new-account", "", nil, p.newcomer, 0, first, admin.person.ips[0])
	t := p.joinAt + windowSeconds + int64(pl.rng.IntN(300))
	for _, act := range []*action{
		api("sts.amazonaws.com", "GetCallerIdentity", true, nil, nil),
		api("iam.amazonaws.com", "ListRoles", true, nil, nil),
		api("cloudtrail.amazonaws.com", "DescribeTrails", true, nil, nil),
		api("ec2.amazonaws.com", "DescribeVpcs", true, nil, nil),
	} {
		in2.add(t, call{act: act, ua: admin.person.browser, console: true})
		t += pl.gap(10, 60)
	}
	if in2.err != nil {
		return in2.err
	}
	s.EventIDs = append(s.EventIDs, in2.s.EventIDs...)
	s.End = rfc3339(in2.t1)
	s.Account = newAcct.id
	return nil
}

func reqHost(host string) func(*gen, *jw) {
	return func(g *gen, w *jw) {
		w.open("")
		w.str("Host", host)
		w.close()
	}
}

// respAccessKey writes a CreateAccessKey response; user "" is the caller (root).
func respAccessKey(user string) func(*gen, *jw) {
	return func(g *gen, w *jw) {
		w.open("")
		w.open("accessKey")
		if user != "" {
			w.str("userName", user)
		}
		w.id("accessKeyId", "AKIA", g.c.h, base32, 16)
		w.str("status", "Active")
		w.key("createDate")
		w.b = append(w.b, '"')
		w.b = time.Unix(g.c.t, 0).UTC().AppendFormat(w.b, "Jan 2, 2006, 3:04:05 PM")
		w.b = append(w.b, '"')
		w.close()
		w.close()
	}
}
