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
