package commands

import (
	"strings"
	"testing"

	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/store"
)

func TestFillHosts(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq1aVzR2m0pYc6bX8bYF1tJ9C3m1rjJ6lH6lO8lXbQX"
	inv := []store.InventoryHost{
		{Host: "a", Address: "10.0.1.4", HostKey: key},
		{Host: "b", Address: "10.0.1.5", HostKey: key},
		{Host: "c", Address: "10.0.1.6", KeyProblem: "no keys printed"},
		{Host: "d", Address: "10.0.1.7", HostKey: key},
	}
	hosts := []config.Host{
		{Name: "a"},                       // provisioned: address and key from the inventory
		{Name: "b", Address: "192.0.2.1"}, // configured elsewhere: the configuration wins, no key taken
		{Name: "c"},                       // key unreadable: address only, so SSH refuses it
		{Name: "d", Address: "10.0.1.7", HostKey: "ssh-rsa AAAA"}, // configured key wins
		{Name: "e"}, // not built
	}
	got := fillHosts(hosts, inv)
	want := []config.Host{
		{Name: "a", Address: "10.0.1.4", HostKey: key},
		{Name: "b", Address: "192.0.2.1"},
		{Name: "c", Address: "10.0.1.6"},
		{Name: "d", Address: "10.0.1.7", HostKey: "ssh-rsa AAAA"},
		{Name: "e"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("host %s = %+v, want %+v", want[i].Name, got[i], want[i])
		}
	}
	if hosts[0].Address != "" {
		t.Error("fillHosts changed the configuration's hosts")
	}
}

func TestHostKeyFromConsole(t *testing.T) {
	const ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq1aVzR2m0pYc6bX8bYF1tJ9C3m1rjJ6lH6lO8lXbQX"
	for _, c := range []struct{ name, out, want, err string }{
		{"cloud-init block", "boot\n-----BEGIN SSH HOST KEY KEYS-----\n" + ed + " root@ip-10-0-1-4\n-----END SSH HOST KEY KEYS-----\nlogin:", ed, ""},
		{"no block", "boot\nlogin:", "", "shows no SSH host keys"},
		{"cut short", "-----BEGIN SSH HOST KEY KEYS-----\n" + ed, "", "cut short"},
		{"garbage", "-----BEGIN SSH HOST KEY KEYS-----\nnot a key\n-----END SSH HOST KEY KEYS-----", "", "no readable key"},
		// A key printed outside cloud-init's block is not trusted.
		{"key outside block", ed + "\n", "", "shows no SSH host keys"},
	} {
		got, err := HostKeyFromConsole(c.out)
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !contains(err.Error(), c.err)) {
			t.Errorf("%s: got %q, %v; want %q, error with %q", c.name, got, err, c.want, c.err)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestDriftLines(t *testing.T) {
	got := driftLines([]aws.ResourceDrift{
		{LogicalID: "HostsSecurityGroup", PhysicalID: "sg-1", Type: "AWS::EC2::SecurityGroup", Status: "MODIFIED", Properties: []aws.PropertyDrift{
			{Path: "/SecurityGroupIngress/3", Expected: "null", Actual: `{"CidrIp":"0.0.0.0/0","FromPort":22,"IpProtocol":"tcp","ToPort":22}`, Kind: "ADD"},
			{Path: "/SecurityGroupIngress/1", Expected: `{"CidrIp":"10.20.4.0/24","FromPort":5666,"IpProtocol":"tcp","ToPort":5666}`, Actual: "null", Kind: "REMOVE"},
		}},
		{LogicalID: "HostA", Type: "AWS::EC2::Instance", Status: "MODIFIED", Properties: []aws.PropertyDrift{{Path: "/InstanceType", Expected: `"t3.medium"`, Actual: `"t3.large"`, Kind: "NOT_EQUAL"}}},
		{LogicalID: "Zone", Type: "AWS::Route53::HostedZone", Status: "DELETED"},
	}, map[string]string{"HostA": "a"})
	want := []string{
		"security group HostsSecurityGroup (sg-1): inbound 0.0.0.0/0:22 added outside mcloud",
		"security group HostsSecurityGroup (sg-1): inbound 10.20.4.0/24:5666 removed outside mcloud",
		`instance a: InstanceType is "t3.large", mcloud set "t3.medium"`,
		"private hosted zone Zone: deleted outside mcloud",
	}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// Hosts a provisioned environment has not built yet have no address:
// run and patch refuse them in one sentence before anything is dialed.
func TestUnbuiltHosts(t *testing.T) {
	cu := &config.Customer{Name: "customer-x"}
	env := &config.Environment{Name: "staging", Provision: &config.Provision{}}
	for _, tc := range []struct {
		hosts []config.Host
		want  string
	}{
		{[]config.Host{{Name: "a", Address: "10.0.1.4"}}, ""},
		{[]config.Host{{Name: "a", Address: "10.0.1.4"}, {Name: "b"}},
			"b has no address yet: customer-x/staging has not been provisioned; run /mcloud provision customer-x staging first."},
		{[]config.Host{{Name: "a"}, {Name: "b"}},
			"a, b have no address yet: customer-x/staging has not been provisioned; run /mcloud provision customer-x staging first."},
	} {
		err := unbuilt(cu, env, tc.hosts)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%v: %q, want %q", tc.hosts, got, tc.want)
		}
	}
}

// The stack's events, grouped per outcome: a resource CloudFormation
// builds anew in an update is "replaced", not "updated".
func TestGroupEvents(t *testing.T) {
	const replacing = "Requested update requires the creation of a new physical resource; hence creating one."
	for _, c := range []struct {
		evs  []aws.StackEvent
		want string
	}{
		{[]aws.StackEvent{
			{LogicalID: "Database", Type: "AWS::RDS::DBInstance", Status: "UPDATE_IN_PROGRESS", Reason: replacing},
			{LogicalID: "Database", Type: "AWS::RDS::DBInstance", Status: "UPDATE_COMPLETE"},
			{LogicalID: "DatabaseSecurityGroup", Type: "AWS::EC2::SecurityGroup", Status: "UPDATE_IN_PROGRESS"},
			{LogicalID: "DatabaseSecurityGroup", Type: "AWS::EC2::SecurityGroup", Status: "UPDATE_COMPLETE"},
		}, "Stack progress: replaced 1: the database; updated 1: security group DatabaseSecurityGroup"},
		{[]aws.StackEvent{
			{LogicalID: "VPC", Type: "AWS::EC2::VPC", Status: "CREATE_COMPLETE"},
			{LogicalID: "ReportsDb", Type: "AWS::RDS::DBInstance", Status: "DELETE_COMPLETE"},
			{LogicalID: "mcloud-x", Type: "AWS::CloudFormation::Stack", Status: "UPDATE_COMPLETE"},
		}, "Stack progress: created 1: the VPC; deleted 1: database ReportsDb"},
		{nil, ""},
	} {
		if got := groupEvents(c.evs, nil); got != c.want {
			t.Errorf("groupEvents\n got %q\nwant %q", got, c.want)
		}
	}
}
