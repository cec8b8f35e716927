package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	// SummaryEvery, when set, is the least time between two renderings of
	// a storm summary: a summary changed sooner is only marked, and
	// FlushSummaries queues its newest text later (the poster sends a
	// channel about one message a second; rendering reads every problem
	// folded into it).
	SummaryEvery time.Duration
	// Mail, when set, is asked for the mails that stand in for the
	// problem's Slack messages should Slack be unreachable; it is asked
	// only when the problem's status changed (not for a repeat).
	Mail func(p mcloud.Problem) []AlertMail
}

// AlertOutcome is what recording one alert did.
type AlertOutcome struct {
	Problem mcloud.Problem
	// Actions is DecideAlert's answer per channel.
	Actions map[string]mcloud.AlertAction
	// Deferred: a summary changed and was left for FlushSummaries.
	Deferred bool
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
	outs, err := s.RecordAlerts(ctx, []AlertItem{{Alert: a, Customer: customer, Delivery: d}})
	if err != nil {
		return AlertOutcome{Actions: map[string]mcloud.AlertAction{}}, err
	}
	return outs[0], nil
}

// AlertItem is one alert to record, with its customer and delivery.
type AlertItem struct {
	Alert    mcloud.Alert
	Customer string
	Delivery AlertDelivery
}

// RecordAlerts records items in order in one transaction, as RecordAlert
// would one by one, with one commit for all: in a storm, the commit and
// the summaries' texts (a read of every folded problem) are paid once per
// batch, not once per alert. A message updated several times in the
// batch is queued once, with its last text.
func (s *DB) RecordAlerts(ctx context.Context, items []AlertItem) ([]AlertOutcome, error) {
	var outs []AlertOutcome
	err := s.inTx(ctx, func(sqlTx *sql.Tx) error {
		outs = make([]AlertOutcome, len(items))
		if err := s.lockAlerts(ctx, sqlTx); err != nil {
			return err
		}
		var tx querier = sqlTx
		if s.dialect == SQLite {
			tx = &stmtCache{Tx: sqlTx, stmts: map[string]*sql.Stmt{}}
		}
		b := &alertBatch{updates: map[batchKey]batchUpdate{}}
		for i, it := range items {
			a, d := it.Alert, it.Delivery
			outs[i] = AlertOutcome{Actions: map[string]mcloud.AlertAction{}}
			now := a.At
			if now.IsZero() {
				now = s.Now()
			}
			e, err := s.expectation(ctx, tx, a, it.Customer, now)
			if err != nil {
				return fmt.Errorf("record alert %s: %w", a.Fingerprint(), err)
			}
			outs[i].Expected = e
			p, changed, err := s.upsertProblem(ctx, tx, a, it.Customer, e.Work.JobID, now)
			if err != nil {
				return fmt.Errorf("record alert %s: %w", a.Fingerprint(), err)
			}
			outs[i].Problem = p
			if e.Thread {
				w := e.Work
				if _, err := s.post(ctx, tx, mcloud.Post{ChannelID: w.ChannelID, RequestID: w.RequestID, JobID: w.JobID,
					Text: d.Render.Expected(p, a, w)}); err != nil {
					return fmt.Errorf("record alert %s: job #%d's thread: %w", a.Fingerprint(), w.JobID, err)
				}
			}
			if !e.Channels {
				continue // said in the job's thread only: no channel message, no mail
			}
			for _, ch := range d.Channels {
				act, err := s.deliverAlert(ctx, tx, b, p, a, ch, d, now)
				if err != nil {
					return fmt.Errorf("record alert %s: channel %s: %w", a.Fingerprint(), ch, err)
				}
				outs[i].Actions[ch] = act
			}
			if changed && d.Mail != nil {
				b.mails = append(b.mails, batchMail{p, d.Mail(p)})
			}
		}
		if err := s.flushAlertBatch(ctx, tx, b); err != nil {
			return err
		}
		for i := range outs {
			outs[i].Deferred = b.deferred
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// stmtCache prepares each statement once per transaction. The SQLite
// driver otherwise parses every statement anew, and a storm's batch runs
// the same few statements thousands of times. (PostgreSQL is left alone:
// an explicit prepare there is one more round trip.)
type stmtCache struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

func (c *stmtCache) stmt(ctx context.Context, q string) *sql.Stmt {
	st, ok := c.stmts[q]
	if !ok {
		var err error
		if st, err = c.Tx.PrepareContext(ctx, q); err != nil {
			return nil // the unprepared call reports the error
		}
		c.stmts[q] = st
	}
	return st
}

func (c *stmtCache) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := c.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.Tx.QueryRowContext(ctx, q, args...)
}

func (c *stmtCache) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.Tx.QueryContext(ctx, q, args...)
}

func (c *stmtCache) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.Tx.ExecContext(ctx, q, args...)
}

// alertBatch is what a batch queues at its end: each message's last
// update (a summary's text rendered then, once), then the mails, whose
// marks must see every message queued before them.
type alertBatch struct {
	order    []batchKey
	updates  map[batchKey]batchUpdate
	mails    []batchMail
	deferred bool
}

type batchKey struct {
	channel string
	key     int64
}

type batchUpdate struct {
	kind string
	text string
	// summary, when not 0, is rendered at the end with render.
	summary int64
	render  AlertRenderer
	every   time.Duration
}

type batchMail struct {
	p     mcloud.Problem
	mails []AlertMail
}

// update defers an update of the message key in ch; a plan (the
// summary's first message) stays a plan.
func (b *alertBatch) update(ch string, key int64, u batchUpdate) {
	k := batchKey{ch, key}
	prev, seen := b.updates[k]
	if !seen {
		b.order = append(b.order, k)
	} else if prev.kind == KindPlan {
		u.kind = KindPlan
	}
	b.updates[k] = u
}

// drop forgets a deferred update of key in ch, superseded by one queued now.
func (b *alertBatch) drop(ch string, key int64) {
	k := batchKey{ch, key}
	if _, ok := b.updates[k]; ok {
		delete(b.updates, k)
		b.order = slices.DeleteFunc(b.order, func(o batchKey) bool { return o == k })
	}
}

func (s *DB) flushAlertBatch(ctx context.Context, tx querier, b *alertBatch) error {
	for _, k := range b.order {
		u := b.updates[k]
		text := u.text
		if u.summary != 0 {
			if u.kind != KindPlan && u.every > 0 {
				var rendered int64
				if err := tx.QueryRowContext(ctx, s.rebind(`SELECT rendered_at FROM alert_problems WHERE id = ?`), u.summary).Scan(&rendered); err != nil {
					return fmt.Errorf("read summary %d: %w", u.summary, err)
				}
				if s.Now().Sub(fromMS(rendered)) < u.every {
					if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE alert_problems SET dirty = 1 WHERE id = ?`), u.summary); err != nil {
						return fmt.Errorf("mark summary %d: %w", u.summary, err)
					}
					b.deferred = true
					continue
				}
			}
			var err error
			if text, err = s.renderSummary(ctx, tx, u.summary, u.render); err != nil {
				return err
			}
		}
		id, err := s.insertID(ctx, tx, `INSERT INTO outbox (channel_id, request_id, job_id, text, created_at, kind) VALUES (?, ?, 0, ?, ?, ?)`,
			k.channel, k.key, text, ms(s.Now()), u.kind)
		if err != nil {
			return fmt.Errorf("queue alert message: %w", err)
		}
		if u.summary != 0 {
			if err := s.markSummaryMails(ctx, tx, k.channel, u.summary, id); err != nil {
				return err
			}
		}
	}
	for _, m := range b.mails {
		if err := s.queueAlertMails(ctx, tx, m.p, m.mails); err != nil {
			return err
		}
	}
	return nil
}

// upsertProblem counts a under its problem; changed reports whether the
// problem's status changed (a new problem, a resolution, a recurrence).
// Only a firing alert makes a new problem: a downtime or acknowledgement
// of a problem never seen (a downtime set outside mcloud notifies per
// service) records it without a change worth a mail.
func (s *DB) upsertProblem(ctx context.Context, tx querier, a mcloud.Alert, customer string, jobID int64, now time.Time) (p mcloud.Problem, changed bool, err error) {
	row := tx.QueryRowContext(ctx, s.rebind(`SELECT `+problemCols+` FROM alert_problems WHERE fingerprint = ?`), a.Fingerprint())
	p, err = scanProblem(row)
	if errors.Is(err, sql.ErrNoRows) {
		p = mcloud.Problem{Fingerprint: a.Fingerprint(), Source: a.Source, Key: a.Key, FirstAt: now}
		p.ID, err = s.insertID(ctx, tx, `INSERT INTO alert_problems (fingerprint, source, alert_key, first_at) VALUES (?, ?, ?, ?)`,
			p.Fingerprint, p.Source, p.Key, ms(now))
	}
	if err != nil {
		return p, false, fmt.Errorf("read problem: %w", err)
	}
	before := p.Status
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
		return p, false, fmt.Errorf("update problem: %w", err)
	}
	return p, p.Status != before && (before != "" || a.Status == mcloud.AlertFiring), nil
}

// deliverAlert applies DecideAlert for one channel and queues its messages.
func (s *DB) deliverAlert(ctx context.Context, tx querier, b *alertBatch, p mcloud.Problem, a mcloud.Alert, ch string, d AlertDelivery, now time.Time) (mcloud.AlertAction, error) {
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
		_, err := s.queueMessage(ctx, tx, OutboxItem{Kind: kind, Post: mcloud.Post{ChannelID: ch, RequestID: k, Text: text}})
		return err
	}
	setStatus := func() error {
		if v.Status == a.Status {
			return nil // a repeat: one write fewer per alert in a storm
		}
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
		b.update(ch, key, batchUpdate{kind: KindUpdate, text: d.Render.Problem(p)})
		return act, nil
	case mcloud.AlertUpdateReply:
		if err := setStatus(); err != nil {
			return act, err
		}
		// The message shows the change before its thread tells of it.
		b.drop(ch, key)
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
		kind := KindUpdate
		if created {
			kind = KindPlan
		}
		b.update(ch, AlertMessageKey(sid), batchUpdate{kind: kind, summary: sid, render: d.Render, every: d.SummaryEvery})
		return act, nil
	case mcloud.AlertUpdateSummary:
		if err := setStatus(); err != nil {
			return act, err
		}
		b.update(ch, AlertMessageKey(summaryID), batchUpdate{kind: KindUpdate, summary: summaryID, render: d.Render, every: d.SummaryEvery})
		return act, nil
	}
	return act, nil
}

func windowStart(now time.Time, interval time.Duration) time.Time {
	if interval <= 0 {
		interval = time.Minute
	}
	return now.Truncate(interval)
}

// renderSummary is summary sid's text now, recorded as rendered.
func (s *DB) renderSummary(ctx context.Context, tx querier, sid int64, r AlertRenderer) (string, error) {
	text, err := s.summaryText(ctx, tx, sid, r)
	if err != nil {
		return "", fmt.Errorf("render summary %d: %w", sid, err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE alert_problems SET rendered_at = ?, dirty = 0 WHERE id = ?`), ms(s.Now()), sid); err != nil {
		return "", fmt.Errorf("render summary %d: %w", sid, err)
	}
	return text, nil
}

// FlushSummaries queues the newest text of every summary that changed
// since it was last rendered (see AlertDelivery.SummaryEvery), and
// returns how many it queued.
func (s *DB) FlushSummaries(ctx context.Context, r AlertRenderer) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockAlerts(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM alert_problems WHERE dirty = 1 AND kind = 'summary'`)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, sid := range ids {
			var ch string
			if err := tx.QueryRowContext(ctx, s.rebind(`SELECT channel_id FROM alert_messages WHERE summary_id = ? LIMIT 1`), sid).Scan(&ch); err != nil {
				return fmt.Errorf("summary %d's channel: %w", sid, err)
			}
			text, err := s.renderSummary(ctx, tx, sid, r)
			if err != nil {
				return err
			}
			id, err := s.insertID(ctx, tx, `INSERT INTO outbox (channel_id, request_id, job_id, text, created_at, kind) VALUES (?, ?, 0, ?, ?, ?)`,
				ch, AlertMessageKey(sid), text, ms(s.Now()), KindUpdate)
			if err != nil {
				return fmt.Errorf("queue summary %d: %w", sid, err)
			}
			if err := s.markSummaryMails(ctx, tx, ch, sid, id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("flush alert summaries: %w", err)
	}
	return n, nil
}

// summaryFor finds or makes the channel's summary of the interval from.
func (s *DB) summaryFor(ctx context.Context, tx querier, ch string, from time.Time) (id int64, created bool, err error) {
	fp := fmt.Sprintf("summary:%s:%d", ch, ms(from))
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT id FROM alert_problems WHERE fingerprint = ?`), fp).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		id, err = s.insertID(ctx, tx, `INSERT INTO alert_problems (fingerprint, kind, source, first_at, last_at) VALUES (?, 'summary', 'mcloud', ?, ?)`,
			fp, ms(from), ms(from))
		return id, true, err
	}
	return id, false, err
}

func (s *DB) summaryText(ctx context.Context, tx querier, sid int64, r AlertRenderer) (string, error) {
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
			if _, err := s.queueMessage(ctx, tx, OutboxItem{Kind: KindUpdate, Post: mcloud.Post{ChannelID: m.ch, RequestID: key, Text: text, CreatedAt: now}}); err != nil {
				return err
			}
			if m.sid == 0 {
				if _, err := s.queueMessage(ctx, tx, OutboxItem{Kind: KindPost, Post: mcloud.Post{ChannelID: m.ch, RequestID: key, Text: r.Change(p, a), CreatedAt: now}}); err != nil {
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
