package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
)

// Provision is how `provision` builds an environment through CloudFormation.
// Every key has a default, so `provision: {}` is a complete environment:
// a VPC with public, private and monitoring subnets in two availability
// zones, a bastion in the public subnet, the hosts in the private one, a
// private hosted zone with a record per host.
type Provision struct {
	// VPCCIDR is the VPC's address range (default 10.0.0.0/16); the
	// subnets are carved out of it as /24s.
	VPCCIDR string `yaml:"vpc_cidr"`
	// AZs are the availability zones the subnets span (default the
	// region's "a" and "b").
	AZs []string `yaml:"azs"`
	// DNSZone is the private hosted zone (default <env>.<customer>.internal).
	DNSZone string `yaml:"dns_zone"`
	// ExternalDNS: the customer keeps DNS in their own data centre; no
	// hosted zone is made, and the job posts the name → address list.
	ExternalDNS bool `yaml:"external_dns"`
	// SESDomain, when set, gets an SES email identity with DKIM.
	SESDomain string `yaml:"ses_domain"`
	// MonitoringCIDRs may reach NRPE (5666) on the hosts (default the
	// monitoring subnets).
	MonitoringCIDRs []string `yaml:"monitoring_cidrs"`
	// Ports are the product ports the hosts accept, with their sources.
	Ports []PortRule `yaml:"ports"`
	// Bastion is the bastion instance built in the public subnet, unless
	// the customer's bastion.external is set.
	Bastion Machine `yaml:"bastion"`
	// Hosts is the default machine for every host; a host may override it.
	Hosts Machine `yaml:"hosts"`
	// Template, when set, is the environment's own CloudFormation
	// template (a path, relative to mcloud.yaml's directory when not
	// absolute); mcloud then only drives it with Parameters.
	Template   string            `yaml:"template"`
	Parameters map[string]string `yaml:"parameters"`
}

// PortRule lets Sources (CIDRs) reach a product port on the hosts.
type PortRule struct {
	Port    int      `yaml:"port"`
	Sources []string `yaml:"sources"`
}

// Machine is an EC2 instance's image, type and root volume.
type Machine struct {
	AMI          string `yaml:"ami"`
	InstanceType string `yaml:"instance_type"`
	VolumeGiB    int    `yaml:"volume_gib"`
}

// Database is the environment's RDS instance, built in the private
// subnets and reachable from the hosts only. Replacing it (a new, empty
// instance) needs two approvers.
type Database struct {
	// Engine is mysql, mariadb or postgres.
	Engine string `yaml:"engine"`
	// Class is the instance class (default db.t3.medium).
	Class string `yaml:"class"`
	// StorageGB is the allocated storage (default 20).
	StorageGB int `yaml:"storage_gb"`
	// Name is the database created in the instance; changing it replaces
	// the instance.
	Name string `yaml:"name"`
}

// Port is where the engine listens.
func (d Database) Port() int {
	if d.Engine == "postgres" {
		return 5432
	}
	return 3306
}

// Provisioning defaults, documented in docs/provision.md.
const (
	DefaultVPCCIDR      = "10.0.0.0/16"
	DefaultInstanceType = "t3.medium"
	DefaultBastionType  = "t3.micro"
	DefaultVolumeGiB    = 50
	DefaultBastionGiB   = 8
	DefaultDBClass      = "db.t3.medium"
	DefaultDBStorageGB  = 20
	// DefaultAMI is a placeholder the sandbox accepts; real accounts
	// configure their own image.
	DefaultAMI = "ami-0mcloud00000000"
)

func (c *Config) provisionDefaults() {
	for i := range c.Customers {
		cu := &c.Customers[i]
		for j := range cu.Environments {
			env := &cu.Environments[j]
			if d := env.Database; d != nil {
				if d.Class == "" {
					d.Class = DefaultDBClass
				}
				if d.StorageGB == 0 {
					d.StorageGB = DefaultDBStorageGB
				}
			}
			p := env.Provision
			if p == nil {
				continue
			}
			if p.VPCCIDR == "" {
				p.VPCCIDR = DefaultVPCCIDR
			}
			if len(p.AZs) == 0 && cu.AWS.Region != "" {
				p.AZs = []string{cu.AWS.Region + "a", cu.AWS.Region + "b"}
			}
			if p.DNSZone == "" && !p.ExternalDNS {
				p.DNSZone = env.Name + "." + cu.Name + ".internal"
			}
			p.Bastion = p.Bastion.withDefaults(DefaultBastionType, DefaultBastionGiB, "")
			p.Hosts = p.Hosts.withDefaults(DefaultInstanceType, DefaultVolumeGiB, "")
			for k := range env.Hosts {
				h := &env.Hosts[k]
				m := h.Machine().withDefaults(p.Hosts.InstanceType, p.Hosts.VolumeGiB, p.Hosts.AMI)
				h.AMI, h.InstanceType, h.VolumeGiB = m.AMI, m.InstanceType, m.VolumeGiB
			}
		}
	}
}

func (m Machine) withDefaults(typ string, gib int, ami string) Machine {
	if m.InstanceType == "" {
		m.InstanceType = typ
	}
	if m.VolumeGiB == 0 {
		m.VolumeGiB = gib
	}
	if m.AMI == "" {
		m.AMI = ami
	}
	if m.AMI == "" {
		m.AMI = DefaultAMI
	}
	return m
}

var (
	amiRE      = regexp.MustCompile(`^ami-[0-9a-z]{8,17}$`)
	instTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	azRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d[a-z]$`)
	domainRE   = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	paramRE    = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)
)

// validateProvisionOps checks team.cidrs and every environment's
// provision block. Each problem starts with its key's path.
func (c *Config) validateProvisionOps() []string {
	var p []string
	bad := func(path, format string, args ...any) {
		p = append(p, fmt.Sprintf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	for i, s := range c.Team.CIDRs {
		checkCIDR(fmt.Sprintf("team.cidrs[%d]", i), s, bad)
	}
	for i, cu := range c.Customers {
		path := fmt.Sprintf("customers[%d]", i)
		if cu.Bastion.External {
			if _, err := netip.ParseAddr(cu.Bastion.Host); err != nil {
				bad(path+".bastion.host", "%q must be the external bastion's IP address: with bastion.external the hosts allow SSH from that address only", cu.Bastion.Host)
			}
		}
		for j, env := range cu.Environments {
			if env.Database != nil {
				validateDatabase(fmt.Sprintf("%s.environments[%d].database", path, j), env, bad)
			}
			if env.Provision == nil {
				continue
			}
			ep := fmt.Sprintf("%s.environments[%d].provision", path, j)
			validateProvision(ep, cu, env, len(c.Team.CIDRs) > 0, bad)
		}
	}
	return p
}

func validateProvision(ep string, cu Customer, env Environment, teamCIDRs bool, bad complain) {
	pv := env.Provision
	if pv.Template != "" {
		if strings.TrimSpace(pv.Template) != pv.Template || filepath.Ext(pv.Template) == "" {
			bad(ep+".template", "%q is not a template file (a .json, .yaml or .yml path)", pv.Template)
		}
		for k := range pv.Parameters {
			if !paramRE.MatchString(k) {
				bad(ep+".parameters."+k, "is not a CloudFormation parameter name (letters and digits)")
			}
		}
		return
	}
	if len(pv.Parameters) > 0 {
		bad(ep+".parameters", "only used with provision.template; mcloud's own template takes none")
	}
	if !teamCIDRs && !cu.Bastion.External {
		bad(ep, "needs team.cidrs: the bastion takes SSH only from the team's networks")
	}
	validateNetwork(ep, cu.AWS.Region, pv, bad)
	if pv.DNSZone != "" && !domainRE.MatchString(pv.DNSZone) {
		bad(ep+".dns_zone", "%q is not a DNS name like staging.customer-x.internal", pv.DNSZone)
	}
	if pv.SESDomain != "" && !domainRE.MatchString(pv.SESDomain) {
		bad(ep+".ses_domain", "%q is not a domain like mail.customer-x.com", pv.SESDomain)
	}
	for k, s := range pv.MonitoringCIDRs {
		checkCIDR(fmt.Sprintf("%s.monitoring_cidrs[%d]", ep, k), s, bad)
	}
	validatePorts(ep, pv.Ports, bad)
	checkMachine(ep+".bastion", pv.Bastion, bad)
	checkMachine(ep+".hosts", pv.Hosts, bad)
	for k, h := range env.Hosts {
		checkMachine(fmt.Sprintf("%s.hosts[%d]", strings.TrimSuffix(ep, ".provision"), k), h.Machine(), bad)
	}
}

var (
	dbClassRE = regexp.MustCompile(`^db\.[a-z0-9]+\.[a-z0-9]+$`)
	dbNameRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)
)

// validateDatabase checks an environment's database block.
func validateDatabase(dp string, env Environment, bad complain) {
	d := env.Database
	if env.Provision == nil || env.Provision.Template != "" {
		bad(dp, "needs a provision block without a template: the database is built in the template mcloud renders")
	} else if len(env.Provision.AZs) == 1 {
		bad(dp, "needs provision.azs to span at least 2 zones: RDS places a database only in a subnet group of two zones or more")
	}
	switch d.Engine {
	case "mysql", "mariadb", "postgres":
	case "":
		bad(dp+".engine", "missing; name mysql, mariadb or postgres")
	default:
		bad(dp+".engine", "%q is not an engine mcloud builds (mysql, mariadb or postgres)", d.Engine)
	}
	if !dbClassRE.MatchString(d.Class) {
		bad(dp+".class", "%q is not a database instance class like db.t3.medium", d.Class)
	}
	if d.StorageGB < 20 || d.StorageGB > 65536 {
		bad(dp+".storage_gb", "%d is not a storage size from 20 to 65536 GB", d.StorageGB)
	}
	if !dbNameRE.MatchString(d.Name) {
		bad(dp+".name", "%q is not a database name: a letter, then up to 62 letters, digits or underscores", d.Name)
	}
}

// validateNetwork checks the VPC's range and the zones it spans, which
// must be in the customer's region.
func validateNetwork(ep, region string, pv *Provision, bad complain) {
	pfx, err := netip.ParsePrefix(pv.VPCCIDR)
	switch {
	case err != nil || !pfx.Addr().Is4():
		bad(ep+".vpc_cidr", "%q is not an IPv4 CIDR like 10.20.0.0/16", pv.VPCCIDR)
	case pfx.Bits() < 16 || pfx.Bits() > 20:
		bad(ep+".vpc_cidr", "%q must be a /16 to /20: mcloud carves one /24 per tier and zone out of it", pv.VPCCIDR)
	case pfx.Masked() != pfx:
		bad(ep+".vpc_cidr", "%q has host bits set; write %s", pv.VPCCIDR, pfx.Masked())
	}
	if len(pv.AZs) == 0 {
		bad(ep+".azs", "missing, and the customer has no aws.region to default to")
	}
	if len(pv.AZs) > 4 {
		bad(ep+".azs", "lists %d zones; mcloud builds at most 4", len(pv.AZs))
	}
	seen := map[string]bool{}
	for k, az := range pv.AZs {
		switch {
		case !azRE.MatchString(az):
			bad(fmt.Sprintf("%s.azs[%d]", ep, k), "%q is not an availability zone like eu-west-1a", az)
		case region != "" && !strings.HasPrefix(az, region):
			bad(fmt.Sprintf("%s.azs[%d]", ep, k), "%q is not in the customer's region %s", az, region)
		case seen[az]:
			bad(fmt.Sprintf("%s.azs[%d]", ep, k), "%q appears twice", az)
		}
		seen[az] = true
	}
}

// validatePorts checks the product ports the hosts accept and from where.
func validatePorts(ep string, ports []PortRule, bad complain) {
	for k, r := range ports {
		rp := fmt.Sprintf("%s.ports[%d]", ep, k)
		if r.Port < 1 || r.Port > 65535 || r.Port == 22 {
			bad(rp+".port", "%d is not a product port (1-65535, not 22: SSH comes from the bastion only)", r.Port)
		}
		if len(r.Sources) == 0 {
			bad(rp+".sources", "missing; name the CIDRs that may reach port %d", r.Port)
		}
		for m, s := range r.Sources {
			checkCIDR(fmt.Sprintf("%s.sources[%d]", rp, m), s, bad)
		}
	}
}

func checkMachine(path string, m Machine, bad complain) {
	if !amiRE.MatchString(m.AMI) {
		bad(path+".ami", "%q is not an AMI id like ami-0abc12345def67890", m.AMI)
	}
	if !instTypeRE.MatchString(m.InstanceType) {
		bad(path+".instance_type", "%q is not an instance type like t3.medium", m.InstanceType)
	}
	if m.VolumeGiB < 8 || m.VolumeGiB > 16384 {
		bad(path+".volume_gib", "%d is not a volume size from 8 to 16384 GiB", m.VolumeGiB)
	}
}

func checkCIDR(path, s string, bad complain) {
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		bad(path, "%q is not a CIDR like 203.0.113.0/24", s)
	case p.Masked() != p:
		bad(path, "%q has host bits set; write %s", s, p.Masked())
	}
}

// Machine is the host's instance settings (after defaults, when the
// environment is provisioned).
func (h Host) Machine() Machine {
	return Machine{AMI: h.AMI, InstanceType: h.InstanceType, VolumeGiB: h.VolumeGiB}
}
