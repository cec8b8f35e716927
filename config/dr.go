package config

import (
	"fmt"
	"strings"
	"time"
)

// DR is a customer's disaster-recovery targets, which `dr drill` measures
// against.
type DR struct {
	// RPOTarget is how old the data a rebuild starts from may be (default
	// the backup policy, backup_max_age).
	RPOTarget Duration `yaml:"rpo_target"`
	// RTOTarget is how long a rebuild in the DR region may take (default 4h).
	RTOTarget Duration `yaml:"rto_target"`
	// Records are switched to the DR rebuild by `dr failover`.
	Records []DRRecord `yaml:"records"`
}

// DefaultRTOTarget is the RTO target when dr.rto_target is absent.
const DefaultRTOTarget = 4 * time.Hour

// Targets returns the customer's RPO and RTO targets, defaults applied.
func (cu *Customer) Targets() (rpo, rto time.Duration) {
	rpo, rto = cu.BackupPolicy(), DefaultRTOTarget
	if cu.DR.RPOTarget != 0 {
		rpo = cu.DR.RPOTarget.Std()
	}
	if cu.DR.RTOTarget != 0 {
		rto = cu.DR.RTOTarget.Std()
	}
	return rpo, rto
}

// DRRecord is a DNS record of the customer's that a failover points at
// the rebuilt environment: the Route 53 record Name in hosted zone ZoneID
// gets the address of Host ("bastion" for the bastion's public address,
// else a host of Env, by its private address).
type DRRecord struct {
	Env    string `yaml:"env"`
	ZoneID string `yaml:"zone_id"`
	Name   string `yaml:"name"`
	Host   string `yaml:"host"`
}

// validateDR checks every customer's dr block. Each problem starts with
// its key's path.
func (c *Config) validateDR() []string {
	var p []string
	for i, cu := range c.Customers {
		path := fmt.Sprintf("customers[%d].dr", i)
		if d := cu.DR.RPOTarget.Std(); d < 0 || cu.DR.RPOTarget != 0 && d < time.Minute {
			p = append(p, fmt.Sprintf("%s.rpo_target: %s is shorter than a minute", path, d))
		}
		if d := cu.DR.RTOTarget.Std(); cu.DR.RTOTarget != 0 && d < time.Minute {
			p = append(p, fmt.Sprintf("%s.rto_target: %s is shorter than a minute", path, d))
		}
		if len(cu.DR.Records) > 0 && cu.AWS.DRRegion == "" {
			p = append(p, fmt.Sprintf("%s.records: %s has no aws.dr_region to fail over to", path, cu.Name))
		}
		for j, r := range cu.DR.Records {
			rp := fmt.Sprintf("%s.records[%d]", path, j)
			// The host is checked by dr failover's plan: hosts come from
			// provision's inventory too.
			if cu.Env(r.Env) == nil {
				p = append(p, fmt.Sprintf("%s.env: %q is not an environment of %s", rp, r.Env, cu.Name))
			}
			if r.Host == "" {
				p = append(p, rp+`.host: name a host of the environment, or "bastion"`)
			}
			if r.ZoneID == "" {
				p = append(p, rp+".zone_id: the Route 53 hosted zone id is required")
			}
			if !domainRE.MatchString(strings.TrimSuffix(strings.ToLower(r.Name), ".")) {
				p = append(p, fmt.Sprintf("%s.name: %q is not a DNS name", rp, r.Name))
			}
		}
	}
	return p
}
