package provision

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Change is one resource change of a change set (as integrations/aws reads
// it), kept free of the SDK so the wording is a pure, table-tested choice.
type Change struct {
	Action      string // Add, Modify, Remove
	LogicalID   string
	Type        string
	Replacement string // True, False, Conditional
	Properties  []string
}

// sensitive are the types whose replacement or removal loses data or
// breaks name resolution: such a change needs two approvers and passes the
// stack policy only when it is the approved change set executing.
var sensitive = map[string]string{
	"AWS::RDS::DBInstance":     "database",
	"AWS::RDS::DBCluster":      "database",
	"AWS::EC2::Volume":         "volume",
	"AWS::Route53::HostedZone": "hosted zone",
}

// Destructive reports whether a change replaces or removes a database,
// volume or hosted zone.
func Destructive(c Change) bool {
	_, ok := sensitive[c.Type]
	return ok && (c.Action == "Remove" || (c.Action == "Modify" && c.Replacement != "False"))
}

// SensitiveTypes lists the types Destructive guards, for the stack policy.
func SensitiveTypes() []string {
	out := make([]string, 0, len(sensitive))
	for t := range sensitive {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

var nouns = map[string]string{
	"AWS::EC2::VPC":                         "VPC",
	"AWS::EC2::Subnet":                      "subnet",
	"AWS::EC2::InternetGateway":             "internet gateway",
	"AWS::EC2::VPCGatewayAttachment":        "internet gateway attachment",
	"AWS::EC2::EIP":                         "elastic IP address",
	"AWS::EC2::NatGateway":                  "NAT gateway",
	"AWS::EC2::RouteTable":                  "route table",
	"AWS::EC2::Route":                       "route",
	"AWS::EC2::SubnetRouteTableAssociation": "subnet route association",
	"AWS::EC2::SecurityGroup":               "security group",
	"AWS::EC2::Instance":                    "instance",
	"AWS::EC2::Volume":                      "volume",
	"AWS::EC2::VolumeAttachment":            "volume attachment",
	"AWS::Route53::HostedZone":              "private hosted zone",
	"AWS::Route53::RecordSet":               "DNS record",
	"AWS::SES::EmailIdentity":               "SES email identity (DKIM)",
	"AWS::RDS::DBInstance":                  "database",
	"AWS::RDS::DBCluster":                   "database cluster",
	"AWS::RDS::DBSubnetGroup":               "database subnet group",
}

// Noun names a resource for people: "the bastion instance", "instance
// x-prod-apim-1 (HostXProdApim1)".
func Noun(logicalID, typ string, hosts map[string]string) string {
	n := nouns[typ]
	if n == "" {
		n = typ
	}
	if logicalID == "Bastion" {
		return "the bastion " + n
	}
	if strings.EqualFold(logicalID, strings.ReplaceAll(n, " ", "")) {
		return "the " + n
	}
	for id, host := range hosts {
		if logicalID == id {
			return n + " " + host
		}
		if strings.HasPrefix(logicalID, id) && logicalID != id {
			return n + " of " + host + " (" + logicalID + ")"
		}
	}
	return n + " " + logicalID
}

// consequence is what a replacement means to the people using it.
func consequence(typ string) string {
	switch typ {
	case "AWS::EC2::Instance":
		return ": it gets a new address and host key"
	case "AWS::EC2::Volume":
		return ": a new, empty volume; the old one's data is gone unless restored from a snapshot"
	case "AWS::RDS::DBInstance", "AWS::RDS::DBCluster":
		return ": a new, empty database; restore it from a snapshot"
	case "AWS::Route53::HostedZone":
		return ": every record is recreated under a new zone id"
	case "AWS::EC2::SecurityGroup":
		return ": its instances move to a new group id"
	}
	return ""
}

// Describe says what a change does, in plain words.
func Describe(c Change, hosts map[string]string) string {
	noun := Noun(c.LogicalID, c.Type, hosts)
	switch c.Action {
	case "Add":
		return "creates " + noun
	case "Remove":
		s := "removes " + noun
		if Destructive(c) {
			s += " and everything on it"
		}
		return s
	}
	props := ""
	if len(c.Properties) > 0 {
		props = " (" + strings.Join(c.Properties, ", ") + ")"
	}
	switch c.Replacement {
	case "True":
		return "replaces " + noun + consequence(c.Type) + props
	case "Conditional":
		return "changes " + noun + props + "; CloudFormation may have to replace it" + consequence(c.Type)
	}
	return "changes " + noun + " in place" + props
}

// Summary counts a change set: "creates 35, changes 1, replaces 1, removes 2".
func Summary(changes []Change) string {
	var add, mod, repl, rm int
	for _, c := range changes {
		switch {
		case c.Action == "Add":
			add++
		case c.Action == "Remove":
			rm++
		case c.Replacement == "False":
			mod++
		default:
			repl++
		}
	}
	var parts []string
	for _, p := range []struct {
		n    int
		verb string
	}{{add, "creates"}, {mod, "changes"}, {repl, "replaces"}, {rm, "removes"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p.verb, p.n))
		}
	}
	if len(parts) == 0 {
		return "nothing to change"
	}
	return strings.Join(parts, ", ") + " " + plural(add+mod+repl+rm, "resource", "resources")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// StackPolicy denies replacing or removing the stack's databases, volumes
// and hosted zones (allow lists the logical ids an approved change set may
// replace or remove) and allows every other update.
func StackPolicy(allow []string) string {
	type stmt struct {
		Effect    string `json:"Effect"`
		Action    any    `json:"Action"`
		Principal string `json:"Principal"`
		Resource  any    `json:"Resource,omitempty"`
		NotRes    any    `json:"NotResource,omitempty"`
		Condition any    `json:"Condition,omitempty"`
	}
	st := []stmt{{Effect: "Allow", Action: "Update:*", Principal: "*", Resource: "*"}}
	deny := stmt{Effect: "Deny", Action: []string{"Update:Replace", "Update:Delete"}, Principal: "*", Resource: "*",
		Condition: map[string]any{"StringEquals": map[string]any{"ResourceType": SensitiveTypes()}}}
	if len(allow) > 0 {
		ids := slices.Clone(allow)
		sort.Strings(ids)
		res := make([]string, len(ids))
		for i, id := range ids {
			res[i] = "LogicalResourceId/" + id
		}
		deny.Resource, deny.NotRes = nil, res
	}
	st = append(st, deny)
	b, _ := json.Marshal(map[string]any{"Statement": st})
	return string(b)
}
