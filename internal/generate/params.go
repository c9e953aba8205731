package generate

import (
	"strings"
	"time"
)

// This file holds the writers of request parameters, responses, additional data and resources that the
// actions of the catalog share.

// filter writes an EC2 filterSet with one filter of one value.
func filter(w *jw, name, value string) {
	w.open("filterSet")
	w.openArr("items")
	w.open("")
	w.str("name", name)
	w.items("valueSet", "value", value)
	w.close()
	w.closeArr()
	w.close()
}

func reqDescribeInstances(g *gen, w *jw) {
	w.open("")
	if g.chance(0.5) {
		w.items("instancesSet", "instanceId", g.pick(g.est.instances))
		w.empty("filterSet")
	} else {
		w.num("maxResults", 1000)
		w.empty("instancesSet")
		filter(w, "instance-state-name", "running")
	}
	w.close()
}

func (g *gen) requestID(w *jw) {
	w.key("requestId")
	w.b = append(w.b, '"')
	w.b = appendUUID(w.b, g.c.h, mix(g.c.h))
	w.b = append(w.b, '"')
}

func respReturn(g *gen, w *jw) {
	w.open("")
	g.requestID(w)
	w.boolean("_return", true)
	w.close()
}

func respStateChange(code int64, name string, prevCode int64, prev string) func(*gen, *jw) {
	return func(g *gen, w *jw) {
		w.open("")
		g.requestID(w)
		w.open("instancesSet")
		w.openArr("items")
		w.open("")
		w.str("instanceId", g.c.s1)
		w.open("currentState")
		w.num("code", code)
		w.str("name", name)
		w.close()
		w.open("previousState")
		w.num("code", prevCode)
		w.str("name", prev)
		w.close()
		w.close()
		w.closeArr()
		w.close()
		w.close()
	}
}

// ipPermissions writes the ipPermissions of an AuthorizeSecurityGroupIngress request as CloudTrail nests it.
func ipPermissions(w *jw, port int64, cidr, desc string) {
	w.open("ipPermissions")
	w.openArr("items")
	w.open("")
	w.str("ipProtocol", "tcp")
	w.num("fromPort", port)
	w.num("toPort", port)
	w.empty("groups")
	w.open("ipRanges")
	w.openArr("items")
	w.open("")
	w.str("cidrIp", cidr)
	w.str("description", desc)
	w.close()
	w.closeArr()
	w.close()
	w.empty("ipv6Ranges")
	w.empty("prefixListIds")
	w.close()
	w.closeArr()
	w.close()
}

// ruleSet writes the response of AuthorizeSecurityGroupIngress.
func ruleSet(w *jw, g *gen, sg string, port int64, cidr, desc string) {
	w.open("")
	g.requestID(w)
	w.boolean("_return", true)
	w.open("securityGroupRuleSet")
	w.openArr("items")
	w.open("")
	w.str("groupOwnerId", g.a.id)
	w.str("groupId", sg)
	w.id("securityGroupRuleId", "sgr-0", mix(g.c.h), lowerHex, 16)
	w.boolean("isEgress", false)
	w.str("ipProtocol", "tcp")
	w.num("fromPort", port)
	w.num("toPort", port)
	w.str("cidrIpv4", cidr)
	w.str("description", desc)
	w.close()
	w.closeArr()
	w.close()
	w.close()
}

// S3

func (g *gen) bucket() string {
	g.c.s1 = g.pick(g.est.buckets)
	return g.c.s1
}

func (g *gen) hostMember(w *jw) {
	w.key("Host")
	w.b = append(w.b, '"')
	w.b = g.appendHost(w.b, g.c.act)
	w.b = append(w.b, '"')
}

func reqBucket(sub string) func(*gen, *jw) {
	return func(g *gen, w *jw) {
		w.open("")
		w.str("bucketName", g.bucket())
		g.hostMember(w)
		w.str(sub, "")
		w.close()
	}
}

func reqObject(g *gen, w *jw) {
	w.open("")
	w.str("bucketName", g.bucket())
	g.hostMember(w)
	w.key("key")
	w.b = append(w.b, '"')
	w.b = g.appendObjectKey(w.b)
	w.b = append(w.b, '"')
	w.close()
}

func reqPutObject(g *gen, w *jw) {
	w.open("")
	w.str("bucketName", g.bucket())
	g.hostMember(w)
	w.key("key")
	w.b = append(w.b, '"')
	w.b = g.appendObjectKey(w.b)
	w.b = append(w.b, '"')
	w.str("x-amz-server-side-encryption", "aws:kms")
	g.keyArn(w, "x-amz-server-side-encryption-aws-kms-key-id", g.est.keys[0])
	w.close()
}

func respPutObject(g *gen, w *jw) {
	w.open("")
	w.str("x-amz-server-side-encryption", "aws:kms")
	g.keyArn(w, "x-amz-server-side-encryption-aws-kms-key-id", g.est.keys[0])
	w.str("x-amz-server-side-encryption-bucket-key-enabled", "true")
	w.close()
}

func reqListObjects(g *gen, w *jw) {
	w.open("")
	w.str("list-type", "2")
	w.str("bucketName", g.bucket())
	w.str("encoding-type", "url")
	w.str("max-keys", "1000")
	w.str("prefix", []string{"events/", "exports/", "receipts/", ""}[g.n(4)])
	g.hostMember(w)
	w.close()
}

func reqLogObject(g *gen, w *jw) {
	g.c.s1 = g.p.logBucket
	w.open("")
	w.str("bucketName", g.c.s1)
	g.hostMember(w)
	w.key("key")
	w.b = append(w.b, '"')
	w.b = g.appendObjectKey(w.b)
	w.b = append(w.b, '"')
	w.close()
}

func reqLogList(g *gen, w *jw) {
	g.c.s1 = g.p.logBucket
	a := g.p.accounts[g.c.h%uint64(len(g.p.accounts))]
	w.open("")
	w.str("list-type", "2")
	w.str("bucketName", g.c.s1)
	w.str("encoding-type", "url")
	w.cat("prefix", "AWSLogs/", g.p.org, "/", a.id, "/CloudTrail/")
	w.str("delimiter", "/")
	g.hostMember(w)
	w.close()
}

// appendObjectKey appends the object key of the current call, made from its hash, so that the request
// and the resources name the same object.
func (g *gen) appendObjectKey(b []byte) []byte {
	h := g.c.h
	t := g.c.t
	if g.c.s1 == g.p.logBucket {
		a := g.p.accounts[h%uint64(len(g.p.accounts))]
		region := g.p.regions[(h>>8)%uint64(len(g.p.regions))]
		day := floorDiv(t, 86400) - int64(h>>16%2)
		y, m, d := civil(day)
		b = append(b, "AWSLogs/"...)
		b = append(b, g.p.org...)
		b = append(b, '/')
		b = append(b, a.id...)
		b = append(b, "/CloudTrail/"...)
		b = append(b, region...)
		b = append(b, '/')
		b = append4(b, y)
		b = append(b, '/')
		b = append2(b, m)
		b = append(b, '/')
		b = append2(b, d)
		b = append(b, '/')
		b = append(b, a.id...)
		b = append(b, "_CloudTrail_"...)
		b = append(b, region...)
		b = append(b, '_')
		b = append4(b, y)
		b = append2(b, m)
		b = append2(b, d)
		b = append(b, 'T')
		b = append2(b, int(h>>20%24))
		b = append2(b, int(h>>28%12)*5)
		b = append(b, 'Z', '_')
		b = appendID(b, "", h, mixedAlnum, 16)
		return append(b, ".json.gz"...)
	}
	y, m, d := civil(floorDiv(t, 86400))
	b = append(b, []string{"events/", "exports/", "receipts/"}[h%3]...)
	b = append4(b, y)
	b = append(b, '/')
	b = append2(b, m)
	b = append(b, '/')
	b = append2(b, d)
	b = append(b, '/')
	b = appendID(b, "", h>>2, lowerHex, 12)
	return append(b, []string{".json.gz", ".parquet", ".csv"}[(h>>40)%3]...)
}

func s3Extra(g *gen, w *jw) {
	in, out := int64(0), int64(0)
	switch g.c.act.name {
	case "GetObject":
		out = int64(g.rng.ExpFloat64()*80000) + 120
	case "PutObject":
		in = int64(g.rng.ExpFloat64()*60000) + 120
	default:
		out = int64(g.n(4000)) + 180
	}
	w.open("")
	w.str("SignatureVersion", "SigV4")
	w.str("CipherSuite", "TLS_AES_128_GCM_SHA256")
	w.num("bytesTransferredIn", in)
	w.str("AuthenticationMethod", "AuthHeader")
	w.key("x-amz-id-2")
	w.b = append(w.b, '"')
	w.b = appendID(w.b, "", g.rng.Uint64(), base64ish, 76)
	w.b = append(w.b, '"')
	w.num("bytesTransferredOut", out)
	w.close()
}

func resBucket(g *gen, w *jw) {
	if g.c.s1 == "" {
		return
	}
	w.open("")
	w.str("accountId", g.a.id)
	w.str("type", "AWS::S3::Bucket")
	w.cat("ARN", "arn:aws:s3:::", g.c.s1)
	w.close()
}

func resObject(g *gen, w *jw) {
	w.open("")
	w.str("type", "AWS::S3::Object")
	w.key("ARN")
	w.b = append(w.b, `"arn:aws:s3:::`...)
	w.b = append(w.b, g.c.s1...)
	w.b = append(w.b, '/')
	w.b = g.appendObjectKey(w.b)
	w.b = append(w.b, '"')
	w.close()
	resBucket(g, w)
}

// STS

// reqAssumeRole chooses the role: the workload role an AWS service assumes, or a role in another account
// for people and workloads.
func reqAssumeRole(g *gen, w *jw) {
	w.open("")
	if t := g.c.target; t != nil {
		g.c.s1, g.c.s2 = t.arn, t.session
		w.str("roleArn", t.arn)
		w.str("roleSessionName", t.session)
		w.close()
		return
	}
	other := g.p.accounts[g.c.h%uint64(len(g.p.accounts))]
	p := g.c.p
	var b []byte
	b = append(b, "arn:aws:iam::"...)
	b = append(b, other.id...)
	if p.person != nil {
		b = append(b, ":role/OrganizationAccountAccessRole"...)
		g.c.s2 = p.person.login
	} else {
		b = append(b, ":role/shared-"...)
		b = append(b, g.a.apps[g.c.h>>8%uint64(len(g.a.apps))]...)
		b = append(b, "-read"...)
		g.c.s2 = p.name
	}
	g.c.s1 = string(b)
	w.str("roleArn", g.c.s1)
	w.str("roleSessionName", g.c.s2)
	w.num("durationSeconds", 3600)
	w.close()
}

func respAssumeRole(g *gen, w *jw) {
	w.open("")
	w.open("credentials")
	if t := g.c.target; t != nil {
		// the key the workload then signs its calls with
		g.tempKey(w, t, g.c.t)
	} else {
		w.id("accessKeyId", "ASIA", g.c.h, base32, 16)
	}
	w.key("sessionToken")
	w.b = append(w.b, `"IQoJb3JpZ2luX2VjE`...)
	w.b = appendID(w.b, "", g.rng.Uint64(), base64ish, 340)
	w.b = append(w.b, '"')
	w.key("expiration")
	w.b = append(w.b, '"')
	w.b = time.Unix(g.c.t+3600, 0).UTC().AppendFormat(w.b, "Jan 2, 2006, 3:04:05 PM")
	w.b = append(w.b, '"')
	w.close()
	w.open("assumedRoleUser")
	if t := g.c.target; t != nil {
		w.str("assumedRoleId", t.sessID)
		w.str("arn", t.sessARN)
		w.close()
		w.close()
		return
	}
	w.key("assumedRoleId")
	w.b = append(w.b, '"')
	w.b = appendID(w.b, "AROA", hashString(g.c.s1), upperAlnum, 17)
	w.b = append(w.b, ':')
	w.b = appendEscaped(w.b, g.c.s2)
	w.b = append(w.b, '"')
	w.key("arn")
	w.b = append(w.b, '"')
	arn := g.c.s1
	if i := strings.Index(arn, ":role/"); i > 0 {
		w.b = append(w.b, strings.Replace(arn[:i], ":iam:", ":sts:", 1)...)
		w.b = append(w.b, ":assumed-role/"...)
		name := arn[i+len(":role/"):]
		if j := strings.LastIndexByte(name, '/'); j >= 0 {
			name = name[j+1:]
		}
		w.b = append(w.b, name...)
		w.b = append(w.b, '/')
	}
	w.b = appendEscaped(w.b, g.c.s2)
	w.b = append(w.b, '"')
	w.close()
	w.close()
}

func resRole(g *gen, w *jw) {
	w.open("")
	acct := g.a.id
	if s := g.c.s1; len(s) > 25 {
		acct = s[13:25]
	}
	w.str("accountId", acct)
	w.str("type", "AWS::IAM::Role")
	w.str("ARN", g.c.s1)
	w.close()
}

// KMS

func (g *gen) keyArn(w *jw, k, keyID string) {
	w.cat(k, "arn:aws:kms:", g.region, ":", g.a.id, ":key/", keyID)
}

func reqKeyID(g *gen, w *jw) {
	g.c.s2 = g.pick(g.est.keys)
	w.open("")
	g.keyArn(w, "keyId", g.c.s2)
	w.close()
}

func reqKeyIDWith(g *gen, w *jw, k, v string) {
	g.c.s2 = g.pick(g.est.keys)
	w.open("")
	g.keyArn(w, "keyId", g.c.s2)
	w.str(k, v)
	w.close()
}

func (g *gen) encryptionContext(w *jw) {
	w.open("encryptionContext")
	switch g.c.h % 3 {
	case 0:
		w.cat("aws:lambda:FunctionArn", "arn:aws:lambda:", g.region, ":", g.a.id, ":function:", g.pick(g.est.functions))
	case 1:
		w.cat("aws:s3:arn", "arn:aws:s3:::", g.pick(g.est.buckets))
	default:
		s := g.pick(g.est.secrets)
		w.str("SecretARN", s)
		w.key("SecretVersionId")
		w.b = append(w.b, '"')
		w.b = appendUUID(w.b, hashString(s), uint64(g.c.t)/86400)
		w.b = append(w.b, '"')
	}
	w.close()
}

func reqDecrypt(g *gen, w *jw) {
	g.c.s2 = g.pick(g.est.keys)
	w.open("")
	w.str("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
	g.encryptionContext(w)
	w.close()
}

func reqGenerateDataKey(g *gen, w *jw) {
	g.c.s2 = g.pick(g.est.keys)
	w.open("")
	g.keyArn(w, "keyId", g.c.s2)
	g.encryptionContext(w)
	w.str("keySpec", "AES_256")
	w.close()
}

func resKey(g *gen, w *jw) {
	w.open("")
	w.str("accountId", g.a.id)
	w.str("type", "AWS::KMS::Key")
	g.keyArn(w, "ARN", g.c.s2)
	w.close()
}

// reqTrailDataKey is CloudTrail asking for a data key to encrypt a log file of the organization trail.
func reqTrailDataKey(g *gen, w *jw) {
	g.c.s1 = g.p.logBucket
	w.open("")
	w.str("keySpec", "AES_256")
	w.open("encryptionContext")
	w.cat("aws:cloudtrail:arn", "arn:aws:cloudtrail:us-east-1:", g.p.accounts[0].id, ":trail/org-trail")
	w.key("aws:s3:arn")
	w.b = append(w.b, `"arn:aws:s3:::`...)
	w.b = append(w.b, g.c.s1...)
	w.b = append(w.b, '/')
	w.b = g.appendObjectKey(w.b)
	w.b = append(w.b, '"')
	w.close()
	g.keyArn(w, "keyId", g.est.keys[0])
	w.close()
}

func resTrailKey(g *gen, w *jw) {
	g.c.s2 = g.est.keys[0]
	resKey(g, w)
}

// Lambda

func respFunction(g *gen, w *jw) {
	fn := g.c.s1
	w.open("")
	w.str("functionName", fn)
	w.cat("functionArn", "arn:aws:lambda:", g.region, ":", g.a.id, ":function:", fn)
	w.str("runtime", "python3.12")
	w.cat("role", "arn:aws:iam::", g.a.id, ":role/service-role/", strings.SplitN(fn, "-", 2)[0], "-lambda-exec")
	w.str("handler", "app.handler")
	w.num("codeSize", int64(g.c.h%4_000_000)+20_000)
	w.str("description", "")
	w.num("timeout", 30)
	w.num("memorySize", 1024)
	w.key("lastModified")
	w.b = append(w.b, '"')
	w.b = time.Unix(g.c.t, 0).UTC().AppendFormat(w.b, "2006-01-02T15:04:05.000-0700")
	w.b = append(w.b, '"')
	w.key("codeSha256")
	w.b = append(w.b, '"')
	w.b = appendID(w.b, "", g.c.h, base64ish, 43)
	w.b = append(w.b, '=', '"')
	w.str("version", "$LATEST")
	w.open("tracingConfig")
	w.str("mode", "PassThrough")
	w.close()
	w.key("revisionId")
	w.b = append(w.b, '"')
	w.b = appendUUID(w.b, mix(g.c.h), g.c.h)
	w.b = append(w.b, '"')
	w.str("state", "Active")
	w.str("lastUpdateStatus", "InProgress")
	w.str("packageType", "Zip")
	w.openArr("architectures")
	w.str("", "arm64")
	w.closeArr()
	w.close()
}

// Sign-in

func respConsoleLogin(g *gen, w *jw) {
	w.open("")
	if g.c.loginFailed {
		w.str("ConsoleLogin", "Failure")
	} else {
		w.str("ConsoleLogin", "Success")
	}
	w.close()
}

func extraConsoleLogin(g *gen, w *jw) {
	p := g.c.p
	w.open("")
	w.key("LoginTo")
	w.b = append(w.b, `"https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_`...)
	w.b = appendID(w.b, "", g.c.h, lowerHex, 16)
	w.b = append(w.b, '"')
	w.str("MobileVersion", "No")
	if g.c.mfaUsed && p.kind == kindIAMUser {
		w.cat("MFAIdentifier", "arn:aws:iam::", p.account.id, ":mfa/", p.name)
	}
	if g.c.mfaUsed {
		w.str("MFAUsed", "Yes")
	} else {
		w.str("MFAUsed", "No")
	}
	w.close()
}

func extraIdentityCenter(login bool) func(*gen, *jw) {
	return func(g *gen, w *jw) {
		w.open("")
		w.key("AuthWorkflowID")
		w.b = append(w.b, '"')
		h := hash(g.c.p.key, uint64(g.c.t)/600)
		w.b = appendUUID(w.b, h, mix(h))
		w.b = append(w.b, '"')
		if login {
			w.cat("LoginTo", "https://", g.p.storeID, ".awsapps.com/start/")
		}
		w.str("CredentialType", "PASSWORD")
		w.close()
	}
}

func detailsSuccess(name string) func(*gen, *jw) {
	return func(g *gen, w *jw) {
		w.open("")
		w.str(name, "Success")
		w.close()
	}
}
