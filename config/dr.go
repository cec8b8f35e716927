package config

import "time"

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
