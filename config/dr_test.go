package config_test

import (
	"testing"

	"github.com/mcloud/mcloud/config"
)

func TestDRTargets(t *testing.T) {
	cfg := mustLoadExample(t)
	rpo, rto := cfg.Customer("customer-x").Targets()
	if rpo.String() != "24h0m0s" || rto.String() != "1h0m0s" {
		t.Errorf("targets %s %s", rpo, rto)
	}
	if rpo, rto := cfg.Customer("customer-y").Targets(); rpo != config.DefaultBackupMaxAge || rto != config.DefaultRTOTarget {
		t.Errorf("customer-y's targets default to the backup policy and 4h, got %s %s", rpo, rto)
	}
}

// Each bad dr key is named with what is wrong.
func TestDRConfigProblemsNamed(t *testing.T) {
	const rec = "- {env: prod, zone_id: Z0CUSTXPUBLIC, name: apim.customer-x.example.net, host: x-prod-apim-1}"
	expectInvalid(t, []edit{
		{"unknown env", rec, "- {env: qa, zone_id: Z1, name: a.example.net, host: bastion}", `customers[0].dr.records[0].env: "qa" is not an environment of customer-x`},
		{"no host", rec, "- {env: prod, zone_id: Z1, name: a.example.net}", `customers[0].dr.records[0].host: name a host of the environment, or "bastion"`},
		{"no zone", rec, "- {env: prod, name: a.example.net, host: bastion}", `customers[0].dr.records[0].zone_id: the Route 53 hosted zone id is required`},
		{"bad name", rec, "- {env: prod, zone_id: Z1, name: not a name, host: bastion}", `customers[0].dr.records[0].name: "not a name" is not a DNS name`},
		{"tiny rto", "rto_target: 1h ", "rto_target: 10s ", `customers[0].dr.rto_target: 10s is shorter than a minute`},
	})
}
