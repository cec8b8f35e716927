package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DRRun is a finished drill or failover: when, the RPO and RTO it
// measured, how it ended, and its report.
type DRRun struct {
	JobID             int64
	Customer, Env     string
	Kind              string // "drill" or "failover"
	Region            string // where it rebuilt
	Started, Finished time.Time
	RPO, RTO          time.Duration
	Outcome           string // "passed", "missed target", "failed"…
	Report            string
}

// SaveDRRun records a drill or failover; saving the same job again
// replaces it (a resumed job reports once more).
func (s *DB) SaveDRRun(ctx context.Context, r DRRun) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM dr_runs WHERE job_id = ?`), r.JobID); err != nil {
			return fmt.Errorf("record dr %s of job %d: %w", r.Kind, r.JobID, err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO dr_runs (job_id, customer, env, kind, region, started_at, finished_at, rpo_ms, rto_ms, outcome, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.JobID, r.Customer, r.Env, r.Kind, r.Region, ms(r.Started), ms(r.Finished), r.RPO.Milliseconds(), r.RTO.Milliseconds(), r.Outcome, r.Report); err != nil {
			return fmt.Errorf("record dr %s of job %d: %w", r.Kind, r.JobID, err)
		}
		return nil
	})
}

// DRRuns lists a customer's drills and failovers, oldest first.
func (s *DB) DRRuns(ctx context.Context, customer string) ([]DRRun, error) {
	var out []DRRun
	err := s.eachRow(ctx, `SELECT job_id, customer, env, kind, region, started_at, finished_at, rpo_ms, rto_ms, outcome, report FROM dr_runs WHERE customer = ? ORDER BY started_at, job_id`,
		[]any{customer}, func(rows *sql.Rows) error {
			var r DRRun
			var st, fin, rpo, rto int64
			if err := rows.Scan(&r.JobID, &r.Customer, &r.Env, &r.Kind, &r.Region, &st, &fin, &rpo, &rto, &r.Outcome, &r.Report); err != nil {
				return err
			}
			r.Started, r.Finished = fromMS(st), fromMS(fin)
			r.RPO, r.RTO = time.Duration(rpo)*time.Millisecond, time.Duration(rto)*time.Millisecond
			out = append(out, r)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read the dr history of %s: %w", customer, err)
	}
	return out, nil
}

// LiveRegion is the region an environment runs in after a failover.
type LiveRegion struct {
	Env, Region string
	JobID       int64
	At          time.Time
}

// SetLiveRegion records that env now runs in region (a failover's switch).
func (s *DB) SetLiveRegion(ctx context.Context, customer string, l LiveRegion) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM dr_live WHERE customer = ? AND env = ?`), customer, l.Env); err != nil {
			return fmt.Errorf("record the live region of %s/%s: %w", customer, l.Env, err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO dr_live (customer, env, region, job_id, at) VALUES (?, ?, ?, ?, ?)`),
			customer, l.Env, l.Region, l.JobID, ms(s.Now())); err != nil {
			return fmt.Errorf("record the live region of %s/%s: %w", customer, l.Env, err)
		}
		return nil
	})
}

// LiveRegions lists the environments of customer that failed over.
func (s *DB) LiveRegions(ctx context.Context, customer string) ([]LiveRegion, error) {
	var out []LiveRegion
	err := s.eachRow(ctx, `SELECT env, region, job_id, at FROM dr_live WHERE customer = ? ORDER BY env`, []any{customer}, func(rows *sql.Rows) error {
		var l LiveRegion
		var at int64
		if err := rows.Scan(&l.Env, &l.Region, &l.JobID, &at); err != nil {
			return err
		}
		l.At = fromMS(at)
		out = append(out, l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the live regions of %s: %w", customer, err)
	}
	return out, nil
}

// ClaimFailover makes jobID the one failover of customer's env, unless
// another job holds it: it returns the holder, jobID when the claim is
// this job's (again, for a resumed job). The primary key makes it atomic
// on both backends: of two jobs claiming at once, one inserts and the
// other reads the winner. A claim outlives its failover's DNS switch (the
// environment then runs in the DR region; see SetLiveRegion) and is
// released only by ReleaseFailover.
func (s *DB) ClaimFailover(ctx context.Context, customer, env string, jobID int64) (int64, error) {
	for {
		if _, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO dr_claims (customer, env, job_id, at) VALUES (?, ?, ?, ?) ON CONFLICT (customer, env) DO NOTHING`),
			customer, env, jobID, ms(s.Now())); err != nil {
			return 0, fmt.Errorf("claim the failover of %s/%s: %w", customer, env, err)
		}
		var holder int64
		err := s.db.QueryRowContext(ctx, s.rebind(`SELECT job_id FROM dr_claims WHERE customer = ? AND env = ?`), customer, env).Scan(&holder)
		if errors.Is(err, sql.ErrNoRows) {
			continue // the holder released it between the two: claim again
		}
		if err != nil {
			return 0, fmt.Errorf("claim the failover of %s/%s: %w", customer, env, err)
		}
		return holder, nil
	}
}

// ReleaseFailover gives up jobID's claim on customer's env (its failover
// failed or was cancelled before the DNS switch); another job's is kept.
func (s *DB) ReleaseFailover(ctx context.Context, customer, env string, jobID int64) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM dr_claims WHERE customer = ? AND env = ? AND job_id = ?`), customer, env, jobID); err != nil {
		return fmt.Errorf("release the failover of %s/%s: %w", customer, env, err)
	}
	return nil
}
