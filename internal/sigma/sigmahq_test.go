package sigma_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/rulefmt"
	"github.com/trailwatch/trailwatch/internal/sigma"
	"github.com/trailwatch/trailwatch/internal/source"
	"github.com/trailwatch/trailwatch/internal/store"
)

// sigmaHQFires lists, for each SigmaHQ CloudTrail rule in testdata/sigmahq, the real events (from
// testdata/cloudtrail: Stratus Red Team detonations and AWS documentation examples) it fires on, as
// "file:eventName" (each once). Rules not listed compile and fire on none of those events; most need
// events the collections do not have (GuardDuty, SAML, Route 53, …), and two cannot fire as written:
// aws_delete_saml_provider matches a field CloudTrail lacks (status) and aws_ec2_startup_script_change
// requestParameters.attribute, which the real ModifyInstanceAttribute record does not carry.
var sigmaHQFires = map[string][]string{
	"aws_cloudtrail_console_login_success_without_mfa":    {"aws.initial-access.console-login-without-mfa.json:ConsoleLogin", "awsdocs_records.json:ConsoleLogin"},
	"aws_cloudtrail_security_group_change_ingress_egress": {"aws.exfiltration.ec2-security-group-open-port-22-ingress.json:AuthorizeSecurityGroupIngress"},
	"aws_cloudtrail_vpc_flow_logs_deleted":                {"aws.defense-evasion.vpc-remove-flow-logs.json:DeleteFlowLogs"},
	// The rule's filter compares with the literal text "responseElements.accessKey.userName", so it
	// never filters: both key creations fire (trailwatch's own rule uses fieldref).
	"aws_iam_backdoor_users_keys":      {"aws.persistence.iam-backdoor-user.json:CreateAccessKey", "aws.persistence.iam-create-admin-user.json:CreateAccessKey"},
	"aws_new_lambda_layer_attached":    {"aws.persistence.lambda-layer-extension.json:UpdateFunctionConfiguration20150331v2"},
	"aws_snapshot_backup_exfiltration": {"aws.exfiltration.ec2-share-ebs-snapshot.json:ModifySnapshotAttribute"},
	// Any call from a role session whose issuer is a role: broad by design.
	"aws_sts_assumerole_misuse": {"aws.credential-access.ec2-get-password-data.json:GetPasswordData",
		"aws.credential-access.ec2-steal-instance-credentials.json:DescribeInstances",
		"aws.credential-access.ec2-steal-instance-credentials.json:GetCallerIdentity",
		"aws.defense-evasion.organizations-leave.json:LeaveOrganization",
		"aws.discovery.ec2-download-user-data.json:DescribeInstanceAttribute",
		"aws.execution.ec2-launch-unusual-instances.json:RunInstances",
		"aws.impact.bedrock-invoke-model.json:CreateFoundationModelAgreement",
		"aws.impact.bedrock-invoke-model.json:GetFoundationModelAvailability",
		"aws.impact.bedrock-invoke-model.json:InvokeModel",
		"aws.impact.bedrock-invoke-model.json:ListFoundationModelAgreementOffers",
		"aws.impact.bedrock-invoke-model.json:PutFoundationModelEntitlement",
		"aws.impact.bedrock-invoke-model.json:PutUseCaseForModelAccess",
		"aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json:EnableSerialConsoleAccess",
		"aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json:SendSerialConsoleSSHPublicKey"},
	"aws_update_login_profile": {"aws.privilege-escalation.iam-update-user-login-profile.json:UpdateLoginProfile"},
}

// TestSigmaHQRules loads every SigmaHQ CloudTrail rule unchanged, compiles it, and runs it over the real
// events in testdata/cloudtrail through the ingest path.
func TestSigmaHQRules(t *testing.T) {
	ctx := context.Background()
	rules, problems := rulefmt.LoadFS(os.DirFS("testdata/sigmahq"), ".", "testdata/sigmahq/")
	if len(problems) > 0 {
		t.Fatalf("load:\n%v", problems)
	}
	if len(rules) < 29 {
		t.Fatalf("loaded %d rules, want 29", len(rules))
	}
	set, problems := engine.Compile(rules, sigma.DuckDB{}, sigma.DefaultParams())
	if len(problems) > 0 {
		t.Fatalf("compile:\n%v", problems)
	}
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "t.duckdb"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src, err := source.NewLocal("../../testdata/cloudtrail")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Ingest(ctx, src, store.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	findings, _, err := set.Detect(ctx, st.DB, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	seen := map[string]bool{}
	for _, f := range findings {
		name := strings.TrimSuffix(filepath.Base(f.Rule.Pos.File), ".yml")
		hit := filepath.Base(f.Object) + ":" + f.EventName
		if !seen[name+" "+hit] {
			seen[name+" "+hit] = true
			got[name] = append(got[name], hit)
		}
	}
	var names []string
	for n := range got {
		sort.Strings(got[n])
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%q: {%q},\n", n, strings.Join(got[n], `", "`))
	}
	t.Logf("fired:\n%s", b.String())
	for n, want := range sigmaHQFires {
		if strings.Join(got[n], "|") != strings.Join(want, "|") {
			t.Errorf("%s fired on %v, want %v", n, got[n], want)
		}
	}
	for n := range got {
		if _, ok := sigmaHQFires[n]; !ok {
			t.Errorf("%s fired on %v, want nothing", n, got[n])
		}
	}
}
