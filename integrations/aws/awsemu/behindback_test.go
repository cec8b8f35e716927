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

const dbTemplate = `{"Resources": {
  "Subnets": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {"DBSubnetGroupDescription": "private", "SubnetIds": ["subnet-1", "subnet-2"]}},
  "Db": {"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot",
    "Properties": {"Engine": "mysql", "DBInstanceClass": "db.t3.medium", "AllocatedStorage": "20", "DBName": "apim", "DBSubnetGroupName": {"Ref": "Subnets"}}}},
 "Outputs": {"Endpoint": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}}, "Port": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Port"]}}}}`

// A change set says a database is replaced for the properties AWS
// documents as "Update requires: Replacement" (DBName, Engine, ...) and
// changed in place for the others (DBInstanceClass, AllocatedStorage).
func TestDBInstanceReplacementRules(t *testing.T) {
	_, acct := start(t, awsemu.Options{})
	ctx := context.Background()
	plan := func(name, tpl string, create bool) mcaws.ChangeSet {
		t.Helper()
		if _, err := acct.CreateChangeSet(ctx, mcaws.ChangeSetRequest{Stack: "db", Name: name, Template: tpl, Create: create}); err != nil {
			t.Fatal(err)
		}
		cs, err := acct.WaitChangeSet(ctx, "db", name)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	plan("create", dbTemplate, true)
	if err := acct.ExecuteChangeSet(ctx, "db", "create"); err != nil {
		t.Fatal(err)
	}
	st, err := acct.Stack(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if st.Outputs["Port"] != "3306" || !strings.HasSuffix(st.Outputs["Endpoint"], ".rds.amazonaws.com") {
		t.Fatalf("mysql outputs %v", st.Outputs)
	}
	for i, c := range []struct{ from, to, replacement string }{
		{`"DBName": "apim"`, `"DBName": "apim2"`, "True"},
		{`"Engine": "mysql"`, `"Engine": "postgres"`, "True"},
		{`"Properties": {"Engine"`, `"Properties": {"StorageEncrypted": true, "Engine"`, "True"},
		{`"Properties": {"Engine"`, `"Properties": {"KmsKeyId": "alias/db", "Engine"`, "True"},
		{`"Properties": {"Engine"`, `"Properties": {"AvailabilityZone": "us-east-1b", "Engine"`, "True"},
		{`"db.t3.medium"`, `"db.t3.large"`, "False"},
		{`"AllocatedStorage": "20"`, `"AllocatedStorage": "50"`, "False"},
	} {
		cs := plan("cs"+strings.Repeat("x", i), strings.Replace(dbTemplate, c.from, c.to, 1), false)
		if len(cs.Changes) != 1 || cs.Changes[0].LogicalID != "Db" || cs.Changes[0].Action != "Modify" || cs.Changes[0].Replacement != c.replacement {
			t.Errorf("%s → %s: changes %+v, want Db Modify with Replacement %s", c.from, c.to, cs.Changes, c.replacement)
		}
	}
}

// Someone's own CloudFormation update that renames the database replaces
// it (a new physical instance); the next change set of the template that
// names the old database replaces it again.
func TestChangeResourceBehindBack(t *testing.T) {
	emu, acct := start(t, awsemu.Options{})
	ctx := context.Background()
	if _, err := acct.CreateChangeSet(ctx, mcaws.ChangeSetRequest{Stack: "db", Name: "create", Template: dbTemplate, Create: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := acct.WaitChangeSet(ctx, "db", "create"); err != nil {
		t.Fatal(err)
	}
	if err := acct.ExecuteChangeSet(ctx, "db", "create"); err != nil {
		t.Fatal(err)
	}
	before := emu.StackResource("db", "Db")
	replaced, err := emu.ChangeResourceBehindBack("db", "Db", map[string]any{"DBName": "apim_v2"})
	if err != nil || !replaced {
		t.Fatalf("renaming the database: replaced=%v, %v", replaced, err)
	}
	if after := emu.StackResource("db", "Db"); after == before || after == "" {
		t.Fatalf("the renamed database is still %q (was %q)", after, before)
	}
	if _, err := acct.CreateChangeSet(ctx, mcaws.ChangeSetRequest{Stack: "db", Name: "back", Template: dbTemplate}); err != nil {
		t.Fatal(err)
	}
	cs, err := acct.WaitChangeSet(ctx, "db", "back")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Changes) != 1 || cs.Changes[0].Replacement != "True" || strings.Join(cs.Changes[0].Properties, ",") != "DBName" {
		t.Fatalf("changes %+v, want Db replaced for DBName", cs.Changes)
	}
	if replaced, err := emu.ChangeResourceBehindBack("db", "Db", map[string]any{"DBInstanceClass": "db.t3.large"}); err != nil || replaced {
		t.Fatalf("a new class is changed in place: replaced=%v, %v", replaced, err)
	}
	if _, err := emu.ChangeResourceBehindBack("db", "Nope", map[string]any{"DBName": "x"}); err == nil || !strings.Contains(err.Error(), "no resource Nope") {
		t.Fatalf("changing a resource the stack lacks: %v", err)
	}
}
