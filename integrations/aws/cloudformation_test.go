package aws_test

import (
	"errors"
	"strings"
	"testing"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/provision"
)

const cfnTemplate = `{
  "Resources": {
    "VPC": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.1.0.0/16"}},
    "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "VPC"}, "CidrBlock": "10.1.1.0/24", "AvailabilityZone": "eu-west-1a"}},
    "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "hosts", "VpcId": {"Ref": "VPC"},
      "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.1.0.0/16"}]}},
    "Host": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "%AMI%", "InstanceType": "t3.micro", "SubnetId": {"Ref": "Subnet"},
      "Tags": [{"Key": "Name", "Value": {"Fn::Sub": "${AWS::StackName}-host"}}]}}
  },
  "Outputs": {
    "HostIp": {"Description": "host", "Value": {"Fn::GetAtt": ["Host", "PrivateIp"]}},
    "HostZone": {"Value": {"Fn::Sub": "${Host.AvailabilityZone}"}}
  }
}`

func tpl(ami string) string { return strings.ReplaceAll(cfnTemplate, "%AMI%", ami) }

// A CREATE change set lists every resource as Add; executing it builds the
// stack with resolved outputs; changing the AMI replaces the instance; an
// unchanged template gives an empty change set.
func TestCloudFormationChangeSetLifecycle(t *testing.T) {
	e := newEnv(t, awsemu.Options{})
	ctx := ctxT(t)
	if _, err := e.acct.Stack(ctx, "s1"); !errors.Is(err, mcaws.ErrNoStack) {
		t.Fatalf("Stack before create: %v, want ErrNoStack", err)
	}
	if _, err := e.acct.CreateChangeSet(ctx, mcaws.ChangeSetRequest{Stack: "s1", Name: "c1", Template: tpl("ami-11111111"), Create: true}); err != nil {
		t.Fatal(err)
	}
	cs, err := e.acct.WaitChangeSet(ctx, "s1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(cs.Changes), 4; got != want || cs.ExecutionStatus != "AVAILABLE" {
		t.Fatalf("changes = %d (%s), want %d AVAILABLE: %+v", got, cs.ExecutionStatus, want, cs)
	}
	if err := e.acct.ExecuteChangeSet(ctx, "s1", "c1"); err != nil {
		t.Fatal(err)
	}
	st, err := e.acct.Stack(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "CREATE_COMPLETE" || !strings.HasPrefix(st.Outputs["HostIp"], "10.1.1.") || st.Outputs["HostZone"] != "eu-west-1a" {
		t.Fatalf("stack = %+v", st)
	}
	evs, err := e.acct.StackEvents(ctx, "s1", "")
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.LogicalID != "s1" || last.Status != "CREATE_COMPLETE" {
		t.Fatalf("last event = %+v", last)
	}

	if _, err := e.acct.CreateChangeSet(ctx, mcaws.ChangeSetRequest{Stack: "s1", Name: "c2", Template: tpl("ami-22222222")}); err != nil {
		t.Fatal(err)
	}
	cs, err = e.acct.WaitChangeSet(ctx, "s1", "c2")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Changes) != 1 || cs.Changes[0].LogicalID != "Host" || cs.Changes[0].Replacement != "True" || cs.Changes[0].Properties[0] != "ImageId" {
		t.Fatalf("AMI change = %+v", cs.Changes)
	}
	if _, err := e.acct.CreateChangeSet(ctx, mcaws.ChangeSetRequest{Stack: "s1", Name: "c3", Template: tpl("ami-11111111")}); err != nil {
		t.Fatal(err)
	}
	if cs, err = e.acct.WaitChangeSet(ctx, "s1", "c3"); err != nil || !cs.Empty() {
		t.Fatalf("unchanged template: %+v, %v; want an empty change set", cs, err)
	}

	// Drift: a rule added behind the stack's back.
	if err := e.emu.AuthorizeIngressBehindBack(e.emu.StackResource("s1", "Group"), 22, "0.0.0.0/0"); err != nil {
		t.Fatal(err)
	}
	drift, err := e.acct.DetectDrift(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if len(drift) != 1 || drift[0].LogicalID != "Group" || drift[0].Properties[0].Kind != "ADD" || !strings.Contains(drift[0].Properties[0].Actual, "0.0.0.0/0") {
		t.Fatalf("drift = %+v", drift)
	}
	out, err := e.acct.ConsoleOutput(ctx, e.emu.StackResource("s1", "Host"))
	if err != nil || !strings.Contains(out, "BEGIN SSH HOST KEY KEYS") {
		t.Fatalf("console output = %q, %v", out, err)
	}
}

// A failed resource rolls a create back and names the resource and reason.
func TestCloudFormationFailureRollsBack(t *testing.T) {
	e := newEnv(t, awsemu.Options{})
	ctx := ctxT(t)
	e.emu.FailResource("s2", "Host", "We currently do not have sufficient t3.micro capacity")
	if _, err := e.acct.CreateChangeSet(ctx, mcaws.ChangeSetRequest{Stack: "s2", Name: "c1", Template: tpl("ami-11111111"), Create: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acct.WaitChangeSet(ctx, "s2", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := e.acct.ExecuteChangeSet(ctx, "s2", "c1"); err != nil {
		t.Fatal(err)
	}
	st, err := e.acct.Stack(ctx, "s2")
	if err != nil || st.Status != "ROLLBACK_COMPLETE" {
		t.Fatalf("stack = %+v, %v", st, err)
	}
	evs, _ := e.acct.StackEvents(ctx, "s2", "")
	var failed string
	for _, ev := range evs {
		if ev.Status == "CREATE_FAILED" {
			failed = ev.LogicalID + ": " + ev.Reason
		}
	}
	if !strings.Contains(failed, "Host: We currently do not have sufficient") {
		t.Fatalf("failed event = %q", failed)
	}
	if n := e.emu.StackResourceCount("AWS::EC2::VPC"); n != 0 {
		t.Fatalf("%d VPCs left after rollback", n)
	}
	if err := e.acct.ExecuteChangeSet(ctx, "s2", "c1"); !mcaws.IsCode(err, "InvalidChangeSetStatus") {
		t.Fatalf("second execute: %v, want InvalidChangeSetStatus", err)
	}
}

// The stack policy mcloud sets denies replacing a volume unless the
// change set executing is one the policy lets through by logical id.
func TestCloudFormationStackPolicyGuardsVolumes(t *testing.T) {
	e := newEnv(t, awsemu.Options{})
	ctx := ctxT(t)
	vol := func(az string) string {
		return `{"Resources": {"Data": {"Type": "AWS::EC2::Volume", "Properties": {"AvailabilityZone": "` + az + `", "Size": 10}}}}`
	}
	apply := func(name, body string, create bool) string {
		t.Helper()
		if _, err := e.acct.CreateChangeSet(ctx, mcaws.ChangeSetRequest{Stack: "s3", Name: name, Template: body, Create: create}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.acct.WaitChangeSet(ctx, "s3", name); err != nil {
			t.Fatal(err)
		}
		if err := e.acct.ExecuteChangeSet(ctx, "s3", name); err != nil {
			t.Fatal(err)
		}
		st, err := e.acct.Stack(ctx, "s3")
		if err != nil {
			t.Fatal(err)
		}
		return st.Status
	}
	if got := apply("c1", vol("eu-west-1a"), true); got != "CREATE_COMPLETE" {
		t.Fatalf("create: %s", got)
	}
	if err := e.acct.SetStackPolicy(ctx, "s3", provision.StackPolicy(nil)); err != nil {
		t.Fatal(err)
	}
	if got := apply("c2", vol("eu-west-1b"), false); got != "UPDATE_ROLLBACK_COMPLETE" {
		t.Fatalf("replacing the volume under the deny policy: %s, want UPDATE_ROLLBACK_COMPLETE", got)
	}
	evs, _ := e.acct.StackEvents(ctx, "s3", "")
	denied := false
	for _, ev := range evs {
		denied = denied || (ev.LogicalID == "Data" && strings.Contains(ev.Reason, "Action denied by stack policy"))
	}
	if !denied {
		t.Fatalf("no policy denial in the events: %+v", evs)
	}
	if err := e.acct.SetStackPolicy(ctx, "s3", provision.StackPolicy([]string{"Data"})); err != nil {
		t.Fatal(err)
	}
	if got := apply("c3", vol("eu-west-1b"), false); got != "UPDATE_COMPLETE" {
		t.Fatalf("replacing the volume the policy lets through: %s", got)
	}
}
