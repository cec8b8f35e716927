package config_test

import "testing"

// The provision keys are refused with the exact key and why.
func TestProvisionKeysNameTheKey(t *testing.T) {
	const pv = "customers[0].environments[1].provision"
	expectInvalid(t, []edit{
		{"vpc with host bits", set(pv+".vpc_cidr", "10.20.1.0/16"), `customers[0].environments[1].provision.vpc_cidr: "10.20.1.0/16" has host bits set; write 10.20.0.0/16`},
		{"vpc too small", set(pv+".vpc_cidr", "10.20.0.0/24"), `customers[0].environments[1].provision.vpc_cidr: "10.20.0.0/24" must be a /16 to /20`},
		{"vpc not a cidr", set(pv+".vpc_cidr", "big"), `customers[0].environments[1].provision.vpc_cidr: "big" is not an IPv4 CIDR`},
		{"az in another region", set(pv+".azs", []string{"us-east-1a"}), `customers[0].environments[1].provision.azs[0]: "us-east-1a" is not in the customer's region eu-west-1`},
		{"az twice", set(pv+".azs", []string{"eu-west-1a", "eu-west-1a"}), `customers[0].environments[1].provision.azs[1]: "eu-west-1a" appears twice`},
		{"bad ami", set(pv+".hosts.ami", "ubuntu"), `customers[0].environments[1].provision.hosts.ami: "ubuntu" is not an AMI id`},
		{"host volume too small", set("customers[0].environments[1].hosts[0].volume_gib", 2), `customers[0].environments[1].hosts[0].volume_gib: 2 is not a volume size from 8 to 16384 GiB`},
		{"ssh as a product port", set(pv+".ports[0].port", 22), `customers[0].environments[1].provision.ports[0].port: 22 is not a product port`},
		{"port without sources", del(pv + ".ports[0].sources"), `customers[0].environments[1].provision.ports[0].sources: missing`},
		{"team cidr", set("team.cidrs", []string{"203.0.113.1/24"}), `team.cidrs[0]: "203.0.113.1/24" has host bits set`},
		{"no team cidrs", del("team.cidrs"), `customers[0].environments[1].provision: needs team.cidrs`},
		{"parameters without template", set(pv+".parameters", map[string]string{"A": "b"}), `customers[0].environments[1].provision.parameters: only used with provision.template`},
		{"database engine", set("customers[0].environments[1].database.engine", "oracle"), `customers[0].environments[1].database.engine: "oracle" is not an engine mcloud builds (mysql, mariadb or postgres)`},
		{"database class", set("customers[0].environments[1].database.class", "t3.medium"), `customers[0].environments[1].database.class: "t3.medium" is not a database instance class like db.t3.medium`},
		{"database storage", set("customers[0].environments[1].database.storage_gb", 5), `customers[0].environments[1].database.storage_gb: 5 is not a storage size from 20 to 65536 GB`},
		{"database name", set("customers[0].environments[1].database.name", "apim-db"), `customers[0].environments[1].database.name: "apim-db" is not a database name`},
		{"database without provision", set("customers[0].environments[0].database", map[string]any{"engine": "mysql", "name": "apim"}), `customers[0].environments[0].database: needs a provision block without a template`},
		{"database in one zone", set(pv+".azs", []string{"eu-west-1a"}), `customers[0].environments[1].database: needs provision.azs to span at least 2 zones`},
		{"external bastion by name", set("customers[0].bastion.external", true), `customers[0].bastion.host: "bastion.customer-x.example.net" must be the external bastion's IP address`},
	})
}
