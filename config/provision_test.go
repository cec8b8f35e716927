package config_test

import "testing"

// The provision keys are refused with the exact key and why.
func TestProvisionKeysNameTheKey(t *testing.T) {
	const vpc = "vpc_cidr: 10.20.0.0/16"
	expectInvalid(t, []edit{
		{"vpc with host bits", vpc, "vpc_cidr: 10.20.1.0/16", `customers[0].environments[1].provision.vpc_cidr: "10.20.1.0/16" has host bits set; write 10.20.0.0/16`},
		{"vpc too small", vpc, "vpc_cidr: 10.20.0.0/24", `customers[0].environments[1].provision.vpc_cidr: "10.20.0.0/24" must be a /16 to /20`},
		{"vpc not a cidr", vpc, "vpc_cidr: big", `customers[0].environments[1].provision.vpc_cidr: "big" is not an IPv4 CIDR`},
		{"az in another region", vpc, vpc + "\n          azs: [us-east-1a]", `customers[0].environments[1].provision.azs[0]: "us-east-1a" is not in the customer's region eu-west-1`},
		{"az twice", vpc, vpc + "\n          azs: [eu-west-1a, eu-west-1a]", `customers[0].environments[1].provision.azs[1]: "eu-west-1a" appears twice`},
		{"bad ami", vpc, vpc + "\n          hosts: {ami: ubuntu}", `customers[0].environments[1].provision.hosts.ami: "ubuntu" is not an AMI id`},
		{"host volume too small", "{name: x-stg-apim-1,", "{name: x-stg-apim-1, volume_gib: 2,", `customers[0].environments[1].hosts[0].volume_gib: 2 is not a volume size from 8 to 16384 GiB`},
		{"ssh as a product port", "port: 9443", "port: 22", `customers[0].environments[1].provision.ports[0].port: 22 is not a product port`},
		{"port without sources", "{port: 9443, sources: [10.20.0.0/16]}", "{port: 9443}", `customers[0].environments[1].provision.ports[0].sources: missing`},
		{"team cidr", "cidrs: [203.0.113.0/24]", "cidrs: [203.0.113.1/24]", `team.cidrs[0]: "203.0.113.1/24" has host bits set`},
		{"no team cidrs", "cidrs: [203.0.113.0/24]", "", `customers[0].environments[1].provision: needs team.cidrs`},
		{"parameters without template", vpc, vpc + "\n          parameters: {A: b}", `customers[0].environments[1].provision.parameters: only used with provision.template`},
		{"external bastion by name", "port: 2222\n", "port: 2222\n      external: true\n", `customers[0].bastion.host: "bastion.customer-x.example.net" must be the external bastion's IP address`},
	})
}
