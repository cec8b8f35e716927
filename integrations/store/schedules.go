package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
)

// Fire is one fire time of a schedule. Its claim is unique per schedule and
// time, and is made in the transaction that files its work, so however many
// replicas see the time come, its work is filed once.
type Fire struct {
	// Schedule is the schedule's key, "customer-x/backup".
	Schedule string
	At       time.Time
	// Outcome is what became of it: FireFiled (its request and job were
	// filed), FireMissed, FirePaused, FireRefused.
	Outcome string
	// Detail says more in one sentence (why refused, how many missed).
	Detail string
	// Late is how long after At it was claimed, when it ran late.
	Late      time.Duration
	RequestID int64
	ClaimedAt time.Time
}

// Fire outcomes.
const (
	FireFiled   = "filed"
	FireMissed  = "missed"
	FirePaused  = "paused"
	FireRefused = "refused"
)

// AlreadyFired is the refusal of a fire time another replica (or an
// earlier run) claimed.
type AlreadyFired struct{ Fire Fire }

func (e *AlreadyFired) Error() string {
	return fmt.Sprintf("fire time %s of %s already claimed", e.Fire.At.UTC().Format(time.RFC3339), e.Fire.Schedule)
}

// claimFire claims f inside tx, or returns *AlreadyFired. ON CONFLICT DO
// NOTHING (both dialects) makes a concurrent claim wait for the first
// transaction and then find the row, instead of aborting its own.
func (s *DB) claimFire(ctx context.Context, tx *sql.Tx, f *Fire) error {
	if f.Outcome == "" {
		f.Outcome = FireFiled
	}
	f.ClaimedAt = s.Now()
	res, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schedule_fires (schedule, fire_at, outcome, detail, late_ms, request_id, claimed_at)
		VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT (schedule, fire_at) DO NOTHING`),
		f.Schedule, ms(f.At), f.Outcome, f.Detail, f.Late.Milliseconds(), ms(f.ClaimedAt))
	if err != nil {
		return fmt.Errorf("claim fire time of %s: %w", f.Schedule, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return &AlreadyFired{Fire: *f}
	}
	return nil
}

func (s *DB) fireFiled(ctx context.Context, tx *sql.Tx, f *Fire, requestID int64) error {
	f.RequestID = requestID
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE schedule_fires SET request_id = ? WHERE schedule = ? AND fire_at = ?`),
		requestID, f.Schedule, ms(f.At)); err != nil {
		return fmt.Errorf("link fire time of %s to request #%d: %w", f.Schedule, requestID, err)
	}
	return nil
}

// ClaimFire claims a fire time whose work is not a request (missed,
// paused, refused), queueing posts in the same transaction, so the team
// is told once. It returns *AlreadyFired when it was claimed before.
func (s *DB) ClaimFire(ctx context.Context, f Fire, posts []OutboxItem) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.claimFire(ctx, tx, &f); err != nil {
			return err
		}
		for _, it := range posts {
			if _, err := s.queueMessage(ctx, tx, it); err != nil {
				return err
			}
		}
		return nil
	})
}

const fireSelect = `SELECT schedule, fire_at, outcome, detail, late_ms, request_id, claimed_at FROM schedule_fires`

func scanFires(rows *sql.Rows) ([]Fire, error) {
	defer rows.Close()
	var out []Fire
	for rows.Next() {
		var f Fire
		var at, late, claimed int64
		if err := rows.Scan(&f.Schedule, &at, &f.Outcome, &f.Detail, &late, &f.RequestID, &claimed); err != nil {
			return nil, fmt.Errorf("scan fire time: %w", err)
		}
		f.At, f.Late, f.ClaimedAt = fromMS(at), time.Duration(late)*time.Millisecond, fromMS(claimed)
		out = append(out, f)
	}
	return out, rows.Err()
}

// LastFire is the latest claimed fire time of a schedule; ok is false when
// it never fired.
func (s *DB) LastFire(ctx context.Context, schedule string) (f Fire, ok bool, err error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(fireSelect+` WHERE schedule = ? ORDER BY fire_at DESC LIMIT 1`), schedule)
	if err != nil {
		return Fire{}, false, fmt.Errorf("read last fire time of %s: %w", schedule, err)
	}
	fs, err := scanFires(rows)
	if err != nil || len(fs) == 0 {
		return Fire{}, false, err
	}
	return fs[0], true, nil
}

// Fires lists a schedule's claimed fire times at or after since, oldest
// first ("" lists every schedule's).
func (s *DB) Fires(ctx context.Context, schedule string, since time.Time) ([]Fire, error) {
	q, args := fireSelect+` WHERE fire_at >= ?`, []any{ms(since)}
	if schedule != "" {
		q, args = q+` AND schedule = ?`, append(args, schedule)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q+` ORDER BY fire_at, schedule`), args...)
	if err != nil {
		return nil, fmt.Errorf("list fire times: %w", err)
	}
	return scanFires(rows)
}

// Pause is a schedule paused by a person, for a maintenance window.
type Pause struct {
	Schedule string
	Reason   string
	By       string
	At       time.Time
}

// ErrNotPaused is ResumeSchedule's answer for a schedule that runs.
var ErrNotPaused = errors.New("schedule is not paused")

// PauseSchedule pauses a schedule of customer and audits who did it and
// why, in one transaction. Pausing a paused schedule updates its reason.
func (s *DB) PauseSchedule(ctx context.Context, customer, schedule, reason string, who mcloud.Caller) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM schedule_pauses WHERE schedule = ?`), schedule); err != nil {
			return fmt.Errorf("pause %s: %w", schedule, err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schedule_pauses (schedule, reason, by_name, at) VALUES (?, ?, ?, ?)`),
			schedule, reason, who.Name, ms(s.Now())); err != nil {
			return fmt.Errorf("pause %s: %w", schedule, err)
		}
		return s.audit(ctx, tx, mcloud.AuditEntry{Customer: customer, UserID: who.UserID, UserName: who.Name, ChannelID: who.ChannelID,
			Event: mcloud.AuditPaused, Detail: schedule + ": " + reason})
	})
}

// ResumeSchedule lifts a pause, audited; ErrNotPaused when there is none.
func (s *DB) ResumeSchedule(ctx context.Context, customer, schedule string, who mcloud.Caller) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM schedule_pauses WHERE schedule = ?`), schedule)
		if err != nil {
			return fmt.Errorf("resume %s: %w", schedule, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotPaused
		}
		return s.audit(ctx, tx, mcloud.AuditEntry{Customer: customer, UserID: who.UserID, UserName: who.Name, ChannelID: who.ChannelID,
			Event: mcloud.AuditResumedSchedule, Detail: schedule})
	})
}

// Pauses returns every paused schedule by key.
func (s *DB) Pauses(ctx context.Context) (map[string]Pause, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT schedule, reason, by_name, at FROM schedule_pauses`)
	if err != nil {
		return nil, fmt.Errorf("list paused schedules: %w", err)
	}
	defer rows.Close()
	out := map[string]Pause{}
	for rows.Next() {
		var p Pause
		var at int64
		if err := rows.Scan(&p.Schedule, &p.Reason, &p.By, &at); err != nil {
			return nil, fmt.Errorf("scan paused schedule: %w", err)
		}
		p.At = fromMS(at)
		out[p.Schedule] = p
	}
	return out, rows.Err()
}
