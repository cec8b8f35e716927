package provision_test

import (
	"testing"

	"github.com/mcloud/mcloud/provision"
)

func TestDescribe(t *testing.T) {
	hosts := map[string]string{"HostXProdApim1": "x-prod-apim-1"}
	for _, c := range []struct {
		in   provision.Change
		want string
		two  bool
	}{
		{provision.Change{Action: "Add", LogicalID: "VPC", Type: "AWS::EC2::VPC"}, "creates the VPC", false},
		{provision.Change{Action: "Modify", LogicalID: "Bastion", Type: "AWS::EC2::Instance", Replacement: "True", Properties: []string{"ImageId"}},
			"replaces the bastion instance: it gets a new address and host key (ImageId)", false},
		{provision.Change{Action: "Modify", LogicalID: "HostXProdApim1", Type: "AWS::EC2::Instance", Replacement: "False", Properties: []string{"InstanceType"}},
			"changes instance x-prod-apim-1 in place (InstanceType)", false},
		{provision.Change{Action: "Modify", LogicalID: "HostXProdApim1Data", Type: "AWS::EC2::Volume", Replacement: "True", Properties: []string{"AvailabilityZone"}},
			"replaces volume of x-prod-apim-1 (HostXProdApim1Data): a new, empty volume; the old one's data is gone unless restored from a snapshot (AvailabilityZone)", true},
		{provision.Change{Action: "Modify", LogicalID: "HostXProdApim1Data", Type: "AWS::EC2::Volume", Replacement: "False", Properties: []string{"Size"}},
			"changes volume of x-prod-apim-1 (HostXProdApim1Data) in place (Size)", false},
		{provision.Change{Action: "Remove", LogicalID: "Db", Type: "AWS::RDS::DBInstance"}, "removes database Db and everything on it", true},
		{provision.Change{Action: "Modify", LogicalID: "Zone", Type: "AWS::Route53::HostedZone", Replacement: "Conditional", Properties: []string{"Name"}},
			"changes private hosted zone Zone (Name); CloudFormation may have to replace it: every record is recreated under a new zone id", true},
		{provision.Change{Action: "Add", LogicalID: "Db", Type: "AWS::RDS::DBInstance"}, "creates database Db", false},
		{provision.Change{Action: "Modify", LogicalID: "Database", Type: "AWS::RDS::DBInstance", Replacement: "True", Properties: []string{"DBName"}},
			"replaces the database: a new, empty database; restore it from a snapshot (DBName)", true},
		{provision.Change{Action: "Modify", LogicalID: "Database", Type: "AWS::RDS::DBInstance", Replacement: "False", Properties: []string{"DBInstanceClass"}},
			"changes the database in place (DBInstanceClass)", false},
		{provision.Change{Action: "Add", LogicalID: "DatabaseSubnetGroup", Type: "AWS::RDS::DBSubnetGroup"}, "creates the database subnet group", false},
	} {
		if got := provision.Describe(c.in, hosts); got != c.want {
			t.Errorf("Describe(%+v)\n got %q\nwant %q", c.in, got, c.want)
		}
		if got := provision.Destructive(c.in); got != c.two {
			t.Errorf("Destructive(%+v) = %v, want %v", c.in, got, c.two)
		}
	}
	if got, want := provision.Summary(nil), "nothing to change"; got != want {
		t.Errorf("Summary(nil) = %q", got)
	}
	if got, want := provision.Summary([]provision.Change{{Action: "Add"}, {Action: "Add"}, {Action: "Modify", Replacement: "True"}}), "creates 2, replaces 1 resources"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}
