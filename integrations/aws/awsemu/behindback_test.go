package awsemu_test

import (
	"context"
	"strings"
	"testing"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

const hostTemplate = `{"Resources": {
  "VPC": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
  "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "VPC"}, "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "us-east-1a"}},
  "Host": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "ami-0abc12345def67890", "InstanceType": "t3.micro", "SubnetId": {"Ref": "Subnet"},
    "Tags": [{"Key": "mcloud:host", "Value": "h1"}]}}},
 "Outputs": {"HostId": {"Value": {"Ref": "Host"}}, "HostIp": {"Value": {"Fn::GetAtt": ["Host", "PrivateIp"]}}}}`

func applyTemplate(t *testing.T, acct *mcaws.Account, name string, create bool) mcaws.Stack {
	t.Helper()
	ctx := context.Background()
	if _, err := acct.CreateChangeSet(ctx, mcaws.ChangeSetRequest{Stack: "s", Name: name, Template: hostTemplate, Create: create}); err != nil {
		t.Fatal(err)
	}
	if _, err := acct.WaitChangeSet(ctx, "s", name); err != nil {
		t.Fatal(err)
	}
	if err := acct.ExecuteChangeSet(ctx, "s", name); err != nil {
		t.Fatal(err)
	}
	st, err := acct.Stack(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The embedder that stands in for an instance's machine says which host
// key its sshd presents; the console output shows that key where
// cloud-init prints it.
func TestMachineChoosesTheConsoleHostKey(t *testing.T) {
	emu, acct := start(t, awsemu.Options{})
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq1aVzR2m0pYc6bX8bYF1tJ9C3m1rjJ6lH6lO8lXbQX"
	var booted []awsemu.Machine
	emu.SetMachines(func(m *awsemu.Machine) {
		if m.Kind == "instance" {
			booted = append(booted, *m)
			m.HostKey = key
		}
	})
	st := applyTemplate(t, acct, "create", true)
	if len(booted) != 1 || booted[0].Tags["mcloud:host"] != "h1" || booted[0].Address != st.Outputs["HostIp"] {
		t.Fatalf("booted %+v, stack outputs %v", booted, st.Outputs)
	}
	out, err := acct.ConsoleOutput(context.Background(), st.Outputs["HostId"])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "-----BEGIN SSH HOST KEY KEYS-----\n"+key+" ") {
		t.Fatalf("console output:\n%s", out)
	}
}

// A resource added by someone's own CloudFormation update is in the stack:
// a change set made before it is obsolete, and the next change set of the
// template without it removes it.
func TestAddResourceBehindBack(t *testing.T) {
	emu, acct := start(t, awsemu.Options{})
	ctx := context.Background()
	applyTemplate(t, acct, "create", true)
	// A plan made before the outside update.
	if _, err := acct.CreateChangeSet(ctx, mcaws.ChangeSetRequest{Stack: "s", Name: "before",
		Template: strings.Replace(hostTemplate, "t3.micro", "t3.small", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := emu.AddResourceBehindBack("s", "Db", "AWS::RDS::DBInstance", map[string]any{"DBInstanceIdentifier": "reports", "Engine": "postgres"}); err != nil {
		t.Fatal(err)
	}
	if got := emu.StackResource("s", "Db"); got != "reports" {
		t.Fatalf("Db is %q", got)
	}
	if err := acct.ExecuteChangeSet(ctx, "s", "before"); err == nil || !strings.Contains(err.Error(), "OBSOLETE") {
		t.Fatalf("executing a change set made before the outside update: %v", err)
	}
	if _, err := acct.CreateChangeSet(ctx, mcaws.ChangeSetRequest{Stack: "s", Name: "after", Template: hostTemplate}); err != nil {
		t.Fatal(err)
	}
	cs, err := acct.WaitChangeSet(ctx, "s", "after")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Changes) != 1 || cs.Changes[0].Action != "Remove" || cs.Changes[0].LogicalID != "Db" || cs.Changes[0].Type != "AWS::RDS::DBInstance" {
		t.Fatalf("changes %+v", cs.Changes)
	}
	if err := emu.AddResourceBehindBack("nope", "Db", "AWS::RDS::DBInstance", nil); err == nil {
		t.Fatal("added a resource to a stack that does not exist")
	}
}
