package generate

import (
	"strconv"
	"strings"
)

// eventKind is the eventType of a record.
type eventKind uint8

const (
	apiCall eventKind = iota
	consoleSignIn
	serviceEvent
)

func (k eventKind) String() string {
	switch k {
	case consoleSignIn:
		return "AwsConsoleSignIn"
	case serviceEvent:
		return "AwsServiceEvent"
	}
	return "AwsApiCall"
}

// action is one API as CloudTrail records it, with writers for the parts that depend on the call.
// Each writer writes one complete JSON value; req may choose values (g.c.s1, g.c.s2) that the later
// writers repeat, since they run in record order.
type action struct {
	source, name string
	svc          string // first label of source: host prefix and error dialect
	perm         string // IAM action, for AccessDenied messages
	cli          string // CLI command, appended to the CLI user agent
	version      string // eventVersion
	host         string // fixed client host header, for global endpoints
	global       bool   // logged in us-east-1 only
	readOnly     bool
	data         bool // data event (S3 object level)
	kind         eventKind
	console      bool // people also call it from the console
	vpce         bool // workloads reach it through a VPC endpoint
	noTLS        bool
	cannotFail   bool   // background calls of it never fail (GetCallerIdentity needs no permission)
	notFound     string // errorCode of a call on a resource that does not exist, "" if the API cannot fail so
	notFoundMsg  string
	req, resp    func(g *gen, w *jw)
	extra, res   func(g *gen, w *jw)
	details      func(g *gen, w *jw)
}

var globalSources = map[string]bool{"iam": true, "signin": true, "organizations": true}

func api(source, name string, readOnly bool, req, resp func(*gen, *jw)) *action {
	svc := strings.TrimSuffix(source, ".amazonaws.com")
	base := name
	if i := strings.IndexAny(name, "0123456789"); i > 0 {
		base = name[:i] // Lambda's ListFunctions20150331
	}
	prefix := svc
	if svc == "monitoring" {
		prefix = "cloudwatch"
	}
	a := &action{
		source: source, name: name, svc: svc, readOnly: readOnly, req: req, resp: resp,
		perm: prefix + ":" + base, cli: prefix + "." + kebab(base), version: "1.09",
		global: globalSources[svc], console: true,
	}
	switch svc {
	case "iam":
		a.host = "iam.amazonaws.com"
	case "signin":
		a.host, a.version, a.console = "signin.aws.amazon.com", "1.08", false
	case "sts":
		a.version = "1.08"
	case "s3":
		a.extra, a.res, a.vpce = s3Extra, resBucket, true
	case "kms", "secretsmanager", "ssm", "dynamodb":
		a.vpce = true
	}
	return a
}

// kebab turns an API name into its CLI command: DescribeDBClusters → describe-db-clusters.
func kebab(s string) string {
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUpper(c) {
			if i > 0 && (!isUpper(s[i-1]) || (i+1 < len(s) && !isUpper(s[i+1]))) {
				b.WriteByte('-')
			}
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (a *action) missing(code, msg string) *action {
	a.notFound, a.notFoundMsg = code, msg
	return a
}

func (a *action) resources(f func(*gen, *jw)) *action {
	a.res = f
	return a
}

// entry is an action and its weight in a table.
type entry struct {
	a *action
	w float64
}

// actionTable draws the action of a call: from all entries in us-east-1, from the regional ones elsewhere.
type actionTable struct {
	entries []entry
	acts    [2][]*action
	cum     [2][]float64
}

func newTable(es ...entry) *actionTable {
	t := &actionTable{entries: es}
	for _, e := range es {
		for rk := range 2 {
			if rk == 1 && e.a.global {
				continue
			}
			sum := e.w
			if n := len(t.cum[rk]); n > 0 {
				sum += t.cum[rk][n-1]
			}
			t.acts[rk] = append(t.acts[rk], e.a)
			t.cum[rk] = append(t.cum[rk], sum)
		}
	}
	return t
}

// plus returns a table with the entries of t and es.
func (t *actionTable) plus(es ...entry) *actionTable {
	return newTable(append(append([]entry(nil), t.entries...), es...)...)
}

// without returns a table with the entries of t but a.
func (t *actionTable) without(a *action) *actionTable {
	var es []entry
	for _, e := range t.entries {
		if e.a != a {
			es = append(es, e)
		}
	}
	return newTable(es...)
}

func (t *actionTable) has(rk int) bool { return len(t.acts[rk]) > 0 }

func (t *actionTable) pick(x float64, usEast bool) *action {
	rk := 1
	if usEast {
		rk = 0
	}
	return t.acts[rk][pickCum(t.cum[rk], x)]
}

// catalog holds the action tables of each kind of principal.
type catalog struct {
	humanRead, humanPower, humanAdmin *actionTable
	humanCLI                          *actionTable // people without console access
	identityCenter                    *actionTable
	app, logReader, ci, backup        *actionTable
	config, guardduty                 *actionTable
	service, trailKey                 *actionTable
	consoleLogin                      *action
}

func newCatalog() *catalog {
	c := &catalog{}
	const (
		ec2  = "ec2.amazonaws.com"
		s3   = "s3.amazonaws.com"
		iam  = "iam.amazonaws.com"
		sts  = "sts.amazonaws.com"
		kms  = "kms.amazonaws.com"
		logs = "logs.amazonaws.com"
		lam  = "lambda.amazonaws.com"
		rds  = "rds.amazonaws.com"
		ssm  = "ssm.amazonaws.com"
		sm   = "secretsmanager.amazonaws.com"
		ddb  = "dynamodb.amazonaws.com"
		cw   = "monitoring.amazonaws.com"
		ct   = "cloudtrail.amazonaws.com"
	)

	// EC2
	descInstances := api(ec2, "DescribeInstances", true, reqDescribeInstances, nil).
		missing("Client.InvalidInstanceID.NotFound", "The instance ID 'i-0c7e2b9a4d1f3e856' does not exist")
	descSGs := api(ec2, "DescribeSecurityGroups", true, func(g *gen, w *jw) {
		w.open("")
		w.empty("securityGroupSet")
		if g.chance(0.5) {
			w.items("securityGroupIdSet", "groupId", g.pick(g.est.sgs))
		} else {
			w.empty("securityGroupIdSet")
		}
		w.empty("filterSet")
		w.close()
	}, nil).missing("Client.InvalidGroup.NotFound", "The security group 'sg-0d4f1a2b3c5e6f789' does not exist")
	descVpcs := api(ec2, "DescribeVpcs", true, func(g *gen, w *jw) {
		w.open("")
		w.empty("vpcSet")
		w.empty("filterSet")
		w.close()
	}, nil)
	descSubnets := api(ec2, "DescribeSubnets", true, func(g *gen, w *jw) {
		w.open("")
		w.empty("subnetSet")
		filter(w, "vpc-id", g.pick(g.est.vpcs))
		w.close()
	}, nil)
	descVolumes := api(ec2, "DescribeVolumes", true, func(g *gen, w *jw) {
		w.open("")
		w.empty("volumeSet")
		filter(w, "attachment.instance-id", g.pick(g.est.instances))
		w.close()
	}, nil)
	descStatus := api(ec2, "DescribeInstanceStatus", true, func(g *gen, w *jw) {
		w.open("")
		w.empty("instancesSet")
		w.empty("filterSet")
		w.boolean("includeAllInstances", true)
		w.close()
	}, nil)
	descRegions := api(ec2, "DescribeRegions", true, func(g *gen, w *jw) {
		w.open("")
		w.empty("regionSet")
		w.close()
	}, nil)
	descAZs := api(ec2, "DescribeAvailabilityZones", true, func(g *gen, w *jw) {
		w.open("")
		w.empty("availabilityZoneSet")
		w.empty("availabilityZoneIdSet")
		w.close()
	}, nil)
	descENIs := api(ec2, "DescribeNetworkInterfaces", true, func(g *gen, w *jw) {
		w.open("")
		w.empty("networkInterfaceIdSet")
		filter(w, "subnet-id", g.pick(g.est.subnets))
		w.close()
	}, nil)
	descImages := api(ec2, "DescribeImages", true, func(g *gen, w *jw) {
		w.open("")
		w.empty("executableBySet")
		w.empty("imagesSet")
		w.items("ownersSet", "owner", "self")
		w.empty("filterSet")
		w.close()
	}, nil)
	descSnapshots := api(ec2, "DescribeSnapshots", true, func(g *gen, w *jw) {
		w.open("")
		w.empty("snapshotSet")
		w.items("ownersSet", "owner", "self")
		w.empty("restorableBySet")
		filter(w, "volume-id", g.pick(g.est.volumes))
		w.num("maxResults", 1000)
		w.close()
	}, nil)
	createTags := api(ec2, "CreateTags", false, func(g *gen, w *jw) {
		w.open("")
		w.items("resourcesSet", "resourceId", g.pick(g.est.instances))
		w.open("tagSet")
		w.openArr("items")
		w.open("")
		w.str("key", "Owner")
		w.cat("value", "team-", g.pick(g.a.apps))
		w.close()
		w.closeArr()
		w.close()
		w.close()
	}, respReturn)
	stopInstances := api(ec2, "StopInstances", false, func(g *gen, w *jw) {
		g.c.s1 = g.pick(g.est.instances)
		w.open("")
		w.items("instancesSet", "instanceId", g.c.s1)
		w.boolean("force", false)
		w.close()
	}, respStateChange(64, "stopping", 16, "running"))
	startInstances := api(ec2, "StartInstances", false, func(g *gen, w *jw) {
		g.c.s1 = g.pick(g.est.instances)
		w.open("")
		w.items("instancesSet", "instanceId", g.c.s1)
		w.close()
	}, respStateChange(0, "pending", 80, "stopped"))
	rebootInstances := api(ec2, "RebootInstances", false, func(g *gen, w *jw) {
		w.open("")
		w.items("instancesSet", "instanceId", g.pick(g.est.instances))
		w.close()
	}, respReturn)
	createSnapshot := api(ec2, "CreateSnapshot", false, func(g *gen, w *jw) {
		g.c.s1 = g.pick(g.est.volumes)
		w.open("")
		w.str("volumeId", g.c.s1)
		w.str("description", "nightly backup")
		w.close()
	}, func(g *gen, w *jw) {
		w.open("")
		g.requestID(w)
		w.id("snapshotId", "snap-0", g.c.h, lowerHex, 17)
		w.str("volumeId", g.c.s1)
		w.str("status", "pending")
		w.time("startTime", g.c.t)
		w.str("progress", "")
		w.str("ownerId", g.a.id)
		w.num("volumeSize", 100)
		w.str("description", "nightly backup")
		w.boolean("encrypted", true)
		w.close()
	})
	authorizeInternal := api(ec2, "AuthorizeSecurityGroupIngress", false, func(g *gen, w *jw) {
		g.c.s1 = g.pick(g.est.sgs)
		port := int64([]int{443, 5432, 6379, 8080}[g.n(4)])
		g.c.h = uint64(port)
		w.open("")
		w.str("groupId", g.c.s1)
		ipPermissions(w, port, "10.0.0.0/16", "from app subnets")
		w.close()
	}, func(g *gen, w *jw) {
		ruleSet(w, g, g.c.s1, int64(g.c.h), "10.0.0.0/16", "from app subnets")
	})

	// S3, bucket level (management events) and object level (data events)
	listBuckets := api(s3, "ListBuckets", true, func(g *gen, w *jw) {
		w.open("")
		w.str("Host", "s3.amazonaws.com")
		w.close()
	}, nil)
	listBuckets.global, listBuckets.res, listBuckets.host = true, nil, "s3.amazonaws.com"
	bucketGet := func(name, sub string) *action {
		return api(s3, name, true, reqBucket(sub), nil)
	}
	getBucketLocation := bucketGet("GetBucketLocation", "location")
	getBucketPolicy := bucketGet("GetBucketPolicy", "policy").missing("NoSuchBucketPolicy", "The bucket policy does not exist")
	getBucketAcl := bucketGet("GetBucketAcl", "acl")
	getBucketVersioning := bucketGet("GetBucketVersioning", "versioning")
	getBucketEncryption := bucketGet("GetBucketEncryption", "encryption")
	getObject := api(s3, "GetObject", true, reqObject, nil).resources(resObject).
		missing("NoSuchKey", "The specified key does not exist.")
	getObject.data = true
	putObject := api(s3, "PutObject", false, reqPutObject, respPutObject).resources(resObject)
	putObject.data = true
	listObjects := api(s3, "ListObjects", true, reqListObjects, nil)
	listObjects.data = true
	logGetObject := api(s3, "GetObject", true, reqLogObject, nil).resources(resObject)
	logGetObject.data, logGetObject.global = true, true
	logListObjects := api(s3, "ListObjects", true, reqLogList, nil)
	logListObjects.data, logListObjects.global = true, true

	// IAM (global)
	roleName := func(g *gen) string {
		ps := g.a.principals[classApp]
		return ps[g.n(len(ps))].name
	}
	getRole := api(iam, "GetRole", true, func(g *gen, w *jw) {
		w.open("")
		w.str("roleName", roleName(g))
		w.close()
	}, nil).missing("NoSuchEntityException", "The role with name legacy-deploy-role cannot be found.")
	listRoles := api(iam, "ListRoles", true, nil, nil)
	listUsers := api(iam, "ListUsers", true, nil, nil)
	getPolicy := api(iam, "GetPolicy", true, func(g *gen, w *jw) {
		w.open("")
		w.cat("policyArn", "arn:aws:iam::", g.a.id, ":policy/", g.pick(g.a.apps), "-runtime-access")
		w.close()
	}, nil).missing("NoSuchEntityException", "Policy arn:aws:iam::aws:policy/LegacyAccess does not exist or is not attachable.")
	getPolicyVersion := api(iam, "GetPolicyVersion", true, func(g *gen, w *jw) {
		w.open("")
		w.cat("policyArn", "arn:aws:iam::", g.a.id, ":policy/", g.pick(g.a.apps), "-runtime-access")
		w.str("versionId", []string{"v1", "v2", "v3", "v4"}[g.n(4)])
		w.close()
	}, nil)
	listAttached := api(iam, "ListAttachedRolePolicies", true, func(g *gen, w *jw) {
		w.open("")
		w.str("roleName", roleName(g))
		w.close()
	}, nil)
	listRolePolicies := api(iam, "ListRolePolicies", true, func(g *gen, w *jw) {
		w.open("")
		w.str("roleName", roleName(g))
		w.close()
	}, nil)
	accountSummary := api(iam, "GetAccountSummary", true, nil, nil)
	putRolePolicy := api(iam, "PutRolePolicy", false, func(g *gen, w *jw) {
		app := g.pick(g.a.apps)
		w.open("")
		w.cat("roleName", app, "-lambda-exec")
		w.cat("policyName", app, "-queue-access")
		w.cat("policyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage","sqs:ReceiveMessage"],"Resource":"arn:aws:sqs:`, g.region, ":", g.a.id, ":", app, `-jobs"}]}`)
		w.close()
	}, nil)
	tagRole := api(iam, "TagRole", false, func(g *gen, w *jw) {
		w.open("")
		w.str("roleName", roleName(g))
		w.openArr("tags")
		w.open("")
		w.str("key", "cost-center")
		w.str("value", "cc-4120")
		w.close()
		w.closeArr()
		w.close()
	}, nil)

	// STS
	callerIdentity := api(sts, "GetCallerIdentity", true, nil, nil)
	callerIdentity.cannotFail = true
	assumeRole := api(sts, "AssumeRole", true, reqAssumeRole, respAssumeRole).resources(resRole)
	serviceAssume := api(sts, "AssumeRole", true, reqAssumeRole, respAssumeRole).resources(resRole)
	serviceAssume.version = "1.08"

	// KMS
	decrypt := api(kms, "Decrypt", true, reqDecrypt, nil).resources(resKey)
	generateDataKey := api(kms, "GenerateDataKey", true, reqGenerateDataKey, nil).resources(resKey)
	describeKey := api(kms, "DescribeKey", true, func(g *gen, w *jw) {
		w.open("")
		w.str("keyId", g.pick(g.est.aliases))
		w.close()
	}, nil).missing("NotFoundException", "Alias arn:aws:kms:us-east-1:000000000000:alias/legacy-data is not found.")
	listAliases := api(kms, "ListAliases", true, nil, nil)
	keyRotation := api(kms, "GetKeyRotationStatus", true, reqKeyID, nil).resources(resKey)
	keyPolicy := api(kms, "GetKeyPolicy", true, func(g *gen, w *jw) {
		reqKeyIDWith(g, w, "policyName", "default")
	}, nil).resources(resKey)
	trailDataKey := api(kms, "GenerateDataKey", true, reqTrailDataKey, nil).resources(resTrailKey)
	trailDataKey.global = true

	// Secrets Manager, SSM, DynamoDB
	getSecret := api(sm, "GetSecretValue", true, func(g *gen, w *jw) {
		w.open("")
		w.str("secretId", g.pick(g.est.secrets))
		w.close()
	}, nil).missing("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	listSecrets := api(sm, "ListSecrets", true, nil, nil)
	getParameter := api(ssm, "GetParameter", true, func(g *gen, w *jw) {
		w.open("")
		w.str("name", g.pick(g.est.params))
		w.boolean("withDecryption", true)
		w.close()
	}, nil).missing("ParameterNotFound", "")
	getParameters := api(ssm, "GetParameters", true, func(g *gen, w *jw) {
		w.open("")
		w.openArr("names")
		k := g.n(len(g.est.params) - 1)
		w.str("", g.est.params[k])
		w.str("", g.est.params[k+1])
		w.closeArr()
		w.boolean("withDecryption", true)
		w.close()
	}, nil)
	describeInstanceInfo := api(ssm, "DescribeInstanceInformation", true, func(g *gen, w *jw) {
		w.open("")
		w.num("maxResults", 50)
		w.close()
	}, nil)
	startSession := api(ssm, "StartSession", false, func(g *gen, w *jw) {
		w.open("")
		w.str("target", g.pick(g.est.instances))
		w.close()
	}, func(g *gen, w *jw) {
		w.open("")
		w.id("sessionId", "", g.c.h, lowerAlnum, 17)
		w.str("tokenValue", "Value hidden due to security reasons.")
		w.key("streamUrl")
		w.b = append(w.b, `"wss://ssmmessages.`...)
		w.b = append(w.b, g.region...)
		w.b = append(w.b, ".amazonaws.com/v1/data-channel/"...)
		w.b = appendID(w.b, "", g.c.h, lowerAlnum, 17)
		w.b = append(w.b, `?role=publish_subscribe&cell-number=AAEAAQAAAAEAAAAB"`...)
		w.close()
	})
	describeTable := api(ddb, "DescribeTable", true, func(g *gen, w *jw) {
		w.open("")
		w.str("tableName", g.pick(g.est.tables))
		w.close()
	}, nil).missing("ResourceNotFoundException", "Requested resource not found: Table: legacy-events not found")
	listTables := api(ddb, "ListTables", true, nil, nil)

	// CloudWatch, Logs, Lambda, RDS, CloudTrail
	describeAlarms := api(cw, "DescribeAlarms", true, func(g *gen, w *jw) {
		w.open("")
		if g.chance(0.5) {
			w.str("stateValue", "ALARM")
		}
		w.num("maxRecords", 100)
		w.close()
	}, nil)
	describeLogGroups := api(logs, "DescribeLogGroups", true, func(g *gen, w *jw) {
		w.open("")
		w.str("logGroupNamePrefix", "/aws/lambda/")
		w.close()
	}, nil)
	describeLogStreams := api(logs, "DescribeLogStreams", true, func(g *gen, w *jw) {
		w.open("")
		w.cat("logGroupName", "/aws/lambda/", g.pick(g.est.functions))
		w.str("orderBy", "LastEventTime")
		w.boolean("descending", true)
		w.num("limit", 50)
		w.close()
	}, nil).missing("ResourceNotFoundException", "The specified log group does not exist.")
	filterLogEvents := api(logs, "FilterLogEvents", true, func(g *gen, w *jw) {
		w.open("")
		w.cat("logGroupName", "/aws/lambda/", g.pick(g.est.functions))
		w.num("startTime", (g.c.t-3600)*1000)
		w.num("endTime", g.c.t*1000)
		w.str("filterPattern", "ERROR")
		w.boolean("interleaved", true)
		w.close()
	}, nil)
	createLogStream := api(logs, "CreateLogStream", false, func(g *gen, w *jw) {
		w.open("")
		w.cat("logGroupName", "/aws/lambda/", g.pick(g.est.functions))
		w.key("logStreamName")
		w.b = append(w.b, '"')
		y, m, d := civil(floorDiv(g.c.t, 86400))
		w.b = append4(w.b, y)
		w.b = append(w.b, '/')
		w.b = append2(w.b, m)
		w.b = append(w.b, '/')
		w.b = append2(w.b, d)
		w.b = append(w.b, "/[$LATEST]"...)
		w.b = appendID(w.b, "", g.c.h, lowerHex, 32)
		w.b = append(w.b, '"')
		w.close()
	}, nil)
	createLogStream.console = false
	listFunctions := api(lam, "ListFunctions20150331", true, nil, nil)
	getFunction := api(lam, "GetFunction20150331v2", true, func(g *gen, w *jw) {
		w.open("")
		w.str("functionName", g.pick(g.est.functions))
		w.close()
	}, nil).missing("ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:legacy-cron")
	updateCode := api(lam, "UpdateFunctionCode20150331v2", false, func(g *gen, w *jw) {
		g.c.s1 = g.pick(g.est.functions)
		w.open("")
		w.str("functionName", g.c.s1)
		w.boolean("publish", true)
		w.boolean("dryRun", false)
		w.cat("s3Bucket", "acme-artifacts-", g.a.id, "-", g.region)
		w.cat("s3Key", g.c.s1, "/build-", strconv.Itoa(int(g.c.h%9000+1000)), ".zip")
		w.close()
	}, respFunction)
	updateConfig := api(lam, "UpdateFunctionConfiguration20150331v2", false, func(g *gen, w *jw) {
		g.c.s1 = g.pick(g.est.functions)
		w.open("")
		w.str("functionName", g.c.s1)
		w.num("timeout", 30)
		w.num("memorySize", 1024)
		w.close()
	}, respFunction)
	describeDBs := api(rds, "DescribeDBInstances", true, func(g *gen, w *jw) {
		w.open("")
		w.str("dBInstanceIdentifier", g.pick(g.est.dbs))
		w.close()
	}, nil).missing("DBInstanceNotFound", "DBInstance legacy-db not found.")
	describeClusters := api(rds, "DescribeDBClusters", true, nil, nil)
	describeDBSnapshots := api(rds, "DescribeDBSnapshots", true, func(g *gen, w *jw) {
		w.open("")
		w.str("dBInstanceIdentifier", g.pick(g.est.dbs))
		w.str("snapshotType", "automated")
		w.close()
	}, nil)
	lookupEvents := api(ct, "LookupEvents", true, func(g *gen, w *jw) {
		w.open("")
		w.openArr("lookupAttributes")
		w.open("")
		w.str("attributeKey", "EventName")
		w.str("attributeValue", []string{"ConsoleLogin", "RunInstances", "DeleteBucket"}[g.n(3)])
		w.close()
		w.closeArr()
		w.num("maxResults", 50)
		w.close()
	}, nil)
	describeTrails := api(ct, "DescribeTrails", true, func(g *gen, w *jw) {
		w.open("")
		w.openArr("trailNameList")
		w.closeArr()
		w.boolean("includeShadowTrails", true)
		w.close()
	}, nil)
	trailStatus := api(ct, "GetTrailStatus", true, func(g *gen, w *jw) {
		w.open("")
		w.cat("name", "arn:aws:cloudtrail:us-east-1:", g.p.accounts[0].id, ":trail/org-trail")
		w.close()
	}, nil)

	// Sign-in
	c.consoleLogin = &action{source: "signin.amazonaws.com", name: "ConsoleLogin", svc: "signin", perm: "signin:ConsoleLogin",
		version: "1.08", host: "signin.aws.amazon.com", global: true, kind: consoleSignIn, resp: respConsoleLogin, extra: extraConsoleLogin}
	credVerify := &action{source: "signin.amazonaws.com", name: "CredentialVerification", svc: "signin", version: "1.08",
		global: true, kind: serviceEvent, noTLS: true, extra: extraIdentityCenter(false), details: detailsSuccess("CredentialVerification")}
	userAuth := &action{source: "signin.amazonaws.com", name: "UserAuthentication", svc: "signin", version: "1.08",
		global: true, kind: serviceEvent, noTLS: true, extra: extraIdentityCenter(true), details: detailsSuccess("UserAuthentication")}

	c.humanRead = newTable(
		entry{descInstances, 10}, entry{descSGs, 4}, entry{descVpcs, 2}, entry{descSubnets, 2}, entry{descVolumes, 2},
		entry{descStatus, 3}, entry{descRegions, 1}, entry{descAZs, 1},
		entry{listBuckets, 3}, entry{getBucketLocation, 2}, entry{getBucketPolicy, 1}, entry{getBucketAcl, 1},
		entry{listObjects, 2}, entry{getObject, 2},
		entry{listRoles, 2}, entry{getRole, 2}, entry{listUsers, 1}, entry{getPolicy, 1}, entry{listAttached, 1}, entry{accountSummary, 0.5},
		entry{callerIdentity, 3}, entry{describeAlarms, 3}, entry{describeLogGroups, 2}, entry{filterLogEvents, 2}, entry{describeLogStreams, 1},
		entry{listFunctions, 2}, entry{getFunction, 1}, entry{describeDBs, 2}, entry{describeClusters, 1},
		entry{listAliases, 1}, entry{describeKey, 1}, entry{lookupEvents, 0.5}, entry{describeTrails, 0.3}, entry{trailStatus, 0.2},
		entry{listTables, 1}, entry{describeTable, 1}, entry{listSecrets, 0.5}, entry{describeInstanceInfo, 0.5},
		entry{c.consoleLogin, 1.5},
	)
	c.humanCLI = c.humanRead.without(c.consoleLogin)
	c.humanPower = c.humanRead.plus(
		entry{createTags, 1}, entry{stopInstances, 0.4}, entry{startInstances, 0.4}, entry{rebootInstances, 0.1},
		entry{authorizeInternal, 0.2}, entry{startSession, 0.5}, entry{updateConfig, 0.3}, entry{putObject, 0.5},
		entry{getSecret, 0.5}, entry{decrypt, 0.5}, entry{assumeRole, 0.3},
	)
	c.humanAdmin = c.humanPower.plus(entry{tagRole, 0.1}, entry{putRolePolicy, 0.1})
	c.identityCenter = newTable(entry{credVerify, 1}, entry{userAuth, 1})
	c.app = newTable(
		entry{decrypt, 10}, entry{generateDataKey, 6}, entry{getObject, 9}, entry{putObject, 5}, entry{listObjects, 1},
		entry{getSecret, 3}, entry{getParameter, 3}, entry{getParameters, 2}, entry{assumeRole, 2}, entry{callerIdentity, 1},
		entry{createLogStream, 2}, entry{describeTable, 2}, entry{descInstances, 0.5}, entry{descENIs, 0.5}, entry{describeAlarms, 0.2},
	)
	c.logReader = newTable(entry{logGetObject, 10}, entry{logListObjects, 2})
	c.ci = newTable(
		entry{descInstances, 3}, entry{descSGs, 3}, entry{descVpcs, 2}, entry{descSubnets, 2}, entry{descImages, 1}, entry{descVolumes, 1},
		entry{getRole, 3}, entry{getPolicy, 2}, entry{getPolicyVersion, 2}, entry{listRolePolicies, 1}, entry{listAttached, 2},
		entry{getBucketPolicy, 1}, entry{getBucketAcl, 1}, entry{getBucketVersioning, 1}, entry{getBucketEncryption, 1}, entry{getBucketLocation, 1},
		entry{getFunction, 2}, entry{describeKey, 1}, entry{keyPolicy, 1}, entry{keyRotation, 1}, entry{describeLogGroups, 1},
		entry{describeAlarms, 1}, entry{describeDBs, 1}, entry{callerIdentity, 2}, entry{describeTable, 1},
		entry{updateCode, 0.3}, entry{createTags, 0.3}, entry{putRolePolicy, 0.05}, entry{putObject, 0.5},
	)
	c.backup = newTable(
		entry{descVolumes, 3}, entry{descSnapshots, 3}, entry{createSnapshot, 1}, entry{describeDBSnapshots, 2},
		entry{describeDBs, 1}, entry{putObject, 2}, entry{listObjects, 1},
	)
	c.config = newTable(
		entry{descSGs, 3}, entry{descInstances, 3}, entry{descVolumes, 2}, entry{descVpcs, 1}, entry{descSubnets, 1}, entry{descENIs, 2},
		entry{getRole, 1}, entry{listAttached, 1}, entry{getPolicyVersion, 1},
		entry{getBucketAcl, 1}, entry{getBucketPolicy, 1}, entry{getBucketVersioning, 1}, entry{getBucketEncryption, 1},
		entry{describeKey, 1}, entry{keyRotation, 1}, entry{describeDBs, 1}, entry{getFunction, 1},
	)
	c.guardduty = newTable(entry{descInstances, 2}, entry{descImages, 1}, entry{descENIs, 1}, entry{descSGs, 1})
	c.service = newTable(entry{serviceAssume, 1})
	c.trailKey = newTable(entry{trailDataKey, 1})
	return c
}
