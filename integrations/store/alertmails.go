package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
)

// AlertMail is a mail that stands in for an alert's Slack message in
// ChannelID while Slack is unreachable. It is queued with the alert, in
// the same transaction, and is sent only if, once Slack has been
// unreachable long enough, that channel still has an undelivered message
// queued no later than the alert's; otherwise Slack told it first, and
// the mail is settled unsent.
type AlertMail struct {
	ID        int64
	ProblemID int64
	// Audience is the customer whose contacts get it, or "" for the team.
	Audience  string
	ChannelID string
	Subject   string
	Body      string
	CreatedAt time.Time
	Attempts  int
}

// Outcomes of an alert mail.
const (
	MailSent       = "mailed"
	MailBySlack    = "slack"       // Slack delivered the message first
	MailNoContacts = "no contacts" // nobody to mail for its audience
)

func (s *DB) queueAlertMails(ctx context.Context, tx querier, p mcloud.Problem, mails []AlertMail) error {
	now := s.Now()
	for _, m := range mails {
		var mark int64
		if err := tx.QueryRowContext(ctx, s.rebind(`SELECT COALESCE(MAX(id), 0) FROM outbox WHERE channel_id = ?`), m.ChannelID).Scan(&mark); err != nil {
			return fmt.Errorf("queue alert mail: %w", err)
		}
		// A problem folded into a summary whose rendering was deferred has
		// no message in the outbox yet: the mark above covers only older
		// ones, so the mail waits for the summary's row (see
		// markSummaryMails) instead of being settled by them.
		var wait int64
		err := tx.QueryRowContext(ctx, s.rebind(`SELECT m.summary_id FROM alert_messages m JOIN alert_problems sp ON sp.id = m.summary_id
			WHERE m.problem_id = ? AND m.channel_id = ? AND sp.dirty = 1`), p.ID, m.ChannelID).Scan(&wait)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("queue alert mail: %w", err)
		}
		if _, err := s.insertID(ctx, tx, `INSERT INTO alert_mails (problem_id, audience, channel_id, outbox_mark, summary_wait, subject, body, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, m.Audience, m.ChannelID, mark, wait, m.Subject, m.Body, ms(now)); err != nil {
			return fmt.Errorf("queue alert mail: %w", err)
		}
	}
	return nil
}

// markSummaryMails moves the mark of the mails waiting for summary sid
// in ch to outboxID, the summary's message now queued.
func (s *DB) markSummaryMails(ctx context.Context, tx querier, ch string, sid, outboxID int64) error {
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE alert_mails SET outbox_mark = ?, summary_wait = 0
		WHERE summary_wait = ? AND channel_id = ? AND done_at = 0`), outboxID, sid, ch); err != nil {
		return fmt.Errorf("mark the mails of summary %d: %w", sid, err)
	}
	return nil
}

// undelivered is true for a mail whose channel still has a message, up
// to the alert's, that Slack has not shown: not taken yet, or given up
// (Abandon keeps its reason in error; Delivered clears it), or a summary
// not rendered yet.
const undelivered = `(alert_mails.summary_wait <> 0 OR EXISTS (SELECT 1 FROM outbox o WHERE o.channel_id = alert_mails.channel_id
	AND (o.sent_at = 0 OR o.error <> '') AND o.id <= alert_mails.outbox_mark))`

// SettleAlertMails closes the mails whose Slack messages went out: they
// are never sent.
func (s *DB) SettleAlertMails(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE alert_mails SET done_at = ?, outcome = ? WHERE done_at = 0 AND NOT `+undelivered),
		ms(s.Now()), MailBySlack); err != nil {
		return fmt.Errorf("settle alert mails: %w", err)
	}
	return nil
}

// AlertMailsDue settles the mails Slack made needless, then returns up
// to limit of the others that are due, oldest first.
func (s *DB) AlertMailsDue(ctx context.Context, limit int) ([]AlertMail, error) {
	if err := s.SettleAlertMails(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT id, problem_id, audience, channel_id, subject, body, created_at, attempts
		FROM alert_mails WHERE done_at = 0 AND next_at <= ? AND `+undelivered+` ORDER BY id LIMIT ?`), ms(s.Now()), limit)
	if err != nil {
		return nil, fmt.Errorf("read alert mails: %w", err)
	}
	defer rows.Close()
	var out []AlertMail
	for rows.Next() {
		var m AlertMail
		var created int64
		if err := rows.Scan(&m.ID, &m.ProblemID, &m.Audience, &m.ChannelID, &m.Subject, &m.Body, &created, &m.Attempts); err != nil {
			return nil, fmt.Errorf("scan alert mail: %w", err)
		}
		m.CreatedAt = fromMS(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

// ClaimAlertMail takes mail id for this process until until, so another
// replica whose Slack is unreachable too does not send it as well; false
// when another has it, or it is done. A claim that lapses (the process
// died sending) lets it be sent again.
func (s *DB) ClaimAlertMail(ctx context.Context, id int64, until time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE alert_mails SET next_at = ? WHERE id = ? AND done_at = 0 AND next_at <= ?`),
		ms(until), id, ms(s.Now()))
	if err != nil {
		return false, fmt.Errorf("claim alert mail %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// AlertMailDone records a mail's outcome; it is not sent again.
func (s *DB) AlertMailDone(ctx context.Context, id int64, outcome string) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE alert_mails SET done_at = ?, outcome = ?, attempts = attempts + 1, error = '' WHERE id = ?`),
		ms(s.Now()), outcome, id); err != nil {
		return fmt.Errorf("record alert mail %d: %w", id, err)
	}
	return nil
}

// AlertMailRetry records a failed attempt and when to try again.
func (s *DB) AlertMailRetry(ctx context.Context, id int64, next time.Time, reason string) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE alert_mails SET attempts = attempts + 1, next_at = ?, error = ? WHERE id = ?`),
		ms(next), reason, id); err != nil {
		return fmt.Errorf("record failed alert mail %d: %w", id, err)
	}
	return nil
}

// AlertMails lists every alert mail with its outcome ("" while pending),
// for tests and the log.
func (s *DB) AlertMails(ctx context.Context) (mails []AlertMail, outcomes []string, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, problem_id, audience, channel_id, subject, body, created_at, attempts, outcome FROM alert_mails ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("read alert mails: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m AlertMail
		var created int64
		var o string
		if err := rows.Scan(&m.ID, &m.ProblemID, &m.Audience, &m.ChannelID, &m.Subject, &m.Body, &created, &m.Attempts, &o); err != nil {
			return nil, nil, fmt.Errorf("scan alert mail: %w", err)
		}
		m.CreatedAt = fromMS(created)
		mails, outcomes = append(mails, m), append(outcomes, o)
	}
	return mails, outcomes, rows.Err()
}
