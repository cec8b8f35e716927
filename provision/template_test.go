package provision_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/provision"
)

var update = flag.Bool("update", false, "rewrite the golden templates")

func mustConfig(tb testing.TB) *config.Config {
	tb.Helper()
	cfg, err := config.Load("testdata/mcloud.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

func render(tb testing.TB, cfg *config.Config, customer, env string) []byte {
	tb.Helper()
	cu := cfg.Customer(customer)
	b, err := provision.Render(cfg, cu, cu.Env(env))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// The rendered templates are reviewed as golden files: a change to the
// renderer shows up as a diff of what CloudFormation will be asked to build.
func TestRenderGolden(t *testing.T) {
	cfg := mustConfig(t)
	for _, c := range []struct{ customer, env string }{{"customer-x", "staging"}, {"customer-y", "dev"}} {
		t.Run(c.customer+"-"+c.env, func(t *testing.T) {
			got := render(t, cfg, c.customer, c.env)
			path := filepath.Join("testdata", c.customer+"-"+c.env+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("rendered template differs from %s; run go test ./provision -update and review the diff", path)
			}
			if again := render(t, cfg, c.customer, c.env); string(again) != string(got) {
				t.Error("rendering twice gave different bytes: CloudFormation would see a change every time")
			}
		})
	}
}

// Every resource type is one the emulator can create, and every Ref,
// Fn::GetAtt and Fn::Sub names something that exists (cfn-lint is not
// available here).
func TestRenderedTemplatesAreValid(t *testing.T) {
	cfg := mustConfig(t)
	known := awsemu.ResourceTypes()
	for _, c := range []struct{ customer, env string }{{"customer-x", "staging"}, {"customer-y", "dev"}} {
		if p := provision.Check(render(t, cfg, c.customer, c.env), known); len(p) > 0 {
			t.Errorf("%s/%s:\n%s", c.customer, c.env, strings.Join(p, "\n"))
		}
	}
}

// What the template says about the network, in the words of the issue.
func TestRenderNetworkRules(t *testing.T) {
	cfg := mustConfig(t)
	x := string(render(t, cfg, "customer-x", "staging"))
	y := string(render(t, cfg, "customer-y", "dev"))
	for _, want := range []string{
		`"CidrIp": "203.0.113.0/24"`, `"FromPort": 2222`, // bastion: the SSH port from team.cidrs only
		`"SourceSecurityGroupId": {`,                   // hosts: SSH from the bastion's group only
		`"FromPort": 5666`, `"CidrIp": "10.20.4.0/24"`, // NRPE from the monitoring subnets
		`"CidrBlock": "10.20.5.0/24"`, // 2 AZs x 3 tiers: the last /24 is .5
		`"Type": "AWS::SES::EmailIdentity"`, `"Name": "x-staging-apim-1.staging.customer-x.internal."`,
		`"InstanceType": "m5.xlarge"`, `"Size": 200`, `"Key": "mcloud:host"`,
	} {
		if !strings.Contains(x, want) {
			t.Errorf("customer-x staging template lacks %s", want)
		}
	}
	for _, want := range []string{`"CidrIp": "192.0.2.10/32"`, `"AvailabilityZone": "us-east-1c"`} {
		if !strings.Contains(y, want) {
			t.Errorf("customer-y dev template lacks %s", want)
		}
	}
	for _, not := range []string{`"Bastion"`, `AWS::Route53::HostedZone`, `"CidrIp": "203.0.113.0/24"`} {
		if strings.Contains(y, not) {
			t.Errorf("customer-y dev (external bastion and DNS) template has %s", not)
		}
	}
}

// An environment that declares a database gets an RDS instance in its
// private subnets that only the hosts' security group reaches, which keeps
// a snapshot when removed or replaced, with its endpoint in the outputs;
// one that declares none gets no database resources.
func TestRenderDatabase(t *testing.T) {
	cfg := mustConfig(t)
	x := string(render(t, cfg, "customer-x", "staging"))
	for _, want := range []string{
		`"Type": "AWS::RDS::DBInstance"`, `"Engine": "mysql"`, `"DBInstanceClass": "db.t3.medium"`, `"AllocatedStorage": "20"`, `"DBName": "apim"`,
		`"Type": "AWS::RDS::DBSubnetGroup"`, `"SubnetIds": [
          {
            "Ref": "PrivateSubnetA"
          },
          {
            "Ref": "PrivateSubnetB"
          }`,
		`"FromPort": 3306`, `"Description": "mysql from the hosts only"`,
		`"DeletionPolicy": "Snapshot"`, `"UpdateReplacePolicy": "Snapshot"`, `"ManageMasterUserPassword": true`, `"PubliclyAccessible": false`,
		`"DatabaseEndpoint"`, `"Endpoint.Address"`,
	} {
		if !strings.Contains(x, want) {
			t.Errorf("customer-x staging template lacks %s", want)
		}
	}
	tpl, err := provision.Parse([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := tpl.Resources["DatabaseSecurityGroup"].Properties["SecurityGroupIngress"].([]any)
	if len(rules) != 1 || fmt.Sprint(rules[0]) != "map[Description:mysql from the hosts only FromPort:3306 IpProtocol:tcp SourceSecurityGroupId:map[Ref:HostsSecurityGroup] ToPort:3306]" {
		t.Errorf("the database's security group lets in %v, want 3306 from the hosts' security group only", rules)
	}
	if got := fmt.Sprint(tpl.Resources["Database"].Properties["VPCSecurityGroups"]); got != "[map[Ref:DatabaseSecurityGroup]]" {
		t.Errorf("the database is in security groups %s", got)
	}
	if y := string(render(t, cfg, "customer-y", "dev")); strings.Contains(y, "AWS::RDS::") || strings.Contains(y, "Database") {
		t.Error("customer-y dev declares no database but its template has one")
	}
}

func TestCheckFindsBrokenReferences(t *testing.T) {
	tpl := `{"Parameters": {"Size": {"Type": "Number"}},
	 "Resources": {
	  "A": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Ref": "Nope"}}},
	  "B": {"Type": "AWS::EC2::Subnet", "DependsOn": "Gone", "Properties": {"VpcId": {"Fn::GetAtt": ["A", "Colour"]}, "CidrBlock": {"Fn::Sub": "${Missing}-${AWS::Region}-${Size}"}}},
	  "C": {"Type": "AWS::Lambda::Function", "Properties": {}}},
	 "Outputs": {"O": {"Value": {"Fn::GetAtt": "Z.Id"}}}}`
	got := strings.Join(provision.Check([]byte(tpl), awsemu.ResourceTypes()), "\n")
	for _, want := range []string{
		"resource A: Ref Nope names no resource or parameter",
		"resource B: Fn::GetAtt A.Colour: AWS::EC2::VPC has no attribute Colour",
		"resource B: Fn::Sub ${Missing} names no resource or parameter",
		"resource B: DependsOn Gone names no resource",
		`resource C: type "AWS::Lambda::Function" is not one mcloud's AWS emulator knows`,
		"output O: Fn::GetAtt Z.Id names no resource",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Check missed %q; got:\n%s", want, got)
		}
	}
	if strings.Contains(got, "AWS::Region") || strings.Contains(got, "${Size}") {
		t.Errorf("Check complained about a pseudo parameter or a parameter:\n%s", got)
	}
}
