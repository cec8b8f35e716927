package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
)

// AlertMessageKey is the outbox and thread key of a problem's (or a
// summary's) message. Outbox rows, thread roots and in-place updates are
// keyed by request number; alert problems take the negative numbers so
// the two can never meet, and the poster treats both alike: a KindPlan is
// the thread root, a KindUpdate edits it, a KindPost replies in it.
func AlertMessageKey(problemID int64) int64 { return -problemID }

// AlertRenderer makes the texts of alert messages. The store calls it
// inside the transaction that records the alert, so a message always
// shows the state it was queued with.
type AlertRenderer interface {
	// Problem is the problem's own message.
	Problem(p mcloud.Problem) string
	// Change is the reply in its thread telling what a changed.
	Change(p mcloud.Problem, a mcloud.Alert) string
	// Summary is a channel's storm summary of an interval.
	Summary(from time.Time, problems []mcloud.Problem) string
	// Expected is the reply in a job's thread for an alert of a host the
	// job is changing (mcloud.ExpectAlert).
	Expected(p mcloud.Problem, a mcloud.Alert, w mcloud.HostWork) string
}

// AlertDelivery is where an alert goes and how much a channel may take.
type AlertDelivery struct {
	Channels []string
	// Budget is how many new problem messages a channel gets per Interval
	// before new problems are folded into the interval's summary.
	Budget   int
	Interval time.Duration
	Render   AlertRenderer
}

// AlertOutcome is what recording one alert did.
type AlertOutcome struct {
	Problem mcloud.Problem
	// Actions is DecideAlert's answer per channel.
	Actions map[string]mcloud.AlertAction
	// Expected is ExpectAlert's answer: whether a job is changing the
	// alert's host, and whether the alert was said in its thread.
	Expected mcloud.Expectation
}

const problemCols = `id, fingerprint, source, alert_key, customer, name, host, severity, status, summary, count, first_at, last_at, acked_by, acked_at, acked_until, job_id`

func scanProblem(row interface{ Scan(...any) error }) (mcloud.Problem, error) {
	var p mcloud.Problem
	var sev, st string
	var first, last, ackAt, ackUntil int64
	err := row.Scan(&p.ID, &p.Fingerprint, &p.Source, &p.Key, &p.Customer, &p.Name, &p.Host, &sev, &st, &p.Summary,
		&p.Count, &first, &last, &p.AckedBy, &ackAt, &ackUntil, &p.JobID)
	p.Severity, p.Status = mcloud.Severity(sev), mcloud.AlertStatus(st)
	p.FirstAt, p.LastAt, p.AckedAt, p.AckedUntil = fromMS(first), fromMS(last), fromMS(ackAt), fromMS(ackUntil)
	return p, err
}

// lockAlerts serialises alert recording: SQLite transactions already
// begin IMMEDIATE; on PostgreSQL a transaction-scoped advisory lock keeps
// two replicas from both posting a problem's first message.
func (s *DB) lockAlerts(ctx context.Context, tx *sql.Tx) error {
	if s.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7312012)`)
	return err
}

// RecordAlert counts a under its problem and, per channel of d, applies
// DecideAlert and queues what it says, all in one transaction: an alert
// is either recorded with its messages queued, or not at all.
func (s *DB) RecordAlert(ctx context.Context, a mcloud.Alert, customer string, d AlertDelivery) (AlertOutcome, error) {
	out := AlertOutcome{Actions: map[string]mcloud.AlertAction{}}
	now := a.At
	if now.IsZero() {
		now = s.Now()
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockAlerts(ctx, tx); err != nil {
			return err
		}
		e, err := s.expectation(ctx, tx, a, customer, now)
		if err != nil {
			return err
		}
		out.Expected = e
		p, err := s.upsertProblem(ctx, tx, a, customer, e.Work.JobID, now)
		if err != nil {
			return err
		}
		out.Problem = p
		if e.Thread {
			w := e.Work
			if _, err := s.post(ctx, tx, mcloud.Post{ChannelID: w.ChannelID, RequestID: w.RequestID, JobID: w.JobID,
				Text: d.Render.Expected(p, a, w)}); err != nil {
				return err
			}
		}
		if !e.Channels {
			return nil
		}
		for _, ch := range d.Channels {
			act, err := s.deliverAlert(ctx, tx, p, a, ch, d, now)
			if err != nil {
				return fmt.Errorf("channel %s: %w", ch, err)
			}
			out.Actions[ch] = act
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("record alert %s: %w", a.Fingerprint(), err)
	}
	return out, nil
}

func (s *DB) upsertProblem(ctx context.Context, tx *sql.Tx, a mcloud.Alert, customer string, jobID int64, now time.Time) (mcloud.Problem, error) {
	row := tx.QueryRowContext(ctx, s.rebind(`SELECT `+problemCols+` FROM alert_problems WHERE fingerprint = ?`), a.Fingerprint())
	p, err := scanProblem(row)
	if errors.Is(err, sql.ErrNoRows) {
		p = mcloud.Problem{Fingerprint: a.Fingerprint(), Source: a.Source, Key: a.Key, FirstAt: now}
		p.ID, err = s.insertID(ctx, tx, `INSERT INTO alert_problems (fingerprint, source, alert_key, first_at) VALUES (?, ?, ?, ?)`,
			p.Fingerprint, p.Source, p.Key, ms(now))
	}
	if err != nil {
		return p, fmt.Errorf("read problem: %w", err)
	}
	p.Customer, p.Name, p.Host = customer, a.Name, a.Host
	if a.Severity != "" {
		p.Severity = a.Severity
	}
	if a.Summary != "" {
		p.Summary = a.Summary
	}
	p.Count++
	p.LastAt = now
	p.JobID = jobID
	switch a.Status {
	case mcloud.AlertAcknowledged:
		p.AckedBy, p.AckedAt = a.By, now
		if p.Status == "" || p.Status == mcloud.AlertResolved {
			p.Status = mcloud.AlertFiring
		}
	case mcloud.AlertDowntimeStart, mcloud.AlertDowntimeEnd:
		// A downtime says nothing of whether the problem is still there,
		// and a downtime of a host or service never seen failing (every
		// service of a host being patched) opens no problem.
		if p.Status == "" {
			p.Status = mcloud.AlertResolved
		}
	case mcloud.AlertFiring:
		if p.Status == mcloud.AlertResolved {
			p.AckedBy, p.AckedAt, p.AckedUntil = "", time.Time{}, time.Time{} // a new occurrence
		}
		p.Status = a.Status
	default:
		p.Status = a.Status
	}
	_, err = tx.ExecContext(ctx, s.rebind(`UPDATE alert_problems SET customer = ?, name = ?, host = ?, severity = ?, status = ?, summary = ?,
		url = ?, count = ?, last_at = ?, acked_by = ?, acked_at = ?, acked_until = ?, job_id = ? WHERE id = ?`),
		p.Customer, p.Name, p.Host, string(p.Severity), string(p.Status), p.Summary, a.URL, p.Count, ms(p.LastAt),
		p.AckedBy, ms(p.AckedAt), ms(p.AckedUntil), p.JobID, p.ID)
	if err != nil {
		return p, fmt.Errorf("update problem: %w", err)
	}
	return p, nil
}

// deliverAlert applies DecideAlert for one channel and queues its messages.
func (s *DB) deliverAlert(ctx context.Context, tx *sql.Tx, p mcloud.Problem, a mcloud.Alert, ch string, d AlertDelivery, now time.Time) (mcloud.AlertAction, error) {
	var v mcloud.AlertView
	var summaryID int64
	var st string
	err := tx.QueryRowContext(ctx, s.rebind(`SELECT summary_id, status FROM alert_messages WHERE problem_id = ? AND channel_id = ?`), p.ID, ch).
		Scan(&summaryID, &st)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, err
	default:
		v = mcloud.AlertView{Shown: summaryID == 0, Folded: summaryID != 0, Status: mcloud.AlertStatus(st)}
	}
	window := windowStart(now, d.Interval)
	var posted int
	if !v.Shown && !v.Folded {
		if err := tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM alert_messages WHERE channel_id = ? AND summary_id = 0 AND created_at >= ?`),
			ch, ms(window)).Scan(&posted); err != nil {
			return 0, err
		}
	}
	act := mcloud.DecideAlert(v, a.Status, posted, d.Budget)
	key := AlertMessageKey(p.ID)
	queue := func(kind, text string, k int64) error {
		_, err := s.insertID(ctx, tx, `INSERT INTO outbox (channel_id, request_id, job_id, text, created_at, kind) VALUES (?, ?, 0, ?, ?, ?)`,
			ch, k, text, ms(s.Now()), kind)
		return err
	}
	setStatus := func() error {
		_, err := tx.ExecContext(ctx, s.rebind(`UPDATE alert_messages SET status = ? WHERE problem_id = ? AND channel_id = ?`), string(a.Status), p.ID, ch)
		return err
	}
	switch act {
	case mcloud.AlertNew:
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO alert_messages (problem_id, channel_id, summary_id, status, created_at) VALUES (?, ?, 0, ?, ?)`),
			p.ID, ch, string(a.Status), ms(now)); err != nil {
			return act, err
		}
		return act, queue(KindPlan, d.Render.Problem(p), key)
	case mcloud.AlertUpdate:
		return act, queue(KindUpdate, d.Render.Problem(p), key)
	case mcloud.AlertUpdateReply:
		if err := setStatus(); err != nil {
			return act, err
		}
		if err := queue(KindUpdate, d.Render.Problem(p), key); err != nil {
			return act, err
		}
		return act, queue(KindPost, d.Render.Change(p, a), key)
	case mcloud.AlertFold:
		sid, created, err := s.summaryFor(ctx, tx, ch, window)
		if err != nil {
			return act, err
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO alert_messages (problem_id, channel_id, summary_id, status, created_at) VALUES (?, ?, ?, ?, ?)`),
			p.ID, ch, sid, string(a.Status), ms(now)); err != nil {
			return act, err
		}
		text, err := s.summaryText(ctx, tx, sid, d.Render)
		if err != nil {
			return act, err
		}
		kind := KindUpdate
		if created {
			kind = KindPlan
		}
		return act, queue(kind, text, AlertMessageKey(sid))
	case mcloud.AlertUpdateSummary:
		if err := setStatus(); err != nil {
			return act, err
		}
		text, err := s.summaryText(ctx, tx, summaryID, d.Render)
		if err != nil {
			return act, err
		}
		return act, queue(KindUpdate, text, AlertMessageKey(summaryID))
	}
	return act, nil
}

func windowStart(now time.Time, interval time.Duration) time.Time {
	if interval <= 0 {
		interval = time.Minute
	}
	return now.Truncate(interval)
}

// summaryFor finds or makes the channel's summary of the interval from.
func (s *DB) summaryFor(ctx context.Context, tx *sql.Tx, ch string, from time.Time) (id int64, created bool, err error) {
	fp := fmt.Sprintf("summary:%s:%d", ch, ms(from))
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT id FROM alert_problems WHERE fingerprint = ?`), fp).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		id, err = s.insertID(ctx, tx, `INSERT INTO alert_problems (fingerprint, kind, source, first_at, last_at) VALUES (?, 'summary', 'mcloud', ?, ?)`,
			fp, ms(from), ms(from))
		return id, true, err
	}
	return id, false, err
}

func (s *DB) summaryText(ctx context.Context, tx *sql.Tx, sid int64, r AlertRenderer) (string, error) {
	var first int64
	if err := tx.QueryRowContext(ctx, s.rebind(`SELECT first_at FROM alert_problems WHERE id = ?`), sid).Scan(&first); err != nil {
		return "", err
	}
	ps, err := s.problems(ctx, tx, `id IN (SELECT problem_id FROM alert_messages WHERE summary_id = ?) ORDER BY id`, sid)
	if err != nil {
		return "", err
	}
	return r.Summary(fromMS(first), ps), nil
}

func (s *DB) problems(ctx context.Context, q querier, where string, args ...any) ([]mcloud.Problem, error) {
	rows, err := q.QueryContext(ctx, s.rebind(`SELECT `+problemCols+` FROM alert_problems WHERE `+where), args...)
	if err != nil {
		return nil, fmt.Errorf("read problems: %w", err)
	}
	defer rows.Close()
	var out []mcloud.Problem
	for rows.Next() {
		p, err := scanProblem(rows)
		if err != nil {
			return nil, fmt.Errorf("scan problem: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// OpenProblems lists the problems not resolved, most severe and oldest
// first; customer "" lists every customer's (and unmatched ones).
func (s *DB) OpenProblems(ctx context.Context, customer string) ([]mcloud.Problem, error) {
	where := `kind = 'problem' AND status <> 'resolved'`
	var args []any
	if customer != "" {
		where += ` AND customer = ?`
		args = append(args, customer)
	}
	ps, err := s.problems(ctx, s.db, where+` ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, first_at, id`, args...)
	return ps, err
}

// Problem reads one problem; ENOTFOUND when there is none.
func (s *DB) Problem(ctx context.Context, id int64) (mcloud.Problem, error) {
	p, err := scanProblem(s.db.QueryRowContext(ctx, s.rebind(`SELECT `+problemCols+` FROM alert_problems WHERE id = ? AND kind = 'problem'`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, mcloud.Errorf(mcloud.ENOTFOUND, "There is no alert #%d.", id)
	}
	if err != nil {
		return p, fmt.Errorf("read alert #%d: %w", id, err)
	}
	return p, nil
}

// AlertCounted is how many alerts the store counted, over all problems.
func (s *DB) AlertCounted(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT SUM(count) FROM alert_problems WHERE kind = 'problem'`).Scan(&n)
	return n.Int64, err
}

// AcknowledgeProblem records that by acknowledged problem id until
// (zero: until it recovers) and queues, for every channel showing it, the
// message's update and a reply in its thread, in one transaction.
func (s *DB) AcknowledgeProblem(ctx context.Context, id int64, by, comment string, until time.Time, r AlertRenderer) (mcloud.Problem, error) {
	var p mcloud.Problem
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockAlerts(ctx, tx); err != nil {
			return err
		}
		var err error
		p, err = scanProblem(tx.QueryRowContext(ctx, s.rebind(`SELECT `+problemCols+` FROM alert_problems WHERE id = ? AND kind = 'problem'`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return mcloud.Errorf(mcloud.ENOTFOUND, "There is no alert #%d.", id)
		}
		if err != nil {
			return err
		}
		now := s.Now()
		p.AckedBy, p.AckedAt, p.AckedUntil = by, now, until
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE alert_problems SET acked_by = ?, acked_at = ?, acked_until = ? WHERE id = ?`),
			by, ms(now), ms(until), id); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.rebind(`SELECT channel_id, summary_id FROM alert_messages WHERE problem_id = ?`), id)
		if err != nil {
			return err
		}
		type msg struct {
			ch  string
			sid int64
		}
		var msgs []msg
		for rows.Next() {
			var m msg
			if err := rows.Scan(&m.ch, &m.sid); err != nil {
				rows.Close()
				return err
			}
			msgs = append(msgs, m)
		}
		rows.Close()
		a := mcloud.Alert{Source: p.Source, Key: p.Key, Status: mcloud.AlertAcknowledged, Name: p.Name, Host: p.Host, By: by, Summary: comment, At: now}
		for _, m := range msgs {
			text, key := r.Problem(p), AlertMessageKey(id)
			if m.sid != 0 {
				if text, err = s.summaryText(ctx, tx, m.sid, r); err != nil {
					return err
				}
				key = AlertMessageKey(m.sid)
			}
			if _, err := s.insertID(ctx, tx, `INSERT INTO outbox (channel_id, request_id, job_id, text, created_at, kind) VALUES (?, ?, 0, ?, ?, ?)`,
				m.ch, key, text, ms(now), KindUpdate); err != nil {
				return err
			}
			if m.sid == 0 {
				if _, err := s.insertID(ctx, tx, `INSERT INTO outbox (channel_id, request_id, job_id, text, created_at, kind) VALUES (?, ?, 0, ?, ?, ?)`,
					m.ch, key, r.Change(p, a), ms(now), KindPost); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil && mcloud.ErrorCode(err) == mcloud.EINTERNAL {
		err = fmt.Errorf("acknowledge alert #%d: %w", id, err)
	}
	return p, err
}
