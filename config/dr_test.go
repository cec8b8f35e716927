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
	const rec = "customers[0].dr.records[0]"
	expectInvalid(t, []edit{
		{"unknown env", set(rec+".env", "qa"), `customers[0].dr.records[0].env: "qa" is not an environment of customer-x`},
		{"no host", del(rec + ".host"), `customers[0].dr.records[0].host: name a host of the environment, or "bastion"`},
		{"no zone", del(rec + ".zone_id"), `customers[0].dr.records[0].zone_id: the Route 53 hosted zone id is required`},
		{"bad name", set(rec+".name", "not a name"), `customers[0].dr.records[0].name: "not a name" is not a DNS name`},
		{"tiny rto", set("customers[0].dr.rto_target", "10s"), `customers[0].dr.rto_target: 10s is shorter than a minute`},
	})
}
