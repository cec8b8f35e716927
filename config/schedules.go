package config

import (
	"fmt"
	"time"

	"github.com/mcloud/mcloud"

	"github.com/mcloud/mcloud/schedules/spec"
)

// Scheduler is how schedules behave across the whole deployment.
type Scheduler struct {
	// CatchUp: a fire time missed while every replica was down runs at
	// start-up if it is at most this old (default 6h); older ones are
	// reported to the team channel as missed.
	CatchUp Duration `yaml:"catch_up"`
	// Digest is the team digest's spec (one line per customer, to the
	// team channel); "" posts none.
	Digest string `yaml:"digest"`
	// Timezone is the digest's zone (default UTC).
	Timezone string `yaml:"timezone"`
	// Tick is how often replicas look for due fire times (default 1s).
	Tick Duration `yaml:"tick"`
}

// DefaultCatchUp is the catch-up window when none is configured.
const DefaultCatchUp = 6 * time.Hour

// CatchUpWindow is the configured catch-up window or its default.
func (s Scheduler) CatchUpWindow() time.Duration {
	if s.CatchUp == 0 {
		return DefaultCatchUp
	}
	return s.CatchUp.Std()
}

// TickEvery is the configured tick or its default.
func (s Scheduler) TickEvery() time.Duration {
	if s.Tick == 0 {
		return time.Second
	}
	return s.Tick.Std()
}

// Retention is a customer's snapshot retention policy. Zero values take
// the defaults (RetentionPolicy).
type Retention struct {
	PrimaryDays int `yaml:"primary_days"`
	DRDays      int `yaml:"dr_days"`
	// KeepNewest: never delete the newest N snapshots of a volume or
	// database, whatever their age. A pointer, so 0 can be refused.
	KeepNewest *int `yaml:"keep_newest"`
	// A run deleting more than CapPercent of the customer's snapshots, or
	// more than CapCount, deletes nothing and asks DevOps instead.
	CapPercent int `yaml:"cap_percent"`
	CapCount   int `yaml:"cap_count"`
}

// RetentionPolicy is a customer's policy with defaults filled in.
type RetentionPolicy struct {
	Primary, DR          time.Duration
	KeepNewest           int
	CapPercent, CapCount int
}

// RetentionPolicy is cu's retention policy, defaults filled in: 30 days
// primary, 90 days DR, newest 7 kept, cap 20% or 50 snapshots.
func (cu *Customer) RetentionPolicy() RetentionPolicy {
	r := cu.Retention
	p := RetentionPolicy{Primary: 30 * 24 * time.Hour, DR: 90 * 24 * time.Hour, KeepNewest: 7, CapPercent: 20, CapCount: 50}
	if r.PrimaryDays > 0 {
		p.Primary = time.Duration(r.PrimaryDays) * 24 * time.Hour
	}
	if r.DRDays > 0 {
		p.DR = time.Duration(r.DRDays) * 24 * time.Hour
	}
	if r.KeepNewest != nil {
		p.KeepNewest = *r.KeepNewest
	}
	if r.CapPercent > 0 {
		p.CapPercent = r.CapPercent
	}
	if r.CapCount > 0 {
		p.CapCount = r.CapCount
	}
	return p
}

// ScheduleSpec parses one of cu's schedules by name (backup, report,
// retention); ok is false when it is not set.
func (cu *Customer) ScheduleSpec(name string) (s spec.Spec, ok bool, err error) {
	var expr string
	switch name {
	case "backup":
		expr = cu.Schedules.Backup
	case "report":
		expr = cu.Schedules.Report
	case "retention":
		expr = cu.Schedules.Retention
	default:
		return spec.Spec{}, false, fmt.Errorf("no schedule named %q", name)
	}
	if expr == "" {
		return spec.Spec{}, false, nil
	}
	s, err = spec.Parse(expr, cu.Schedules.Timezone)
	return s, err == nil, err
}

// ScheduleNames are the schedules a customer may have.
var ScheduleNames = []string{"backup", "report", "retention"}

func validateSchedules(path string, cu *Customer, bad complain) {
	sp := path + ".schedules"
	if _, err := spec.LoadZone(cu.Schedules.Timezone); err != nil {
		bad(sp+".timezone", "%v", err)
	} else {
		for _, name := range ScheduleNames {
			if _, _, err := cu.ScheduleSpec(name); err != nil {
				bad(sp+"."+name, "%v", err)
			}
		}
	}
	for i, e := range cu.Schedules.BackupEnvs {
		if cu.Env(e) == nil {
			bad(fmt.Sprintf("%s.backup_envs[%d]", sp, i), "%q is not one of %s's environments", e, cu.Name)
		}
	}
	rp := path + ".retention"
	r := cu.Retention
	if r.KeepNewest != nil && *r.KeepNewest < 1 {
		bad(rp+".keep_newest", "must be at least 1, not %d: retention must always keep a volume's or database's newest snapshot", *r.KeepNewest)
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"primary_days", r.PrimaryDays}, {"dr_days", r.DRDays}, {"cap_count", r.CapCount}} {
		if f.v < 0 {
			bad(rp+"."+f.key, "must be positive, not %d", f.v)
		}
	}
	if r.CapPercent < 0 || r.CapPercent > 100 {
		bad(rp+".cap_percent", "must be between 1 and 100, not %d", r.CapPercent)
	}
}

func (c *Config) validateScheduler(bad complain) {
	if c.Scheduler.Digest == "" {
		return
	}
	if _, err := spec.Parse(c.Scheduler.Digest, c.Scheduler.Timezone); err != nil {
		bad("scheduler.digest", "%v", err)
	}
}

// Scheduled is one standing piece of work the configuration sets.
type Scheduled struct {
	// Key is unique and stable: "customer-x/backup"; fire claims and
	// pauses are kept by it.
	Key      string
	Customer string // "" for the team digest
	// Name is what people call it: backup (backup-prod when the backup is
	// per environment), report, retention, digest.
	Name  string
	Title string
	Spec  spec.Spec
	// Verb and Params are the work it files (none for the digest).
	Verb   string
	Params mcloud.Params
}

// DigestKey is the key of the team digest's schedule.
const DigestKey = "team/digest"

// ScheduledWork lists every schedule the configuration sets, customers in
// order, then the digest. A spec that does not parse is skipped: validation
// refused it already.
func (c *Config) ScheduledWork() []Scheduled {
	var out []Scheduled
	for i := range c.Customers {
		cu := &c.Customers[i]
		for _, name := range ScheduleNames {
			sp, ok, err := cu.ScheduleSpec(name)
			if err != nil || !ok {
				continue
			}
			s := Scheduled{Key: cu.Name + "/" + name, Customer: cu.Name, Name: name, Spec: sp, Verb: name, Params: mcloud.Params{}}
			switch name {
			case "backup":
				s.Title, s.Params["now"] = "nightly backup of "+cu.Name, "now"
				// One schedule per listed environment: each fire time is
				// one claim and one job.
				for _, env := range cu.Schedules.BackupEnvs {
					e := s
					e.Key, e.Name = cu.Name+"/backup-"+env, "backup-"+env
					e.Title = fmt.Sprintf("nightly backup of %s/%s", cu.Name, env)
					e.Params = mcloud.Params{"now": "now", "env": env}
					out = append(out, e)
				}
				if len(cu.Schedules.BackupEnvs) > 0 {
					continue
				}
			case "report":
				s.Title = "morning backup report of " + cu.Name
			case "retention":
				s.Title = "snapshot retention of " + cu.Name
			}
			out = append(out, s)
		}
	}
	if sp, err := spec.Parse(c.Scheduler.Digest, c.Scheduler.Timezone); c.Scheduler.Digest != "" && err == nil {
		out = append(out, Scheduled{Key: DigestKey, Name: "digest", Title: "team backup digest", Spec: sp})
	}
	return out
}
