// Package provision renders an environment's CloudFormation template from
// mcloud.yaml and reads CloudFormation's answers back (change sets as plain
// words, outputs as inventory). It does no I/O: commands/provision.go
// drives CloudFormation with what it returns.
package provision

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/mcloud/mcloud/config"
)

// Tags mcloud puts on what it creates (the same as commands' TagCustomer...).
const (
	TagCustomer = "mcloud:customer"
	TagEnv      = "mcloud:env"
	TagHost     = "mcloud:host"
)

// NRPEPort is where Nagios NRPE listens on every host.
const NRPEPort = 5666

// Tiers are the subnet tiers, in the order their /24s are numbered.
var tiers = []string{"Public", "Private", "Monitoring"}

// StackName is the environment's stack: one per customer and environment.
func StackName(customer, env string) string { return "mcloud-" + customer + "-" + env }

// LogicalID turns a host name (lowercase, digits, dashes) into the
// CloudFormation logical id of its instance's resources: x-prod-apim-1 →
// HostXProdApim1.
func LogicalID(host string) string {
	var b strings.Builder
	b.WriteString("Host")
	up := true
	for _, r := range host {
		switch {
		case r == '-' || r == '_' || r == '.':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

type obj = map[string]any

func ref(id string) obj                  { return obj{"Ref": id} }
func getAtt(id, attr string) obj         { return obj{"Fn::GetAtt": []string{id, attr}} }
func sub(s string) obj                   { return obj{"Fn::Sub": s} }
func tag(k string, v any) obj            { return obj{"Key": k, "Value": v} }
func resource(typ string, props obj) obj { return obj{"Type": typ, "Properties": props} }

// Render returns the environment's CloudFormation template (JSON, stable
// key order, so that the same configuration renders the same bytes and
// CloudFormation sees no change). It fails for an environment without a
// provision block or with its own template, and when two hosts map to one
// logical id.
func Render(cfg *config.Config, cu *config.Customer, env *config.Environment) ([]byte, error) {
	p := env.Provision
	if p == nil {
		return nil, fmt.Errorf("%s/%s has no provision block", cu.Name, env.Name)
	}
	if p.Template != "" {
		return nil, fmt.Errorf("%s/%s brings its own template (%s)", cu.Name, env.Name, p.Template)
	}
	vpc, err := netip.ParsePrefix(p.VPCCIDR)
	if err != nil {
		return nil, fmt.Errorf("provision.vpc_cidr of %s/%s: %w", cu.Name, env.Name, err)
	}
	r := &renderer{cfg: cfg, cu: cu, env: env, p: p, vpc: vpc, res: obj{}, out: obj{}}
	if err := r.render(); err != nil {
		return nil, err
	}
	t := obj{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              fmt.Sprintf("mcloud environment %s/%s (rendered from mcloud.yaml; edits here are overwritten)", cu.Name, env.Name),
		"Resources":                r.res,
		"Outputs":                  r.out,
	}
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode template: %w", err)
	}
	return append(b, '\n'), nil
}

type renderer struct {
	cfg *config.Config
	cu  *config.Customer
	env *config.Environment
	p   *config.Provision
	vpc netip.Prefix
	res obj
	out obj
}

func (r *renderer) tags(name string, extra ...obj) []obj {
	t := []obj{tag("Name", name), tag(TagCustomer, r.cu.Name), tag(TagEnv, r.env.Name)}
	return append(t, extra...)
}

func (r *renderer) prefix() string { return r.cu.Name + "-" + r.env.Name }

// subnet is the /24 number n of the VPC (tier-major: public a, b, ...,
// private a, b, ..., monitoring a, b, ...).
func (r *renderer) subnet(tier, az int) string {
	a := r.vpc.Addr().As4()
	n := tier*len(r.p.AZs) + az
	a[2] += byte(n)
	return netip.PrefixFrom(netip.AddrFrom4(a), 24).String()
}

func azSuffix(az string) string { return strings.ToUpper(az[len(az)-1:]) }

func (r *renderer) subnetID(tier, az int) string {
	return tiers[tier] + "Subnet" + azSuffix(r.p.AZs[az])
}

func (r *renderer) render() error {
	r.network()
	r.securityGroups()
	if !r.cu.Bastion.External {
		r.res["Bastion"] = resource("AWS::EC2::Instance", obj{
			"ImageId":             r.p.Bastion.AMI,
			"InstanceType":        r.p.Bastion.InstanceType,
			"SubnetId":            ref(r.subnetID(0, 0)),
			"SecurityGroupIds":    []any{ref("BastionSecurityGroup")},
			"BlockDeviceMappings": []obj{rootVolume(r.p.Bastion.VolumeGiB)},
			"UserData":            obj{"Fn::Base64": fmt.Sprintf("#cloud-config\nwrite_files:\n  - path: /etc/ssh/sshd_config.d/mcloud.conf\n    content: \"Port %d\\n\"\nruncmd:\n  - systemctl restart ssh\n", r.cu.Bastion.Port)},
			"Tags":                r.tags(r.prefix()+"-bastion", tag(TagHost, "bastion")),
		})
		r.res["BastionAddress"] = resource("AWS::EC2::EIP", obj{"Domain": "vpc", "InstanceId": ref("Bastion"),
			"Tags": r.tags(r.prefix() + "-bastion")})
		r.out["BastionInstanceId"] = obj{"Description": "bastion", "Value": ref("Bastion")}
		r.out["BastionPublicIp"] = obj{"Description": "bastion", "Value": ref("BastionAddress")}
		r.out["BastionPrivateIp"] = obj{"Description": "bastion", "Value": getAtt("Bastion", "PrivateIp")}
	}
	ids := map[string]string{}
	for i, h := range r.env.Hosts {
		id := LogicalID(h.Name)
		if other, dup := ids[id]; dup {
			return fmt.Errorf("hosts %s and %s of %s/%s would share the CloudFormation name %s; rename one", other, h.Name, r.cu.Name, r.env.Name, id)
		}
		ids[id] = h.Name
		m := h.Machine()
		r.res[id] = resource("AWS::EC2::Instance", obj{
			"ImageId":             m.AMI,
			"InstanceType":        m.InstanceType,
			"SubnetId":            ref(r.subnetID(1, i%len(r.p.AZs))),
			"SecurityGroupIds":    []any{ref("HostsSecurityGroup")},
			"BlockDeviceMappings": []obj{rootVolume(8)},
			"Tags":                r.tags(h.Name, tag(TagHost, h.Name)),
		})
		r.res[id+"Data"] = resource("AWS::EC2::Volume", obj{
			"AvailabilityZone": getAtt(id, "AvailabilityZone"),
			"Size":             m.VolumeGiB,
			"VolumeType":       "gp3",
			"Encrypted":        true,
			"Tags":             r.tags(h.Name+"-data", tag(TagHost, h.Name)),
		})
		r.res[id+"DataAttachment"] = resource("AWS::EC2::VolumeAttachment", obj{
			"InstanceId": ref(id), "VolumeId": ref(id + "Data"), "Device": "/dev/sdf",
		})
		r.out[id+"InstanceId"] = obj{"Description": h.Name, "Value": ref(id)}
		r.out[id+"PrivateIp"] = obj{"Description": h.Name, "Value": getAtt(id, "PrivateIp")}
		if r.p.DNSZone != "" {
			r.res[id+"Record"] = resource("AWS::Route53::RecordSet", obj{
				"HostedZoneId":    ref("Zone"),
				"Name":            h.Name + "." + r.p.DNSZone + ".",
				"Type":            "A",
				"TTL":             "300",
				"ResourceRecords": []any{getAtt(id, "PrivateIp")},
			})
		}
	}
	if r.p.DNSZone != "" {
		r.res["Zone"] = resource("AWS::Route53::HostedZone", obj{
			"Name":             r.p.DNSZone + ".",
			"VPCs":             []obj{{"VPCId": ref("VPC"), "VPCRegion": ref("AWS::Region")}},
			"HostedZoneConfig": obj{"Comment": "mcloud " + r.prefix()},
			"HostedZoneTags":   r.tags(r.prefix() + "-zone"),
		})
		r.out["ZoneId"] = obj{"Description": r.p.DNSZone, "Value": ref("Zone")}
	}
	if r.p.SESDomain != "" {
		r.res["MailIdentity"] = resource("AWS::SES::EmailIdentity", obj{
			"EmailIdentity":         r.p.SESDomain,
			"DkimSigningAttributes": obj{"NextSigningKeyLength": "RSA_2048_BIT"},
		})
		for i := 1; i <= 3; i++ {
			n := strconv.Itoa(i)
			r.out["Dkim"+n] = obj{"Description": "DKIM CNAME " + n,
				"Value": sub("${MailIdentity.DkimDNSTokenName" + n + "} CNAME ${MailIdentity.DkimDNSTokenValue" + n + "}")}
		}
	}
	if r.env.Database != nil {
		r.database(*r.env.Database)
	}
	r.out["VpcId"] = obj{"Description": r.p.VPCCIDR, "Value": ref("VPC")}
	return nil
}

// database is the environment's RDS instance in the private subnets, which
// only the hosts reach. Its password is RDS's to manage (in Secrets
// Manager), so no secret is in the template. A removal or replacement
// leaves a final snapshot; there is no deletion protection, because it
// would make an approved replacement fail halfway (CloudFormation could not
// delete the old instance): the stack policy and two approvers guard it.
func (r *renderer) database(d config.Database) {
	name := r.prefix() + "-db"
	var subnets []any
	for a := range r.p.AZs {
		subnets = append(subnets, ref(r.subnetID(1, a)))
	}
	r.res["DatabaseSecurityGroup"] = resource("AWS::EC2::SecurityGroup", obj{
		"GroupDescription": "mcloud " + r.prefix() + " database: " + d.Engine + " from the hosts only",
		"GroupName":        name,
		"VpcId":            ref("VPC"),
		"SecurityGroupIngress": []obj{{"IpProtocol": "tcp", "FromPort": d.Port(), "ToPort": d.Port(),
			"SourceSecurityGroupId": ref("HostsSecurityGroup"), "Description": d.Engine + " from the hosts only"}},
		"Tags": r.tags(name),
	})
	r.res["DatabaseSubnetGroup"] = resource("AWS::RDS::DBSubnetGroup", obj{
		"DBSubnetGroupDescription": "mcloud " + r.prefix() + " database: the private subnets",
		"SubnetIds":                subnets,
		"Tags":                     r.tags(name),
	})
	db := resource("AWS::RDS::DBInstance", obj{
		"Engine":                   d.Engine,
		"DBInstanceClass":          d.Class,
		"AllocatedStorage":         strconv.Itoa(d.StorageGB),
		"StorageType":              "gp3",
		"StorageEncrypted":         true,
		"DBName":                   d.Name,
		"MasterUsername":           "mcloud",
		"ManageMasterUserPassword": true,
		"DBSubnetGroupName":        ref("DatabaseSubnetGroup"),
		"VPCSecurityGroups":        []any{ref("DatabaseSecurityGroup")},
		"PubliclyAccessible":       false,
		"BackupRetentionPeriod":    7,
		"CopyTagsToSnapshot":       true,
		"Tags":                     r.tags(name),
	})
	db["DeletionPolicy"], db["UpdateReplacePolicy"] = "Snapshot", "Snapshot"
	r.res["Database"] = db
	r.out["DatabaseEndpoint"] = obj{"Description": name, "Value": getAtt("Database", "Endpoint.Address")}
	r.out["DatabasePort"] = obj{"Description": name, "Value": getAtt("Database", "Endpoint.Port")}
}

func rootVolume(gib int) obj {
	return obj{"DeviceName": "/dev/xvda", "Ebs": obj{"VolumeSize": gib, "VolumeType": "gp3", "Encrypted": true, "DeleteOnTermination": true}}
}

func (r *renderer) network() {
	r.res["VPC"] = resource("AWS::EC2::VPC", obj{"CidrBlock": r.p.VPCCIDR, "EnableDnsSupport": true, "EnableDnsHostnames": true,
		"Tags": r.tags(r.prefix())})
	r.res["InternetGateway"] = resource("AWS::EC2::InternetGateway", obj{"Tags": r.tags(r.prefix())})
	r.res["GatewayAttachment"] = resource("AWS::EC2::VPCGatewayAttachment", obj{"VpcId": ref("VPC"), "InternetGatewayId": ref("InternetGateway")})
	r.res["NatAddress"] = resource("AWS::EC2::EIP", obj{"Domain": "vpc", "Tags": r.tags(r.prefix() + "-nat")})
	r.res["NatGateway"] = resource("AWS::EC2::NatGateway", obj{"SubnetId": ref(r.subnetID(0, 0)),
		"AllocationId": getAtt("NatAddress", "AllocationId"), "Tags": r.tags(r.prefix() + "-nat")})
	r.res["PublicRouteTable"] = resource("AWS::EC2::RouteTable", obj{"VpcId": ref("VPC"), "Tags": r.tags(r.prefix() + "-public")})
	r.res["PrivateRouteTable"] = resource("AWS::EC2::RouteTable", obj{"VpcId": ref("VPC"), "Tags": r.tags(r.prefix() + "-private")})
	pub := resource("AWS::EC2::Route", obj{"RouteTableId": ref("PublicRouteTable"), "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": ref("InternetGateway")})
	pub["DependsOn"] = "GatewayAttachment"
	r.res["PublicDefaultRoute"] = pub
	r.res["PrivateDefaultRoute"] = resource("AWS::EC2::Route", obj{"RouteTableId": ref("PrivateRouteTable"), "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": ref("NatGateway")})
	for t, tier := range tiers {
		table := "PrivateRouteTable"
		if t == 0 {
			table = "PublicRouteTable"
		}
		for a, az := range r.p.AZs {
			id := r.subnetID(t, a)
			r.res[id] = resource("AWS::EC2::Subnet", obj{"VpcId": ref("VPC"), "CidrBlock": r.subnet(t, a), "AvailabilityZone": az,
				"MapPublicIpOnLaunch": t == 0, "Tags": r.tags(r.prefix() + "-" + strings.ToLower(tier) + "-" + az[len(az)-1:])})
			r.res[id+"Routes"] = resource("AWS::EC2::SubnetRouteTableAssociation", obj{"SubnetId": ref(id), "RouteTableId": ref(table)})
		}
	}
}

// monitoringSources are the CIDRs allowed to reach NRPE: the configured
// ones, else the monitoring subnets.
func (r *renderer) monitoringSources() []string {
	if len(r.p.MonitoringCIDRs) > 0 {
		return r.p.MonitoringCIDRs
	}
	var out []string
	for a := range r.p.AZs {
		out = append(out, r.subnet(2, a))
	}
	return out
}

func ingress(port int, cidr string, desc string) obj {
	return obj{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": cidr, "Description": desc}
}

func (r *renderer) securityGroups() {
	var hostRules []obj
	if r.cu.Bastion.External {
		hostRules = append(hostRules, ingress(22, r.cu.Bastion.Host+"/32", "SSH from the customer's bastion"))
	} else {
		var rules []obj
		for _, c := range r.cfg.Team.CIDRs {
			rules = append(rules, ingress(r.cu.Bastion.Port, c, "SSH from the DevOps team"))
		}
		r.res["BastionSecurityGroup"] = resource("AWS::EC2::SecurityGroup", obj{
			"GroupDescription":     "mcloud " + r.prefix() + " bastion: SSH from the team only",
			"GroupName":            r.prefix() + "-bastion",
			"VpcId":                ref("VPC"),
			"SecurityGroupIngress": rules,
			"Tags":                 r.tags(r.prefix() + "-bastion"),
		})
		hostRules = append(hostRules, obj{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
			"SourceSecurityGroupId": ref("BastionSecurityGroup"), "Description": "SSH from the bastion only"})
	}
	for _, c := range r.monitoringSources() {
		hostRules = append(hostRules, ingress(NRPEPort, c, "NRPE from monitoring"))
	}
	ports := slices.Clone(r.p.Ports)
	slices.SortStableFunc(ports, func(a, b config.PortRule) int { return a.Port - b.Port })
	for _, pr := range ports {
		for _, c := range pr.Sources {
			hostRules = append(hostRules, ingress(pr.Port, c, "product port "+strconv.Itoa(pr.Port)))
		}
	}
	r.res["HostsSecurityGroup"] = resource("AWS::EC2::SecurityGroup", obj{
		"GroupDescription":     "mcloud " + r.prefix() + " hosts: SSH from the bastion, NRPE from monitoring, product ports",
		"GroupName":            r.prefix() + "-hosts",
		"VpcId":                ref("VPC"),
		"SecurityGroupIngress": hostRules,
		"Tags":                 r.tags(r.prefix() + "-hosts"),
	})
}
