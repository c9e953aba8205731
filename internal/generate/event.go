package generate

import (
	"math/rand/v2"
)

// gen writes records for one account and region at a time, from one random stream.
type gen struct {
	p      *plan
	rng    *rand.Rand
	a      *account
	r      int
	region string
	est    *estate
	// classCum is the cumulative share of each class of principal for the current file.
	classCum [numClasses]float64
	c        call
}

// call is one record being written: who, what, when, from where, and the values its parts share.
type call struct {
	act     *action
	p       *principal
	t       int64
	ip, ua  string
	command bool // the user agent is the CLI's: append md/command#
	console bool // made from a console session (temporary key, sessionCredentialFromConsole)
	// err is the kind of failure drawn for background calls; errCode and errMsg override it.
	err             errKind
	errCode, errMsg string
	target          *principal // the role an AWS service assumes
	vpce            bool
	onBehalfOf      bool
	mfaUsed         bool // ConsoleLogin
	loginFailed     bool // ConsoleLogin
	eventID         [2]uint64
	// values that request parameters choose and responses and resources repeat
	s1, s2 string
	h      uint64
}

type errKind uint8

const (
	errNone errKind = iota
	errDenied
	errThrottled
	errNotFound
)

func newGen(p *plan, rng *rand.Rand) *gen { return &gen{p: p, rng: rng} }

// setFile points g at account a and region r for a file whose window starts at start.
func (g *gen) setFile(a, r int, start int64) {
	g.a, g.r, g.region = g.p.accounts[a], r, g.p.regions[r]
	g.est = g.a.estates[r]
	b := busy(start)
	shares := [numClasses]float64{
		classHuman:       0.04 + 0.36*b,
		classApp:         0.36,
		classAutomation:  0.03 + 0.12*b,
		classServiceRole: 0.08,
		classService:     0.08,
	}
	rk := regionKind(r)
	sum := 0.0
	for cl := range numClasses {
		if len(g.a.cum[rk][cl]) > 0 {
			sum += shares[cl]
		}
		g.classCum[cl] = sum
	}
}

func regionKind(r int) int {
	if r == 0 {
		return 0
	}
	return 1
}

func (g *gen) n(k int) int                      { return g.rng.IntN(k) }
func (g *gen) chance(f float64) bool            { return g.rng.Float64() < f }
func (g *gen) pick(ss []string) string          { return ss[g.rng.IntN(len(ss))] }
func (g *gen) pickP(ps []*principal) *principal { return ps[g.rng.IntN(len(ps))] }

func pickCum(cum []float64, x float64) int {
	x *= cum[len(cum)-1]
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// background writes one ordinary event of time t.
func (g *gen) background(w *jw, t int64) {
	c := &g.c
	*c = call{t: t}
	rk := regionKind(g.r)
	cl := class(pickCum(g.classCum[:], g.rng.Float64()))
	ps := g.a.byRegion[rk][cl]
	c.p = ps[pickCum(g.a.cum[rk][cl], g.rng.Float64())]
	c.act = c.p.table.pick(g.rng.Float64(), rk == 0)
	g.dress(c)
	g.record(w, c)
}

// dress chooses the origin of the call: source IP, user agent, console or not, and whether it fails.
func (g *gen) dress(c *call) {
	p, a := c.p, c.act
	errRate := 0.0
	switch p.kind {
	case kindService:
		if p.invokedBy != "" {
			c.ip, c.ua = p.invokedBy, p.invokedBy
		} else {
			c.target = g.pickP(g.a.assumable)
			c.ip, c.ua = c.target.invokedBy, c.target.invokedBy
		}
		errRate = 0.001
	case kindIdentityCenter:
		c.ip, c.ua = g.pick(p.ips), p.agents[0]
	default:
		switch {
		case p.ips != nil:
			c.ip = g.pick(p.ips)
		case p.class == classServiceRole:
			c.ip = p.invokedBy
		default:
			c.ip = g.est.natIP
		}
		switch {
		case a.kind == consoleSignIn:
			c.ua = p.person.browser
			c.mfaUsed = p.mfa
		case p.class == classHuman && a.console && g.chance(p.console):
			c.console = true
			if g.chance(0.5) {
				c.ua = "AWS Internal"
			} else {
				c.ua = p.person.browser
			}
		case p.class == classServiceRole:
			c.ua = p.invokedBy
		default:
			c.ua = g.pick(p.agents)
			c.command = p.class == classHuman
		}
		switch p.class {
		case classHuman:
			errRate = 0.06
		case classAutomation:
			errRate = 0.04
		case classApp:
			errRate = 0.015
			c.vpce = a.vpce && g.chance(0.5)
		default:
			errRate = 0.004
		}
		if p.person != nil && p.kind == kindRole && g.chance(0.05) {
			c.onBehalfOf = true
		}
	}
	if a.kind == consoleSignIn || a.cannotFail {
		return
	}
	if g.chance(errRate) {
		switch x := g.rng.IntN(10); {
		case x < 6 || (x >= 8 && a.notFound == ""):
			c.err = errDenied
		case x < 8:
			c.err = errThrottled
		default:
			c.err = errNotFound
		}
	}
}

// record writes c as one CloudTrail record, members in the order CloudTrail writes them.
func (g *gen) record(w *jw, c *call) {
	a := c.act
	c.h = g.rng.Uint64()
	w.open("")
	w.str("eventVersion", a.version)
	g.identity(w, c)
	w.time("eventTime", c.t)
	w.str("eventSource", a.source)
	w.str("eventName", a.name)
	w.str("awsRegion", g.region)
	w.str("sourceIPAddress", c.ip)
	w.key("userAgent")
	w.b = append(w.b, '"')
	w.b = appendEscaped(w.b, c.ua)
	if c.command && a.cli != "" {
		w.b = append(w.b, " md/command#"...)
		w.b = append(w.b, a.cli...)
	}
	w.b = append(w.b, '"')
	failed := g.writeError(w, c)

	w.key("requestParameters")
	if a.req == nil {
		w.b = append(w.b, "null"...)
	} else {
		a.req(g, w)
	}
	w.key("responseElements")
	if a.resp == nil || (failed && a.kind != consoleSignIn) {
		w.b = append(w.b, "null"...)
	} else {
		a.resp(g, w)
	}
	if a.extra != nil {
		w.key("additionalEventData")
		a.extra(g, w)
	}
	if a.kind != consoleSignIn {
		w.key("requestID")
		w.b = append(w.b, '"')
		if a.source == "s3.amazonaws.com" {
			w.b = appendID(w.b, "", g.rng.Uint64(), upperAlnum, 16)
		} else {
			w.b = appendUUID(w.b, g.rng.Uint64(), g.rng.Uint64())
		}
		w.b = append(w.b, '"')
	}
	w.key("eventID")
	w.b = append(w.b, '"')
	if c.eventID == [2]uint64{} {
		c.eventID = [2]uint64{g.rng.Uint64(), g.rng.Uint64()}
	}
	w.b = appendUUID(w.b, c.eventID[0], c.eventID[1])
	w.b = append(w.b, '"')
	w.boolean("readOnly", a.readOnly)
	if a.res != nil {
		w.openArr("resources")
		a.res(g, w)
		w.closeArr()
	}
	w.str("eventType", a.kind.String())
	w.boolean("managementEvent", !a.data)
	w.str("recipientAccountId", g.a.id)
	if a.details != nil {
		w.key("serviceEventDetails")
		a.details(g, w)
	}
	if c.target != nil {
		w.key("sharedEventID")
		w.b = append(w.b, '"')
		w.b = appendUUID(w.b, g.rng.Uint64(), g.rng.Uint64())
		w.b = append(w.b, '"')
	}
	if c.vpce {
		w.id("vpcEndpointId", "vpce-0", hash(uint64(g.a.idx), uint64(g.r), hashString(a.source)), lowerHex, 16)
	}
	if a.data {
		w.str("eventCategory", "Data")
	} else {
		w.str("eventCategory", "Management")
	}
	if c.p.kind != kindService && c.p.class != classServiceRole && !a.noTLS {
		w.open("tlsDetails")
		if c.p.class == classHuman || g.chance(0.8) {
			w.str("tlsVersion", "TLSv1.3")
			w.str("cipherSuite", "TLS_AES_128_GCM_SHA256")
		} else {
			w.str("tlsVersion", "TLSv1.2")
			w.str("cipherSuite", "ECDHE-RSA-AES128-GCM-SHA256")
		}
		w.key("clientProvidedHostHeader")
		w.b = append(w.b, '"')
		w.b = g.appendHost(w.b, a)
		w.b = append(w.b, '"')
		w.close()
	}
	if c.console {
		w.str("sessionCredentialFromConsole", "true")
	}
	w.close()
}

// appendHost appends the host name the client called.
func (g *gen) appendHost(b []byte, a *action) []byte {
	switch {
	case a.host != "":
		return append(b, a.host...)
	case a.source == "s3.amazonaws.com" && g.c.s1 != "":
		b = append(b, g.c.s1...)
		b = append(b, ".s3."...)
		b = append(b, g.region...)
		return append(b, ".amazonaws.com"...)
	}
	b = append(b, a.svc...)
	b = append(b, '.')
	b = append(b, g.region...)
	return append(b, ".amazonaws.com"...)
}

// identity writes userIdentity.
func (g *gen) identity(w *jw, c *call) {
	p := c.p
	login := c.act.kind == consoleSignIn
	w.open("userIdentity")
	switch p.kind {
	case kindIAMUser:
		w.str("type", "IAMUser")
		w.str("principalId", p.id)
		if !c.loginFailed {
			w.str("arn", p.arn)
		}
		w.str("accountId", p.account.id)
		switch {
		case login:
			w.str("accessKeyId", "")
		case c.console:
			g.tempKey(w, p, c.t)
		default:
			w.str("accessKeyId", p.accessKey)
		}
		w.str("userName", p.name)
		if c.console {
			w.open("sessionContext")
			w.empty("sessionIssuer")
			w.empty("webIdFederationData")
			g.sessionAttributes(w, p, c.t, p.mfa)
			w.close()
		}
	case kindRole:
		w.str("type", "AssumedRole")
		w.str("principalId", p.sessID)
		w.str("arn", p.sessARN)
		w.str("accountId", p.account.id)
		if !login {
			g.tempKey(w, p, c.t)
		}
		w.open("sessionContext")
		w.open("sessionIssuer")
		w.str("type", "Role")
		w.str("principalId", p.id)
		w.str("arn", p.arn)
		w.str("accountId", p.account.id)
		w.str("userName", p.name)
		w.close()
		w.empty("webIdFederationData")
		g.sessionAttributes(w, p, c.t, false)
		if p.sourceIdentity != "" {
			w.str("sourceIdentity", p.sourceIdentity)
		}
		if p.ec2 {
			w.str("ec2RoleDelivery", "2.0")
		}
		w.close()
		if c.onBehalfOf && p.person != nil {
			g.onBehalfOf(w, p.person)
		}
	case kindService:
		w.str("type", "AWSService")
		w.str("invokedBy", c.ip)
	case kindIdentityCenter:
		w.str("type", "IdentityCenterUser")
		w.str("accountId", g.p.accounts[0].id)
		g.onBehalfOf(w, p.person)
		w.id("credentialId", "", hash(p.key, uint64(c.t/3600)), lowerHex, 32)
	case kindRoot:
		w.str("type", "Root")
		w.str("principalId", p.id)
		w.str("arn", p.arn)
		w.str("accountId", p.account.id)
		if login {
			w.str("accessKeyId", "")
		} else {
			g.tempKey(w, p, c.t)
			w.open("sessionContext")
			w.empty("sessionIssuer")
			w.empty("webIdFederationData")
			g.sessionAttributes(w, p, c.t, c.mfaUsed)
			w.close()
		}
	}
	w.close()
}

func (g *gen) onBehalfOf(w *jw, pe *person) {
	w.open("onBehalfOf")
	w.str("userId", pe.userID)
	w.key("identityStoreArn")
	w.b = append(w.b, `"arn:aws:identitystore::`...)
	w.b = append(w.b, g.p.accounts[0].id...)
	w.b = append(w.b, ":identitystore/"...)
	w.b = append(w.b, g.p.storeID...)
	w.b = append(w.b, '"')
	w.close()
}

// sessionStart is when the session in use at t began: sessions last an hour from a minute fixed per
// principal, so a principal's temporary key and creationDate stay the same through a session.
func sessionStart(p *principal, t int64) int64 {
	off := int64(p.key % 3600)
	return floorDiv(t-off, 3600)*3600 + off
}

func (g *gen) tempKey(w *jw, p *principal, t int64) {
	w.id("accessKeyId", "ASIA", hash(p.key, uint64(sessionStart(p, t))), base32, 16)
}

func (g *gen) sessionAttributes(w *jw, p *principal, t int64, mfa bool) {
	w.open("attributes")
	w.time("creationDate", sessionStart(p, t))
	if mfa {
		w.str("mfaAuthenticated", "true")
	} else {
		w.str("mfaAuthenticated", "false")
	}
	w.close()
}

// writeError writes errorCode and errorMessage when the call failed, and says whether it did.
func (g *gen) writeError(w *jw, c *call) bool {
	if c.loginFailed {
		w.str("errorMessage", "Failed authentication")
		return true
	}
	if c.errCode != "" {
		w.str("errorCode", c.errCode)
		if c.errMsg != "" {
			w.str("errorMessage", c.errMsg)
		}
		return true
	}
	a := c.act
	switch c.err {
	case errDenied:
		who := c.p.sessARN
		if c.p.kind != kindRole {
			who = c.p.arn
		}
		switch a.svc {
		case "ec2":
			w.str("errorCode", "Client.UnauthorizedOperation")
		case "s3":
			w.str("errorCode", "AccessDenied")
			w.str("errorMessage", "Access Denied")
			return true
		case "kms", "lambda", "logs", "ssm", "secretsmanager", "dynamodb", "monitoring", "cloudtrail":
			w.str("errorCode", "AccessDenied")
		default:
			w.str("errorCode", "AccessDenied")
		}
		w.key("errorMessage")
		w.b = append(w.b, '"')
		if a.svc == "ec2" {
			w.b = append(w.b, "You are not authorized to perform this operation. "...)
		}
		w.b = append(w.b, "User: "...)
		w.b = appendEscaped(w.b, who)
		w.b = append(w.b, " is not authorized to perform: "...)
		w.b = append(w.b, a.perm...)
		w.b = append(w.b, " because no identity-based policy allows the "...)
		w.b = append(w.b, a.perm...)
		w.b = append(w.b, " action"...)
		if a.svc == "ec2" {
			w.b = append(w.b, ". Encoded authorization failure message: "...)
			w.b = appendID(w.b, "", g.rng.Uint64(), mixedAlnum, 120)
		}
		w.b = append(w.b, '"')
	case errThrottled:
		switch a.svc {
		case "ec2":
			w.str("errorCode", "Client.RequestLimitExceeded")
			w.str("errorMessage", "Request limit exceeded.")
		case "s3":
			w.str("errorCode", "SlowDown")
			w.str("errorMessage", "Please reduce your request rate.")
		case "iam", "sts":
			w.str("errorCode", "Throttling")
			w.str("errorMessage", "Rate exceeded")
		default:
			w.str("errorCode", "ThrottlingException")
			w.str("errorMessage", "Rate exceeded")
		}
	case errNotFound:
		w.str("errorCode", a.notFound)
		w.str("errorMessage", a.notFoundMsg)
	default:
		return false
	}
	return true
}
