package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
)

const jobSelect = `SELECT id, request_id, verb, customer, env, params, status, attempt, channel_id, requester, error, cancel, created_at, started_at, ended_at FROM jobs`

// Job returns job id, or ENOTFOUND.
func (s *DB) Job(ctx context.Context, id int64) (*mcloud.Job, error) {
	return s.getJob(ctx, s.db, id, false)
}

// Jobs lists the newest jobs, of one customer or ("" ) of all, newest first.
func (s *DB) Jobs(ctx context.Context, customer string, active bool, limit int) ([]mcloud.Job, error) {
	q, args := jobSelect+` WHERE 1 = 1`, []any{}
	if customer != "" {
		q, args = q+` AND customer = ?`, append(args, customer)
	}
	if active {
		q, args = q+` AND status IN (?, ?)`, append(args, string(mcloud.JobQueued), string(mcloud.JobRunning))
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q+` ORDER BY id DESC LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return scanJobs(rows)
}

// ErrBusy means the job is running in a live process (its heartbeat is
// fresh), so this attempt must not start it a second time.
var ErrBusy = errors.New("job is running elsewhere")

// ErrSuperseded means a newer attempt took the job over (this attempt's
// heartbeat went quiet long enough to look dead): this attempt must stop
// and write nothing more.
var ErrSuperseded = errors.New("job was taken over by a newer attempt")

// owns checks, inside tx, that attempt is still the job's current one.
func (s *DB) owns(ctx context.Context, tx *sql.Tx, id int64, attempt int) error {
	var current int
	if err := tx.QueryRowContext(ctx, s.rebind(`SELECT attempt FROM jobs WHERE id = ?`+s.forUpdate()), id).Scan(&current); err != nil {
		return fmt.Errorf("read attempt of job #%d: %w", id, err)
	}
	if current != attempt {
		return ErrSuperseded
	}
	return nil
}

// StartJob marks job id running for a new attempt. It returns the job as it
// now is and whether an earlier attempt had started and never finished (its
// process died): the caller resumes or fails it, and says which. A job that
// is already finished is returned unchanged and must not run again. A job
// whose heartbeat is newer than staleBefore is alive elsewhere: ErrBusy.
func (s *DB) StartJob(ctx context.Context, id int64, staleBefore time.Time) (job *mcloud.Job, interrupted bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		j, err := s.getJob(ctx, tx, id, true)
		if err != nil {
			return err
		}
		job = j
		if j.Status.Done() {
			return nil
		}
		sys := mcloud.Caller{UserID: "mcloud", Name: "mcloud", ChannelID: j.ChannelID}
		if j.Cancel && j.Status == mcloud.JobQueued {
			return s.finish(ctx, tx, j, mcloud.JobCancelled, "", sys, "cancelled before it started")
		}
		interrupted = j.Status == mcloud.JobRunning
		if interrupted {
			var beat int64
			if err := tx.QueryRowContext(ctx, s.rebind(`SELECT heartbeat_at FROM jobs WHERE id = ?`), j.ID).Scan(&beat); err != nil {
				return err
			}
			if beat >= ms(staleBefore) {
				return ErrBusy
			}
		}
		j.Status, j.Attempt = mcloud.JobRunning, j.Attempt+1
		if j.StartedAt.IsZero() {
			j.StartedAt = s.Now()
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET status = ?, attempt = ?, started_at = ?, heartbeat_at = ? WHERE id = ?`),
			string(j.Status), j.Attempt, ms(j.StartedAt), ms(s.Now()), j.ID); err != nil {
			return fmt.Errorf("mark job running: %w", err)
		}
		if interrupted {
			return nil // the caller decides resume or fail, and audits that
		}
		return s.audit(ctx, tx, jobAudit(j, sys, mcloud.AuditStarted, fmt.Sprintf("job #%d started (%s)", j.ID, j.Verb)))
	})
	if errors.Is(err, ErrBusy) {
		return job, false, ErrBusy
	}
	if err != nil {
		return nil, false, fmt.Errorf("start job #%d: %w", id, err)
	}
	return job, interrupted, nil
}

// FinishJob records a job's outcome, audits it with detail, and queues
// announce (when it has text) in the same transaction, so a crash can lose
// neither the outcome nor the message that tells people about it.
// attempt must still be the job's current one (ErrSuperseded).
func (s *DB) FinishJob(ctx context.Context, id int64, attempt int, status mcloud.JobStatus, errText, detail string, announce mcloud.Post) (*mcloud.Job, error) {
	var job *mcloud.Job
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		j, err := s.getJob(ctx, tx, id, true)
		if err != nil {
			return err
		}
		job = j
		if j.Status.Done() {
			return nil
		}
		if j.Attempt != attempt {
			return ErrSuperseded
		}
		if err := s.finish(ctx, tx, j, status, errText, mcloud.Caller{UserID: "mcloud", Name: "mcloud", ChannelID: j.ChannelID}, detail); err != nil {
			return err
		}
		if announce.Text == "" {
			return nil
		}
		_, err = s.post(ctx, tx, announce)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("finish job #%d: %w", id, err)
	}
	return job, nil
}

func (s *DB) finish(ctx context.Context, tx *sql.Tx, j *mcloud.Job, status mcloud.JobStatus, errText string, who mcloud.Caller, detail string) error {
	j.Status, j.Error, j.EndedAt = status, errText, s.Now()
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET status = ?, error = ?, ended_at = ? WHERE id = ?`),
		string(status), errText, ms(j.EndedAt), j.ID); err != nil {
		return fmt.Errorf("record job outcome: %w", err)
	}
	event := map[mcloud.JobStatus]string{mcloud.JobSucceeded: mcloud.AuditSucceeded, mcloud.JobFailed: mcloud.AuditFailed,
		mcloud.JobCancelled: mcloud.AuditCancelled}[status]
	return s.audit(ctx, tx, jobAudit(j, who, event, detail))
}

// RequestCancel asks job id to stop. A queued job is cancelled at once; a
// running one stops at its next step boundary. A finished job, or one
// already asked to stop, is ECONFLICT.
func (s *DB) RequestCancel(ctx context.Context, id int64, who mcloud.Caller) (*mcloud.Job, error) {
	var job *mcloud.Job
	var refusal *mcloud.Error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		j, err := s.getJob(ctx, tx, id, true)
		if err != nil {
			return err
		}
		job = j
		switch {
		case j.Status.Done():
			refusal = mcloud.Errorf(mcloud.ECONFLICT, "Job #%d already %s; there is nothing to cancel.", j.ID, j.Status)
			return nil
		case j.Cancel:
			// Asking twice must not read as a second stop in the thread.
			refusal = mcloud.Errorf(mcloud.ECONFLICT, "#%d (%s for %s) is already stopping; it stops after its current step. Nothing more to do.", j.ID, j.Verb, j.Customer)
			return nil
		}
		j.Cancel = true
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET cancel = 1 WHERE id = ?`), j.ID); err != nil {
			return fmt.Errorf("flag cancel: %w", err)
		}
		if err := s.audit(ctx, tx, jobAudit(j, who, mcloud.AuditCancel, "cancel requested")); err != nil {
			return err
		}
		if j.Status == mcloud.JobQueued {
			return s.finish(ctx, tx, j, mcloud.JobCancelled, "", who, "cancelled before it started")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cancel job #%d: %w", id, err)
	}
	if refusal != nil {
		return job, refusal
	}
	return job, nil
}

// Heartbeat records that attempt of job id is still being worked on by a
// live process; ErrSuperseded when a newer attempt owns the job.
func (s *DB) Heartbeat(ctx context.Context, id int64, attempt int) error {
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND status = ? AND attempt = ?`),
		ms(s.Now()), id, string(mcloud.JobRunning), attempt)
	if err != nil {
		return fmt.Errorf("heartbeat job #%d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrSuperseded
	}
	return nil
}

// ReleaseJob clears attempt's heartbeat when its process stops cleanly, so
// the next process resumes the job at once instead of waiting for the
// heartbeat to go stale.
func (s *DB) ReleaseJob(ctx context.Context, id int64, attempt int) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE jobs SET heartbeat_at = 0 WHERE id = ? AND status = ? AND attempt = ?`),
		id, string(mcloud.JobRunning), attempt); err != nil {
		return fmt.Errorf("release job #%d: %w", id, err)
	}
	return nil
}

// StaleJobs lists jobs marked running whose heartbeat stopped before
// staleBefore: their process died and they wait to be resumed.
func (s *DB) StaleJobs(ctx context.Context, staleBefore time.Time) ([]mcloud.Job, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(jobSelect+` WHERE status = ? AND heartbeat_at < ? ORDER BY id`),
		string(mcloud.JobRunning), ms(staleBefore))
	if err != nil {
		return nil, fmt.Errorf("list stale jobs: %w", err)
	}
	return scanJobs(rows)
}

// JobSteps lists the completed steps of a job, in order.
func (s *DB) JobSteps(ctx context.Context, id int64) ([]Step, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT name, value, state, done_at FROM job_steps WHERE job_id = ? ORDER BY done_at, name`), id)
	if err != nil {
		return nil, fmt.Errorf("list steps of job #%d: %w", id, err)
	}
	defer rows.Close()
	var out []Step
	for rows.Next() {
		var st Step
		var at int64
		if err := rows.Scan(&st.Name, &st.Value, &st.State, &at); err != nil {
			return nil, err
		}
		st.At = fromMS(at)
		out = append(out, st)
	}
	return out, rows.Err()
}

// Step is a completed step of a job. Value is the human-readable
// progress text shown in the thread and by "jobs"; State is the step's
// typed result as JSON, handed back to later steps when a job resumes ("" for
// steps that keep only text).
type Step struct {
	Name, Value string
	State       string
	At          time.Time
}

// CancelRequested reports whether someone asked job id to stop.
func (s *DB) CancelRequested(ctx context.Context, id int64) (bool, error) {
	var c int
	if err := s.db.QueryRowContext(ctx, s.rebind(`SELECT cancel FROM jobs WHERE id = ?`), id).Scan(&c); err != nil {
		return false, fmt.Errorf("read cancel flag of job #%d: %w", id, err)
	}
	return c != 0, nil
}

// Step returns the progress text a job saved for step name, if any.
func (s *DB) Step(ctx context.Context, jobID int64, name string) (value string, done bool, err error) {
	st, done, err := s.Checkpoint(ctx, jobID, name)
	return st.Value, done, err
}

// Checkpoint returns what a job saved for step name, if anything. Jobs use
// it to skip work an interrupted attempt already finished and to get back
// its result.
func (s *DB) Checkpoint(ctx context.Context, jobID int64, name string) (Step, bool, error) {
	st := Step{Name: name}
	var at int64
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT value, state, done_at FROM job_steps WHERE job_id = ? AND name = ?`), jobID, name).Scan(&st.Value, &st.State, &at)
	if err == sql.ErrNoRows {
		return Step{}, false, nil
	}
	if err != nil {
		return Step{}, false, fmt.Errorf("read step %q of job #%d: %w", name, jobID, err)
	}
	st.At = fromMS(at)
	return st, true, nil
}

// SaveStep records that step name of job is done, with its result, audits
// it and queues announce (when it has text), in one transaction: a resumed
// job skips a saved step, so its message must already be on its way.
func (s *DB) SaveStep(ctx context.Context, job *mcloud.Job, name, value, detail string, announce mcloud.Post) error {
	return s.SaveCheckpoint(ctx, job, Checkpoint{Step: Step{Name: name, Value: value}, Detail: detail, Announce: announce})
}

// Checkpoint is a completed step as a job saves it.
type Checkpoint struct {
	Step
	// Detail is the audit entry's text; "" saves the step unaudited (a
	// cleanup that found nothing to do).
	Detail   string
	Announce mcloud.Post
	// Ending, when set, replaces the job's recorded ending (SetEnding) in
	// the same transaction: a cleanup that changes what the job will report
	// must not lose that change to a crash after its checkpoint.
	Ending string
}

// SaveCheckpoint records cp as done for job, audits it and queues its
// announcement (when it has text), in one transaction (see SaveStep).
func (s *DB) SaveCheckpoint(ctx context.Context, job *mcloud.Job, cp Checkpoint) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.owns(ctx, tx, job.ID, job.Attempt); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO job_steps (job_id, name, value, state, done_at) VALUES (?, ?, ?, ?, ?)`),
			job.ID, cp.Name, cp.Value, cp.State, ms(s.Now())); err != nil {
			return err
		}
		if cp.Ending != "" {
			if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET ending = ? WHERE id = ?`), cp.Ending, job.ID); err != nil {
				return err
			}
		}
		if cp.Detail != "" {
			if err := s.audit(ctx, tx, jobAudit(job, mcloud.Caller{UserID: "mcloud", Name: "mcloud", ChannelID: job.ChannelID}, mcloud.AuditStep, cp.Detail)); err != nil {
				return err
			}
		}
		if cp.Announce.Text == "" {
			return nil
		}
		_, err := s.post(ctx, tx, cp.Announce)
		return err
	})
	if err != nil {
		return fmt.Errorf("save step %q of job #%d: %w", cp.Name, job.ID, err)
	}
	return nil
}

// SetEnding records how job is ending (the job runner's own encoding)
// before it runs the job's cleanup steps: an attempt that finds an ending
// recorded only finishes the cleanups and reports it, and never runs the
// job's work again. attempt must still be the job's current one.
func (s *DB) SetEnding(ctx context.Context, job *mcloud.Job, ending string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.owns(ctx, tx, job.ID, job.Attempt); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET ending = ? WHERE id = ?`), ending, job.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("record ending of job #%d: %w", job.ID, err)
	}
	return nil
}

// Ending returns job id's recorded ending, "" while it has none.
func (s *DB) Ending(ctx context.Context, id int64) (string, error) {
	var e string
	if err := s.db.QueryRowContext(ctx, s.rebind(`SELECT ending FROM jobs WHERE id = ?`), id).Scan(&e); err != nil {
		return "", fmt.Errorf("read ending of job #%d: %w", id, err)
	}
	return e, nil
}

// AuditJob appends an audit entry about a job.
func (s *DB) AuditJob(ctx context.Context, job *mcloud.Job, event, detail string) error {
	return s.audit(ctx, s.db, jobAudit(job, mcloud.Caller{UserID: "mcloud", Name: "mcloud", ChannelID: job.ChannelID}, event, detail))
}

func jobAudit(j *mcloud.Job, who mcloud.Caller, event, detail string) mcloud.AuditEntry {
	return mcloud.AuditEntry{Customer: j.Customer, UserID: who.UserID, UserName: who.Name, ChannelID: who.ChannelID,
		RequestID: j.RequestID, JobID: j.ID, Event: event, Detail: detail}
}

func (s *DB) getJob(ctx context.Context, q querier, id int64, lock bool) (*mcloud.Job, error) {
	query := jobSelect + ` WHERE id = ?`
	if lock {
		query += s.forUpdate()
	}
	rows, err := q.QueryContext(ctx, s.rebind(query), id)
	if err != nil {
		return nil, fmt.Errorf("read job #%d: %w", id, err)
	}
	list, err := scanJobs(rows)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, mcloud.Errorf(mcloud.ENOTFOUND, "There is no job #%d.", id)
	}
	return &list[0], nil
}

func scanJobs(rows *sql.Rows) ([]mcloud.Job, error) {
	defer rows.Close()
	var out []mcloud.Job
	for rows.Next() {
		var j mcloud.Job
		var params, status string
		var cancel int
		var created, started, ended int64
		if err := rows.Scan(&j.ID, &j.RequestID, &j.Verb, &j.Customer, &j.Env, &params, &status, &j.Attempt,
			&j.ChannelID, &j.Requester, &j.Error, &cancel, &created, &started, &ended); err != nil {
			return nil, fmt.Errorf("scan job: %w", err)
		}
		if err := json.Unmarshal([]byte(params), &j.Params); err != nil {
			return nil, fmt.Errorf("decode job #%d: %w", j.ID, err)
		}
		j.Status, j.Cancel = mcloud.JobStatus(status), cancel != 0
		j.CreatedAt, j.StartedAt, j.EndedAt = fromMS(created), fromMS(started), fromMS(ended)
		out = append(out, j)
	}
	return out, rows.Err()
}
