package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
)

// The schedules verbs: list the standing work, fire one now, pause one
// for a maintenance window and resume it. The schedules themselves fire
// from schedules/, through StartByPolicy.

func schedulesVerb() *Verb {
	return &Verb{
		Name:    "schedules",
		Summary: "the nightly backups, morning reports and retention runs: spec, zone, next fire time, last run",
		Help: "Each fire time runs exactly once across replicas and restarts. A fire time missed while mcloud was down runs late " +
			"within the catch-up window (scheduler.catch_up, default 6h); older ones are reported as missed in the team channel.",
		Examples: []string{"/mcloud schedules", "/mcloud schedules customer-x"},
		Spec:     Spec{Args: []Arg{{Name: "customer", Kind: KindCustomer, Optional: true}}},
		Access:   mcloud.AccessDevOps,
		Do:       listSchedules,
	}
}

func listSchedules(ctx context.Context, c *Call) (Reply, error) {
	s := c.svc
	pauses, err := s.store.Pauses(ctx)
	if err != nil {
		return Reply{}, err
	}
	now := s.Now()
	r := Reply{Title: "Schedules (times in their zone, and UTC):"}
	for _, sc := range s.cfg.ScheduledWork() {
		if c.Customer != nil && sc.Customer != c.Customer.Name {
			continue
		}
		next := sc.Spec.Next(now)
		line := fmt.Sprintf("%s — %s: %s (%s); next %s", sc.Key, sc.Title, sc.Spec.Expr, sc.Spec.Zone(), zoned(next, sc))
		if p, ok := pauses[sc.Key]; ok {
			line += fmt.Sprintf("; PAUSED by %s %s ago: %s", p.By, humanDuration(now.Sub(p.At)), p.Reason)
		}
		last, ok, err := s.store.LastFire(ctx, sc.Key)
		switch {
		case err != nil:
			return Reply{}, err
		case !ok:
			line += "; never ran"
		default:
			line += "; last: " + s.lastRun(ctx, last, sc)
		}
		r.Lines = append(r.Lines, line)
	}
	if len(r.Lines) == 0 {
		r.Lines = append(r.Lines, "None: no customer has schedules in mcloud's configuration (customers[].schedules).")
	}
	return r, nil
}

// lastRun says what became of a schedule's last fire time.
func (s *Service) lastRun(ctx context.Context, f store.Fire, sc config.Scheduled) string {
	at := zoned(f.At, sc)
	switch f.Outcome {
	case store.FireFiled:
		if f.RequestID == 0 {
			return at + ", posted"
		}
		j, err := s.store.Job(ctx, f.RequestID)
		if err != nil || j == nil {
			return fmt.Sprintf("%s, request #%d", at, f.RequestID)
		}
		out := fmt.Sprintf("%s, job #%d %s", at, j.ID, j.Status)
		if j.Error != "" {
			out += ": " + j.Error
		}
		return out
	}
	return fmt.Sprintf("%s, %s: %s", at, f.Outcome, f.Detail)
}

// zoned is a fire time in its schedule's zone and in UTC.
func zoned(t time.Time, sc config.Scheduled) string {
	if t.IsZero() {
		return "never"
	}
	u := mcloud.FormatTime(t)
	if sc.Spec.Loc == time.UTC {
		return u
	}
	return t.In(sc.Spec.Loc).Format("2006-01-02 15:04 MST") + " = " + u
}

// pausedSchedules says which of customer's schedules are paused, by whom
// and why: "backup paused by alice 2h00m ago: storage migration".
func (s *Service) pausedSchedules(ctx context.Context, customer string) ([]string, error) {
	pauses, err := s.store.Pauses(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sc := range s.cfg.ScheduledWork() {
		if p, ok := pauses[sc.Key]; ok && sc.Customer == customer {
			out = append(out, fmt.Sprintf("%s paused by %s %s ago: %s", sc.Name, p.By, humanDuration(s.Now().Sub(p.At)), p.Reason))
		}
	}
	return out, nil
}

// scheduleOf finds a customer's schedule by name, or says which it has.
func scheduleOf(cfg *config.Config, cu *config.Customer, name string) (config.Scheduled, error) {
	var names []string
	for _, sc := range cfg.ScheduledWork() {
		if sc.Customer != cu.Name {
			continue
		}
		if sc.Name == name {
			return sc, nil
		}
		names = append(names, sc.Name)
	}
	if len(names) == 0 {
		return config.Scheduled{}, mcloud.Errorf(mcloud.ENOTFOUND, "%s has no schedules in mcloud's configuration.", cu.Name)
	}
	return config.Scheduled{}, mcloud.Errorf(mcloud.EINVALID, "%s has no schedule %q; it has: %s.", cu.Name, name, strings.Join(names, ", "))
}

var scheduleArgs = []Arg{
	{Name: "customer", Kind: KindCustomer, About: "whose schedule"},
	{Name: "schedule", Kind: KindWord, About: "which schedule: backup, report or retention"},
}

func schedulesRunVerb() *Verb {
	return &Verb{
		Name:    "schedules run",
		Summary: "fire a schedule now: the same request as the command it runs, with the same approvals",
		Help: "`schedules run customer-x backup` is `backup customer-x now`: its plan is shown and it waits for the approvals " +
			"backup needs when you ask. It does not count as one of the schedule's fire times.",
		Examples: []string{"/mcloud schedules run customer-x backup", "/mcloud schedules run customer-x report"},
		Spec:     Spec{Args: scheduleArgs},
		Access:   mcloud.AccessDevOps,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			sc, err := scheduleOf(c.svc.cfg, c.Customer, c.Params["schedule"])
			if err != nil {
				return Reply{}, err
			}
			target := c.svc.verbs[sc.Verb]
			if target == nil {
				return Reply{}, fmt.Errorf("schedule %s runs %q, which is not a command", sc.Key, sc.Verb)
			}
			// The command it runs, as if typed: its own access, grammar,
			// plan and approval rules apply.
			args := []string{c.Customer.Name}
			if env := sc.Params["env"]; env != "" {
				args = append(args, env)
			}
			if sc.Params["now"] != "" {
				args = append(args, "now")
			}
			return c.svc.run(ctx, c.Caller, target, args, tail{at: -1}), nil
		},
	}
}

func schedulesPauseVerb() *Verb {
	return &Verb{
		Name:    "schedules pause",
		Summary: "pause a schedule for a maintenance window; its fire times are skipped until resumed",
		Help: "Fire times while paused are skipped and not caught up after: resuming does not run what the pause skipped. " +
			"Pauses are kept in the store, audited, and shown by schedules and the team digest.",
		Examples: []string{"/mcloud schedules pause customer-x backup storage migration until Friday"},
		Spec:     Spec{Args: append(scheduleArgs[:2:2], Arg{Name: "reason", Kind: KindText, About: "why, for the team and the audit log"})},
		Access:   mcloud.AccessDevOps,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			sc, err := scheduleOf(c.svc.cfg, c.Customer, c.Params["schedule"])
			if err != nil {
				return Reply{}, err
			}
			if err := c.svc.store.PauseSchedule(ctx, c.Customer.Name, sc.Key, c.Params["reason"], c.Caller); err != nil {
				return Reply{}, err
			}
			return Reply{Title: fmt.Sprintf("Paused %s (%s): %s", sc.Key, sc.Title, c.Params["reason"]),
				Lines: []string{fmt.Sprintf("Its fire times are skipped until /mcloud schedules resume %s %s.", c.Customer.Name, sc.Name)}}, nil
		},
	}
}

func schedulesResumeVerb() *Verb {
	return &Verb{
		Name:     "schedules resume",
		Summary:  "resume a paused schedule from its next fire time",
		Examples: []string{"/mcloud schedules resume customer-x backup"},
		Spec:     Spec{Args: scheduleArgs},
		Access:   mcloud.AccessDevOps,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			sc, err := scheduleOf(c.svc.cfg, c.Customer, c.Params["schedule"])
			if err != nil {
				return Reply{}, err
			}
			err = c.svc.store.ResumeSchedule(ctx, c.Customer.Name, sc.Key, c.Caller)
			if errors.Is(err, store.ErrNotPaused) {
				return Reply{}, mcloud.Errorf(mcloud.ECONFLICT, "%s is not paused; nothing changed.", sc.Key)
			}
			if err != nil {
				return Reply{}, err
			}
			return Reply{Title: fmt.Sprintf("Resumed %s (%s); next fire time %s.", sc.Key, sc.Title, zoned(sc.Spec.Next(c.svc.Now()), sc))}, nil
		},
	}
}
