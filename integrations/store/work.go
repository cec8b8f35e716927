package store

import (
	"context"
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
)

// StartWork records that job w.JobID is changing host w.Host until
// w.Until, so that alerts for it go to the job's thread
// (mcloud.ExpectAlert). Recording it again moves its bound.
func (s *DB) StartWork(ctx context.Context, w mcloud.HostWork) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO host_work (job_id, host, customer, address, until_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (job_id, host) DO UPDATE SET until_at = excluded.until_at`), w.JobID, w.Host, w.Customer, w.Address, ms(w.Until))
	if err != nil {
		return fmt.Errorf("record job #%d working on %s: %w", w.JobID, w.Host, err)
	}
	return nil
}

// EndWork records that job jobID is done with host ("" for every host
// of the job): its alerts are problems like any again.
func (s *DB) EndWork(ctx context.Context, jobID int64, host string) error {
	q, args := `DELETE FROM host_work WHERE job_id = ?`, []any{jobID}
	if host != "" {
		q, args = q+` AND host = ?`, append(args, host)
	}
	if _, err := s.db.ExecContext(ctx, s.rebind(q), args...); err != nil {
		return fmt.Errorf("record job #%d done with %s: %w", jobID, host, err)
	}
	return nil
}

// hostWork is customer's work of running jobs. A job that ended (however
// it ended, even by a dead process whose job was then failed) is not
// working on anything, whatever rows it left.
func (s *DB) hostWork(ctx context.Context, q querier, customer string) ([]mcloud.HostWork, error) {
	rows, err := q.QueryContext(ctx, s.rebind(`SELECT w.job_id, j.request_id, j.channel_id, j.verb, w.customer, w.host, w.address, w.until_at
		FROM host_work w JOIN jobs j ON j.id = w.job_id WHERE w.customer = ? AND j.status = ?`), customer, string(mcloud.JobRunning))
	if err != nil {
		return nil, fmt.Errorf("read hosts under work: %w", err)
	}
	defer rows.Close()
	var out []mcloud.HostWork
	for rows.Next() {
		var w mcloud.HostWork
		var until int64
		if err := rows.Scan(&w.JobID, &w.RequestID, &w.ChannelID, &w.Verb, &w.Customer, &w.Host, &w.Address, &until); err != nil {
			return nil, fmt.Errorf("read hosts under work: %w", err)
		}
		w.Until = fromMS(until)
		out = append(out, w)
	}
	return out, rows.Err()
}

// HostWork lists customer's hosts that running jobs are changing.
func (s *DB) HostWork(ctx context.Context, customer string) ([]mcloud.HostWork, error) {
	return s.hostWork(ctx, s.db, customer)
}

// problemShown reports whether any channel shows (or counts in a
// summary) the problem with fingerprint fp.
func (s *DB) problemShown(ctx context.Context, q querier, fp string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM alert_messages m JOIN alert_problems p ON p.id = m.problem_id
		WHERE p.fingerprint = ?`), fp).Scan(&n)
	return n > 0, err
}

// expectation applies mcloud.ExpectAlert for a, reading the work and
// what the channels show inside tx.
func (s *DB) expectation(ctx context.Context, tx querier, a mcloud.Alert, customer string, now time.Time) (mcloud.Expectation, error) {
	if customer == "" || a.Host == "" {
		return mcloud.ExpectAlert(nil, customer, a, false, now), nil
	}
	work, err := s.hostWork(ctx, tx, customer)
	if err != nil || len(work) == 0 {
		return mcloud.ExpectAlert(nil, customer, a, false, now), err
	}
	shown, err := s.problemShown(ctx, tx, a.Fingerprint())
	if err != nil {
		return mcloud.Expectation{}, fmt.Errorf("read where the problem is shown: %w", err)
	}
	return mcloud.ExpectAlert(work, customer, a, shown, now), nil
}
