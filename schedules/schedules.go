// Package schedules fires mcloud's standing work (nightly backups, backup
// reports, snapshot retention, the team digest) at the times the
// configuration gives, each fire time exactly once across replicas,
// restarts and daylight-saving changes: a fire time is claimed in the store
// in the transaction that files its work, so whichever replica claims it
// first runs it and the others find it taken. Fire times missed while every
// replica was down run late within a catch-up window, and older ones are
// reported as missed, never dropped in silence.
package schedules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/schedules/spec"
)

// Schedule is one standing piece of work (config.Scheduled).
type Schedule = config.Scheduled

// Digest is the key of the team digest's schedule.
const Digest = config.DigestKey

// Store is what the runner needs of the store.
type Store interface {
	LastFire(ctx context.Context, schedule string) (store.Fire, bool, error)
	ClaimFire(ctx context.Context, f store.Fire, posts []store.OutboxItem) error
	Pauses(ctx context.Context) (map[string]store.Pause, error)
}

// Service is what the runner needs of commands.
type Service interface {
	StartByPolicy(ctx context.Context, sys commands.System, verb, customer string, params mcloud.Params, fire *store.Fire) (commands.Reply, error)
	ApprovalsChannel() string
	// Digest is the team digest's text, one line per customer.
	Digest(ctx context.Context) string
}

// Runner fires schedules. Every replica runs one; claims in the store make
// each fire time run once however many do.
type Runner struct {
	Schedules []Schedule
	Store     Store
	Service   Service
	// CatchUp: missed fire times at most this old run late; older ones
	// are reported as missed.
	CatchUp time.Duration
	// Late: a fire time claimed more than this after it is marked late
	// in its plan or report (default 5s: above a tick's jitter, below any
	// downtime worth telling).
	Late time.Duration
	Now  func() time.Time
	Log  *slog.Logger

	started time.Time
}

// maxMissedScan bounds how many missed fire times are counted one by one
// (an @every 2s schedule down for a week has 300,000).
const maxMissedScan = 10000

// Run ticks every tick until ctx ends.
func (r *Runner) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := r.Tick(ctx); err != nil && ctx.Err() == nil {
			r.log().Error("schedules", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Runner) log() *slog.Logger {
	if r.Log == nil {
		return slog.Default()
	}
	return r.Log
}

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Tick fires every schedule's due fire times: those after its last claimed
// one (or after this runner started, for a schedule that never fired), up
// to now.
func (r *Runner) Tick(ctx context.Context) error {
	now := r.now()
	if r.started.IsZero() {
		r.started = now
	}
	pauses, err := r.Store.Pauses(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range r.Schedules {
		if err := r.tickOne(ctx, s, now, pauses); err != nil {
			errs = append(errs, fmt.Errorf("schedule %s: %w", s.Key, err))
		}
	}
	return errors.Join(errs...)
}

func (r *Runner) tickOne(ctx context.Context, s Schedule, now time.Time, pauses map[string]store.Pause) error {
	last, ok, err := r.Store.LastFire(ctx, s.Key)
	if err != nil {
		return err
	}
	from := r.started.Add(-time.Nanosecond) // a fire time at the start instant counts
	if ok {
		from = last.At
	}
	window := r.CatchUp
	if window <= 0 {
		window = config.DefaultCatchUp
	}
	if edge := now.Add(-window); from.Before(edge) {
		missed, more := s.Spec.Times(from, edge, maxMissedScan)
		if len(missed) > 0 {
			if err := r.missed(ctx, s, missed, more, now); err != nil {
				return err
			}
			from = missed[len(missed)-1]
			if more {
				from = edge
			}
		}
	}
	due, _ := s.Spec.Times(from, now, 1000)
	for _, at := range due {
		if p, paused := pauses[s.Key]; paused {
			err := r.Store.ClaimFire(ctx, store.Fire{Schedule: s.Key, At: at, Outcome: store.FirePaused,
				Detail: fmt.Sprintf("paused by %s: %s", p.By, p.Reason)}, nil)
			if err := ignoreClaimed(err); err != nil {
				return err
			}
			continue
		}
		if err := r.fire(ctx, s, at, now); err != nil {
			return err
		}
	}
	return nil
}

func ignoreClaimed(err error) error {
	var dup *store.AlreadyFired
	if errors.As(err, &dup) {
		return nil
	}
	return err
}

// missed claims the missed fire times older than the catch-up window as
// one, the latest, and tells the team once.
func (r *Runner) missed(ctx context.Context, s Schedule, missed []time.Time, more bool, now time.Time) error {
	first, last := missed[0], missed[len(missed)-1]
	n := fmt.Sprintf("%d fire times", len(missed))
	if len(missed) == 1 {
		n = "1 fire time"
	}
	if more {
		n = fmt.Sprintf("more than %d fire times", maxMissedScan)
	}
	detail := fmt.Sprintf("%s of the %s (%s) were missed while mcloud was down, from %s to %s; they are older than the %s catch-up window, so they did not run.",
		n, s.Title, s.Spec.Expr, stamp(first, s.Spec), stamp(last, s.Spec), human(r.window()))
	var posts []store.OutboxItem
	if ch := r.Service.ApprovalsChannel(); ch != "" {
		posts = append(posts, store.OutboxItem{Post: mcloud.Post{ChannelID: ch, Text: "Missed: " + detail}})
	}
	err := r.Store.ClaimFire(ctx, store.Fire{Schedule: s.Key, At: last, Outcome: store.FireMissed, Detail: detail, Late: now.Sub(last)}, posts)
	return ignoreClaimed(err)
}

func (r *Runner) window() time.Duration {
	if r.CatchUp <= 0 {
		return config.DefaultCatchUp
	}
	return r.CatchUp
}

// fire files the work of one fire time, claiming it in the same
// transaction. Work that could not be filed is claimed as refused and the
// team told why, once.
func (r *Runner) fire(ctx context.Context, s Schedule, at, now time.Time) error {
	late := now.Sub(at)
	threshold := r.Late
	if threshold <= 0 {
		threshold = 5 * time.Second
	}
	fire := &store.Fire{Schedule: s.Key, At: at, Late: late}
	if s.Key == Digest {
		text := r.Service.Digest(ctx)
		if late > threshold {
			text += fmt.Sprintf("\n(This digest ran %s late: its time was %s, while mcloud was down.)", human(late), stamp(at, s.Spec))
		}
		ch := r.Service.ApprovalsChannel()
		if ch == "" {
			return nil
		}
		fire.Outcome = store.FireFiled
		return ignoreClaimed(r.Store.ClaimFire(ctx, *fire, []store.OutboxItem{{Post: mcloud.Post{ChannelID: ch, Text: text}}}))
	}
	params := mcloud.Params{}
	for k, v := range s.Params {
		params[k] = v
	}
	if late > threshold {
		params["late"] = fmt.Sprintf("%s late (its time was %s)", human(late), stamp(at, s.Spec))
	}
	_, err := r.Service.StartByPolicy(ctx, commands.System{Key: s.Key, Title: s.Title}, s.Verb, s.Customer, params, fire)
	if err == nil || ignoreClaimed(err) == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	// Loud, once: the claim and the message are one transaction.
	reason := mcloud.ErrorMessage(err)
	if reason == "" {
		r.log().Error("schedule could not start", "schedule", s.Key, "err", err)
		reason = "internal error; the details are in the bot's log."
	}
	var posts []store.OutboxItem
	if ch := r.Service.ApprovalsChannel(); ch != "" {
		posts = append(posts, store.OutboxItem{Post: mcloud.Post{ChannelID: ch,
			Text: fmt.Sprintf("The %s (%s) could not start: %s", s.Title, stamp(at, s.Spec), reason)}})
	}
	return ignoreClaimed(r.Store.ClaimFire(ctx, store.Fire{Schedule: s.Key, At: at, Outcome: store.FireRefused, Detail: reason, Late: late}, posts))
}

// stamp is a fire time in its zone and UTC.
func stamp(t time.Time, sp spec.Spec) string {
	if sp.Loc == time.UTC {
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return t.In(sp.Loc).Format("2006-01-02 15:04:05 MST") + " (" + t.UTC().Format("15:04:05 UTC") + ")"
}

func human(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}
