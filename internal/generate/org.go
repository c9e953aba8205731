package generate

import (
	"strconv"
	"strings"
)

// account is one member of the organization, with the identities that act in it and the resources they
// act on.
type account struct {
	idx        int
	id         string
	name       string
	prod       bool
	weight     float64 // share of the organization's traffic
	apps       []string
	principals [numClasses][]*principal
	// byRegion and cum hold, for us-east-1 (0) and the other regions (1), the principals of each class
	// that have something to do there and the cumulative weights to draw one.
	byRegion  [2][numClasses][]*principal
	cum       [2][numClasses][]float64
	assumable []*principal // workload roles an AWS service assumes
	estates   []*estate    // by region
	root      *principal
}

// estate is what exists in one account and region: the values request parameters refer to.
type estate struct {
	instances, sgs, vpcs, subnets, volumes []string
	buckets, functions, keys, aliases      []string
	secrets, params, tables, dbs           []string
	natIP                                  string
}

// class groups principals by how they behave; the share of each class follows the hour.
type class uint8

const (
	classHuman       class = iota // people: Identity Center sessions, a few IAM users
	classApp                      // workloads: Lambda, ECS and EC2 roles
	classAutomation               // CI/CD and long-lived access keys
	classServiceRole              // service-linked roles scanning the account (Config, GuardDuty)
	classService                  // AWS services acting on the account's behalf
	numClasses
)

// kind is the userIdentity.type of a principal.
type kind uint8

const (
	kindIAMUser kind = iota
	kindRole
	kindService
	kindRoot
	kindIdentityCenter // the Identity Center user itself, on the sign-in portal
)

// principal is one identity as it appears in userIdentity.
type principal struct {
	kind    kind
	class   class
	account *account // owner, userIdentity.accountId
	name    string   // IAM user name or role name
	arn     string   // user ARN, or the role ARN of the session issuer
	id      string   // AIDA… or AROA…
	// session is the role session name; sessARN and sessID are the assumed-role ARN and principalId.
	session, sessARN, sessID string
	accessKey                string // AKIA… of an IAM user's long-lived key
	invokedBy                string // AWS service principal of kindService, or of the service assuming an app role
	key                      uint64 // seeds the principal's temporary keys and session times
	mfa                      bool
	ec2                      bool   // EC2 instance-profile session (ec2RoleDelivery 2.0)
	sourceIdentity           string // set on Identity Center sessions of some people
	person                   *person
	ips                      []string // source IPs; nil means the invoking service's name
	agents                   []string
	console                  float64 // share of calls made from the console
	weight                   float64
	table                    *actionTable
}

// person is someone of the organization's staff, signing in through Identity Center.
type person struct {
	login   string
	email   string
	userID  string // identity store user id
	ips     []string
	browser string
	cli     string
	admin   bool
	console float64
}

var (
	accountNames = []string{"management", "log-archive", "security-tooling", "prod-payments", "prod-web",
		"staging", "dev", "shared-services", "data-platform", "sandbox", "prod-api", "prod-analytics"}
	appNames = []string{"payments", "checkout", "ledger", "orders", "catalog", "search", "auth", "notify",
		"reporting", "ingest", "billing", "fraud"}
	people = []string{"alice.martin", "bruno.costa", "chen.wei", "dana.kowalski", "emeka.obi",
		"fatima.haddad", "gustavo.reyes", "hana.sato", "ivan.petrov", "julia.schmidt"}
	officeIPs = []string{"203.0.113.10", "203.0.113.11", "198.51.100.24", "192.0.2.50"}
	ispNets   = []string{"73.", "76.", "81.", "86.", "90.", "98.", "109.", "151.", "174.", "188."}
	natNets   = []string{"3.", "18.", "34.", "52.", "54."}
	browsers  = []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.0.0",
		"Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
	}
	cliAgents = []string{
		"aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off",
		"aws-cli/2.15.31 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0-1016-aws md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off",
		"aws-cli/2.13.25 Python/3.11.5 Windows/10 exe/AMD64 prompt/off",
	}
	lambdaAgents = []string{
		"Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 os/linux#5.10.209-220.812.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.42",
		"aws-sdk-nodejs/2.1580.0 linux/v18.19.1 exec-env/AWS_Lambda_nodejs18.x promise",
	}
	taskAgents = []string{
		"aws-sdk-java/2.25.11 Linux/5.10.209-198.858.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
	}
	instanceAgents = []string{
		"aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64",
		"aws-sdk-java/2.25.11 Linux/5.10.209-198.858.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
	}
	terraformAgent = "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.0 ua/2.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64"
	boto3Agent     = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.15.0-1057-aws md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69"
)

// buildOrg makes the accounts, people, principals and resources, all from the seed.
func (p *plan) buildOrg() {
	o := p.o
	seed := uint64(o.Seed)
	n := o.Accounts
	if o.Days >= 2 {
		n++ // the account joining on the last day
	}
	seen := map[string]bool{}
	for i := range n {
		a := &account{idx: i}
		for k := uint64(0); ; k++ {
			a.id = strconv.FormatUint(100000000000+hash(seed, 0x61636374, uint64(i), k)%900000000000, 10)
			if !seen[a.id] {
				seen[a.id] = true
				break
			}
		}
		a.name = accountNames[i%len(accountNames)]
		if i >= len(accountNames) {
			a.name += "-" + strconv.Itoa(i/len(accountNames)+1)
		}
		if o.Days >= 2 && i == n-1 {
			a.name = "prod-newmarket"
		}
		a.prod = strings.HasPrefix(a.name, "prod-") || i < 3
		u := float64(hash(seed, 0x77, uint64(i))>>11) / (1 << 53)
		switch {
		case i == 0:
			a.weight = 2.2
		case i == 1:
			a.weight = 0.6
		case o.Days >= 2 && i == n-1:
			a.weight = 0.35
		default:
			a.weight = 0.5 + u
		}
		for k := range 3 {
			a.apps = append(a.apps, appNames[(hash(seed, 0x617070, uint64(i))+uint64(k)*5)%uint64(len(appNames))])
		}
		p.accounts = append(p.accounts, a)
	}
	p.logArchive = min(1, o.Accounts-1)

	for i, login := range people {
		h := hash(seed, 0x7065, uint64(i))
		pe := &person{
			login:   login,
			email:   login + "@example.com",
			userID:  string(appendUUID(nil, h, mix(h))),
			browser: browsers[h%uint64(len(browsers))],
			cli:     cliAgents[(h>>8)%uint64(len(cliAgents))],
			admin:   i < 2,
			console: 0.3 + float64(h>>40%50)/100,
		}
		pe.ips = []string{officeIPs[h%uint64(len(officeIPs))], officeIPs[(h>>4)%uint64(len(officeIPs))], homeIP(mix(h))}
		p.persons = append(p.persons, pe)
	}
	for _, a := range p.accounts {
		p.buildAccount(a)
	}
}

func homeIP(h uint64) string {
	return ispNets[h%uint64(len(ispNets))] + strconv.Itoa(int(h>>8%254)+1) + "." + strconv.Itoa(int(h>>16%254)+1) + "." + strconv.Itoa(int(h>>24%254)+1)
}

// hashIn hashes names within account a, for identifiers that must not change between runs.
func (p *plan) hashIn(a *account, parts ...string) uint64 {
	h := hash(uint64(p.o.Seed), uint64(a.idx))
	for _, s := range parts {
		h = hash(h, hashString(s))
	}
	return h
}

// newRole makes a session of role name (with IAM path path) in account a.
func (p *plan) newRole(a *account, name, path, session string, cl class) *principal {
	pr := &principal{kind: kindRole, class: cl, account: a, name: name, session: session}
	pr.arn = "arn:aws:iam::" + a.id + ":role/" + path + name
	pr.id = makeID("AROA", p.hashIn(a, "role", name), upperAlnum, 17)
	pr.sessARN = "arn:aws:sts::" + a.id + ":assumed-role/" + name + "/" + session
	pr.sessID = pr.id + ":" + session
	pr.key = p.hashIn(a, "key", name, session)
	return pr
}

// newUser makes IAM user name of account a, with a long-lived access key.
func (p *plan) newUser(a *account, name string, cl class) *principal {
	pr := &principal{kind: kindIAMUser, class: cl, account: a, name: name}
	pr.arn = "arn:aws:iam::" + a.id + ":user/" + name
	pr.id = makeID("AIDA", p.hashIn(a, "user", name), upperAlnum, 17)
	pr.accessKey = makeID("AKIA", p.hashIn(a, "akia", name), base32, 16)
	pr.key = p.hashIn(a, "key", name)
	return pr
}

// buildAccount fills in the principals and estates of a.
func (p *plan) buildAccount(a *account) {
	seed := uint64(p.o.Seed)
	c := p.cat
	hs := func(parts ...string) uint64 { return p.hashIn(a, parts...) }
	for r, region := range p.regions {
		p.buildEstate(a, r, region)
	}
	add := func(pr *principal) {
		pr.account = a
		a.principals[pr.class] = append(a.principals[pr.class], pr)
	}
	role := func(name, path, session string, cl class) *principal { return p.newRole(a, name, path, session, cl) }
	user := func(name string, cl class) *principal { return p.newUser(a, name, cl) }

	// People through Identity Center: admins everywhere, others in some accounts.
	for i, pe := range p.persons {
		set := "ReadOnlyAccess"
		switch {
		case pe.admin:
			set = "AdministratorAccess"
		case !a.prod:
			set = "PowerUserAccess"
		}
		if !pe.admin && hash(seed, uint64(a.idx), uint64(i), 0x73736f)%10 >= 6 {
			continue
		}
		name := "AWSReservedSSO_" + set + "_" + makeID("", hs("sso", set), lowerHex, 16)
		pr := role(name, "aws-reserved/sso.amazonaws.com/"+p.regions[0]+"/", pe.email, classHuman)
		pr.person, pr.ips, pr.console, pr.weight = pe, pe.ips, pe.console, 1
		pr.agents = []string{pe.cli}
		if i%3 == 0 {
			pr.sourceIdentity = pe.email
		}
		switch set {
		case "AdministratorAccess":
			pr.table = c.humanAdmin
		case "PowerUserAccess":
			pr.table = c.humanPower
		default:
			pr.table = c.humanRead
		}
		add(pr)
	}
	// Identity Center sign-ins are logged in the management account.
	if a.idx == 0 {
		for _, pe := range p.persons {
			pr := &principal{kind: kindIdentityCenter, class: classHuman, name: pe.login, person: pe, ips: pe.ips,
				agents: []string{pe.browser}, weight: 0.15, table: c.identityCenter}
			add(pr)
		}
	}
	// A legacy IAM user of a person, with MFA, and a contractor's user with keys only.
	pe := p.persons[(hs("legacy")>>3)%uint64(len(p.persons))]
	legacy := user(pe.login, classHuman)
	legacy.person, legacy.ips, legacy.console, legacy.mfa, legacy.weight = pe, pe.ips, 0.7, true, 0.5
	legacy.agents, legacy.table = []string{pe.cli}, c.humanPower
	add(legacy)
	contractor := user("ext-"+[]string{"okafor", "lindqvist", "moreau", "tanaka"}[a.idx%4], classHuman)
	contractor.ips = []string{homeIP(hs("contractor"))}
	contractor.agents, contractor.table, contractor.weight = []string{cliAgents[2]}, c.humanCLI, 0.3
	add(contractor)

	// Workloads.
	est := a.estates[0]
	for k, app := range a.apps {
		for f := range 2 {
			fn := est.functions[k*2+f]
			pr := role(app+"-lambda-exec", "service-role/", fn, classApp)
			pr.invokedBy, pr.agents, pr.weight, pr.table = "lambda.amazonaws.com", lambdaAgents[f:f+1], 1, c.app
			add(pr)
		}
		task := makeID("", hs("task", app), lowerHex, 32)
		pr := role(app+"-task-role", "", task, classApp)
		pr.invokedBy, pr.agents, pr.weight, pr.table = "ecs-tasks.amazonaws.com", taskAgents, 1.2, c.app
		add(pr)
		inst := est.instances[k]
		pr = role(app+"-instance-role", "", inst, classApp)
		pr.invokedBy, pr.agents, pr.weight, pr.table, pr.ec2 = "ec2.amazonaws.com", instanceAgents, 0.8, c.app, true
		add(pr)
	}
	if a.idx == p.logArchive {
		pr := role("trailwatch-reader", "", "trailwatch-ingest", classApp)
		pr.agents, pr.weight, pr.table = []string{"aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.53.0"}, 0.6, c.logReader
		add(pr)
	}

	// Automation.
	gha := role("github-actions-deploy", "", "GitHubActions", classAutomation)
	gha.ips = []string{"20.57.79.6", "20.161.76.43", "4.175.112.9", "172.183.51.193"}
	gha.agents, gha.weight, gha.table = []string{terraformAgent}, 1, c.ci
	add(gha)
	backup := user("svc-backup", classAutomation)
	backup.ips, backup.agents, backup.weight, backup.table = []string{est.natIP}, []string{boto3Agent}, 0.4, c.backup
	add(backup)
	if a.idx%2 == 0 {
		jenkins := user("jenkins", classAutomation)
		jenkins.ips, jenkins.agents, jenkins.weight, jenkins.table = []string{"198.51.100.77"}, []string{cliAgents[1]}, 0.5, c.ci
		add(jenkins)
	}

	// Service-linked roles reading configuration.
	cfg := role("AWSServiceRoleForConfig", "aws-service-role/config.amazonaws.com/", "AWSConfig-Describe", classServiceRole)
	cfg.invokedBy, cfg.weight, cfg.table = "config.amazonaws.com", 1, c.config
	add(cfg)
	gd := role("AWSServiceRoleForAmazonGuardDuty", "aws-service-role/guardduty.amazonaws.com/", "AmazonGuardDuty", classServiceRole)
	gd.invokedBy, gd.weight, gd.table = "guardduty.amazonaws.com", 0.5, c.guardduty
	add(gd)

	// AWS services assuming the workload roles.
	svc := &principal{kind: kindService, class: classService, name: "aws-service", weight: 1, table: c.service}
	add(svc)
	if a.idx == p.logArchive {
		ct := &principal{kind: kindService, class: classService, name: "cloudtrail", invokedBy: "cloudtrail.amazonaws.com", weight: 0.5, table: c.trailKey}
		add(ct)
	}
	for cl := range numClasses {
		for _, pr := range a.principals[cl] {
			if pr.key == 0 {
				pr.key = p.hashIn(a, "key", pr.name, pr.session)
			}
		}
	}

	a.root = &principal{kind: kindRoot, account: a, name: "root", arn: "arn:aws:iam::" + a.id + ":root", id: a.id, key: p.hashIn(a, "root")}
	for cl := range numClasses {
		for rk := range 2 {
			sum := 0.0
			for _, pr := range a.principals[cl] {
				if pr.table.has(rk) {
					sum += pr.weight
					a.byRegion[rk][cl] = append(a.byRegion[rk][cl], pr)
					a.cum[rk][cl] = append(a.cum[rk][cl], sum)
				}
			}
		}
	}
	for _, pr := range a.principals[classApp] {
		if pr.invokedBy != "" {
			a.assumable = append(a.assumable, pr)
		}
	}
}

// buildEstate names the resources of account a in one region.
func (p *plan) buildEstate(a *account, r int, region string) {
	seed := uint64(p.o.Seed)
	h := func(s string, i int) uint64 { return hash(seed, uint64(a.idx), uint64(r), hashString(s), uint64(i)) }
	e := &estate{}
	for i := range 12 {
		e.instances = append(e.instances, makeID("i-0", h("i", i), lowerHex, 16))
		e.volumes = append(e.volumes, makeID("vol-0", h("vol", i), lowerHex, 16))
	}
	for i := range 6 {
		e.sgs = append(e.sgs, makeID("sg-0", h("sg", i), lowerHex, 16))
		e.subnets = append(e.subnets, makeID("subnet-0", h("subnet", i), lowerHex, 16))
	}
	for i := range 2 {
		e.vpcs = append(e.vpcs, makeID("vpc-0", h("vpc", i), lowerHex, 16))
	}
	for i, app := range a.apps {
		e.buckets = append(e.buckets, "acme-"+app+"-data-"+a.id+"-"+region, "acme-"+app+"-exports-"+region)
		e.functions = append(e.functions, app+"-api-handler", app+"-worker")
		e.keys = append(e.keys, string(appendUUID(nil, h("key", i), h("key2", i))))
		e.aliases = append(e.aliases, "alias/"+app+"-data")
		env := "prod"
		if !a.prod {
			env = "stage"
		}
		e.secrets = append(e.secrets, "arn:aws:secretsmanager:"+region+":"+a.id+":secret:"+env+"/"+app+"/db-credentials-"+makeID("", h("secret", i), mixedAlnum, 6))
		e.params = append(e.params, "/"+app+"/"+env+"/config", "/"+app+"/"+env+"/feature-flags")
		e.tables = append(e.tables, app+"-"+env+"-events")
		e.dbs = append(e.dbs, app+"-"+env+"-db")
	}
	hh := h("nat", 0)
	e.natIP = natNets[hh%uint64(len(natNets))] + strconv.Itoa(int(hh>>8%254)+1) + "." + strconv.Itoa(int(hh>>16%254)+1) + "." + strconv.Itoa(int(hh>>24%254)+1)
	a.estates = append(a.estates, e)
}
