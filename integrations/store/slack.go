package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
)

// Outbox kinds. Every kind is delivered in order with the other messages of
// its channel.
const (
	// KindPost is a message; with a RequestID it goes into the thread of
	// that request's plan message when the channel has one.
	KindPost = "post"
	// KindPlan is a request's plan: the root of its thread. It is rendered
	// from the request when sent, so it shows the request as it is then.
	KindPlan = "plan"
	// KindUpdate re-renders a request's plan message in place.
	KindUpdate = "update"
)

// OutboxItem is one outbox row with its delivery state.
type OutboxItem struct {
	mcloud.Post
	Kind string
	// Blocks is Block Kit JSON; "" sends Text alone.
	Blocks string
	// ThreadTS puts a post in an explicit thread (a reply to a mention).
	ThreadTS string
	// InflightAt is set while an earlier send's outcome is unknown: the
	// message may already be in Slack, so it is looked for before it is
	// sent again.
	InflightAt time.Time
	// NextAt is when a failed send may be tried again.
	NextAt   time.Time
	Attempts int
	// SentAt is when it was delivered or given up; TS is Slack's id of the
	// message, and Error why it failed last (or was given up).
	SentAt time.Time
	TS     string
	Error  string
}

// ErrLeaseLost means another process now sends this channel's messages;
// this one must stop before it sends anything more there.
var ErrLeaseLost = errors.New("another process holds this channel's outbox lease")

// QueueMessage adds a message of any kind to the outbox.
func (s *DB) QueueMessage(ctx context.Context, it OutboxItem) (int64, error) {
	return s.queueMessage(ctx, s.db, it)
}

// queueMessage queues it through q, so a delivery's answers and its being
// done can be one transaction.
func (s *DB) queueMessage(ctx context.Context, q querier, it OutboxItem) (int64, error) {
	if it.CreatedAt.IsZero() {
		it.CreatedAt = s.Now()
	}
	if it.Kind == "" {
		it.Kind = KindPost
	}
	id, err := s.insertID(ctx, q, `INSERT INTO outbox (channel_id, request_id, job_id, text, created_at, kind, blocks, thread_ts)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		it.ChannelID, it.RequestID, it.JobID, it.Text, ms(it.CreatedAt), it.Kind, it.Blocks, it.ThreadTS)
	if err != nil {
		return 0, fmt.Errorf("queue %s message for %s: %w", it.Kind, it.ChannelID, err)
	}
	return id, nil
}

const outboxSelect = `SELECT id, channel_id, request_id, job_id, text, created_at, kind, blocks, thread_ts, inflight_at, next_at, attempts, sent_at, ts, error FROM outbox`

func scanOutbox(rows *sql.Rows) ([]OutboxItem, error) {
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		var it OutboxItem
		var created, inflight, next, sent int64
		if err := rows.Scan(&it.ID, &it.ChannelID, &it.RequestID, &it.JobID, &it.Text, &created, &it.Kind, &it.Blocks,
			&it.ThreadTS, &inflight, &next, &it.Attempts, &sent, &it.TS, &it.Error); err != nil {
			return nil, fmt.Errorf("scan outbox: %w", err)
		}
		it.CreatedAt, it.InflightAt, it.NextAt, it.SentAt = fromMS(created), fromMS(inflight), fromMS(next), fromMS(sent)
		out = append(out, it)
	}
	return out, rows.Err()
}

func (s *DB) outboxQuery(ctx context.Context, where string, args ...any) ([]OutboxItem, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(outboxSelect+" WHERE "+where), args...)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return scanOutbox(rows)
}

// OutboxItems lists a channel's messages, sent or not, in outbox order;
// "" lists every channel's.
func (s *DB) OutboxItems(ctx context.Context, channelID string) ([]OutboxItem, error) {
	if channelID == "" {
		return s.outboxQuery(ctx, "1 = 1 ORDER BY id")
	}
	return s.outboxQuery(ctx, "channel_id = ? ORDER BY id", channelID)
}

// NextOutbox returns the message channelID must send next, or nil. It is
// the oldest unsent one, except that a post for a request whose plan
// message is still unsent yields to that plan: a job can report before
// the plan it belongs to was queued, and its thread needs the plan first.
func (s *DB) NextOutbox(ctx context.Context, channelID string) (*OutboxItem, error) {
	head, err := s.outboxQuery(ctx, "channel_id = ? AND sent_at = 0 ORDER BY id LIMIT 1", channelID)
	if err != nil || len(head) == 0 {
		return nil, err
	}
	it := head[0]
	if it.Kind == KindUpdate && it.RequestID < 0 {
		// An alert message's update carries its text (there is no request
		// to render it from): the newest one shows the newest state, and
		// sending it answers the older ones too (PendingUpdates).
		newest, err := s.outboxQuery(ctx, "channel_id = ? AND sent_at = 0 AND kind = ? AND request_id = ? ORDER BY id DESC LIMIT 1",
			channelID, KindUpdate, it.RequestID)
		if err != nil || len(newest) == 0 {
			return &it, err
		}
		return &newest[0], nil
	}
	if it.Kind == KindPlan || it.RequestID == 0 || it.ThreadTS != "" {
		return &it, nil
	}
	root, err := s.ThreadRoot(ctx, it.RequestID, channelID)
	if err != nil || root != "" {
		return &it, err
	}
	plan, err := s.outboxQuery(ctx, "channel_id = ? AND sent_at = 0 AND kind = ? AND request_id = ? ORDER BY id LIMIT 1",
		channelID, KindPlan, it.RequestID)
	if err != nil {
		return nil, err
	}
	if len(plan) > 0 {
		return &plan[0], nil
	}
	return &it, nil
}

// PendingUpdates lists the unsent update messages of a request's plan
// message, so one chat.update showing the newest state answers them all.
func (s *DB) PendingUpdates(ctx context.Context, requestID int64, channelID string) ([]int64, error) {
	items, err := s.outboxQuery(ctx, "channel_id = ? AND request_id = ? AND kind = ? AND sent_at = 0 ORDER BY id",
		channelID, requestID, KindUpdate)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids, nil
}

// ThreadRoot is the Slack ts of request's plan message in channelID, or "".
func (s *DB) ThreadRoot(ctx context.Context, requestID int64, channelID string) (string, error) {
	var ts string
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT ts FROM slack_messages WHERE request_id = ? AND channel_id = ?`),
		requestID, channelID).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read plan message of request #%d: %w", requestID, err)
	}
	return ts, nil
}

// OutboxChannels lists the channels with unsent messages that no other
// live process is sending.
func (s *DB) OutboxChannels(ctx context.Context, owner string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT DISTINCT channel_id FROM outbox WHERE sent_at = 0
		AND channel_id NOT IN (SELECT channel_id FROM slack_leases WHERE until > ? AND owner <> ?) ORDER BY channel_id`),
		ms(s.Now()), owner)
	if err != nil {
		return nil, fmt.Errorf("list outbox channels: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ch string
		if err := rows.Scan(&ch); err != nil {
			return nil, fmt.Errorf("scan outbox channel: %w", err)
		}
		out = append(out, ch)
	}
	return out, rows.Err()
}

// Lease is a process's hold on sending one channel's messages. Token
// grows each time the channel changes hands (or its holder let it run
// out), so a holder that lost the lease cannot act on it any more, not
// even after it took the channel again: every write that must only come
// from the holder names the token.
type Lease struct {
	ChannelID string
	Owner     string
	Token     int64
	// Term is how long each renewal keeps the lease.
	Term time.Duration
}

// LeaseChannel takes or renews owner's lease on sending channelID's
// messages for d. Only one process holds a channel at a time, so each
// channel's messages leave in order and at Slack's pace even with several
// replicas. It reports whether owner holds the lease now.
func (s *DB) LeaseChannel(ctx context.Context, channelID, owner string, d time.Duration) (Lease, bool, error) {
	now := ms(s.Now())
	l := Lease{ChannelID: channelID, Owner: owner, Term: d}
	err := s.db.QueryRowContext(ctx, s.rebind(`INSERT INTO slack_leases (channel_id, owner, until, token) VALUES (?, ?, ?, 1)
		ON CONFLICT (channel_id) DO UPDATE SET owner = excluded.owner, until = excluded.until,
			token = CASE WHEN slack_leases.owner = excluded.owner AND slack_leases.until > ? THEN slack_leases.token ELSE slack_leases.token + 1 END
		WHERE slack_leases.owner = excluded.owner OR slack_leases.until <= ?
		RETURNING token`),
		channelID, owner, now+d.Milliseconds(), now, now).Scan(&l.Token)
	if errors.Is(err, sql.ErrNoRows) {
		return Lease{}, false, nil // another process holds it
	}
	if err != nil {
		return Lease{}, false, fmt.Errorf("lease outbox of %s: %w", channelID, err)
	}
	return l, true, nil
}

// leaseHeldSQL is the condition, for a query's arguments l's channel, owner,
// token and the time now, that l is still its holder's.
const leaseHeldSQL = `EXISTS (SELECT 1 FROM slack_leases WHERE channel_id = ? AND owner = ? AND token = ? AND until > ?)`

// RenewLease extends l by its term while the work under it goes on (a
// look-up through a long history, a slow send). ErrLeaseLost means it ran
// out or another process took the channel: the work must stop.
func (s *DB) RenewLease(ctx context.Context, l Lease) error {
	return s.renew(ctx, s.db, l)
}

func (s *DB) renew(ctx context.Context, q querier, l Lease) error {
	now := ms(s.Now())
	res, err := q.ExecContext(ctx, s.rebind(`UPDATE slack_leases SET until = ?
		WHERE channel_id = ? AND owner = ? AND token = ? AND until > ?`),
		now+l.Term.Milliseconds(), l.ChannelID, l.Owner, l.Token, now)
	if err != nil {
		return fmt.Errorf("renew outbox lease of %s: %w", l.ChannelID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("renew outbox lease of %s: %w", l.ChannelID, err)
	} else if n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// ReleaseChannel gives up l, if it is still held. The row stays, so the
// channel's token keeps growing.
func (s *DB) ReleaseChannel(ctx context.Context, l Lease) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE slack_leases SET until = 0 WHERE channel_id = ? AND owner = ? AND token = ?`),
		l.ChannelID, l.Owner, l.Token); err != nil {
		return fmt.Errorf("release outbox of %s: %w", l.ChannelID, err)
	}
	return nil
}

// ErrNotPending means the message was delivered or given up meanwhile
// (another process recorded it): there is nothing left to send.
var ErrNotPending = errors.New("the message is no longer waiting to be sent")

// MarkInflight records, before a message is sent, that its outcome is about
// to be unknown: if the process dies before Delivered, the next sender
// looks for it in Slack instead of posting it twice. It is the fence of
// the lease, checked immediately before the send: it renews l in the same
// transaction, so the lease outlasts a send bounded by less than its term,
// and ErrLeaseLost means the caller must not send. ErrNotPending means
// another process has recorded the message meanwhile.
func (s *DB) MarkInflight(ctx context.Context, it OutboxItem, l Lease) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.renew(ctx, tx, l); err != nil {
			return err
		}
		now := ms(s.Now())
		res, err := tx.ExecContext(ctx, s.rebind(`UPDATE outbox SET inflight_at = CASE WHEN inflight_at = 0 THEN ? ELSE inflight_at END
			WHERE id = ? AND channel_id = ? AND sent_at = 0`), now, it.ID, l.ChannelID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotPending
		}
		return nil
	})
	if errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrNotPending) {
		return err
	}
	if err != nil {
		return fmt.Errorf("mark message %d in flight: %w", it.ID, err)
	}
	return nil
}

// Delivered records that it reached Slack as message ts, together with
// the other ids it answered (updates made redundant by it). A plan becomes
// its request's thread root. It is recorded even if the lease was lost
// meanwhile, unlike every other outcome: the message is in Slack either
// way, and saying so is what keeps the new holder from sending it again
// (its MarkInflight then finds nothing pending).
func (s *DB) Delivered(ctx context.Context, it OutboxItem, ts string, also ...int64) error {
	now := ms(s.Now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE outbox SET sent_at = ?, ts = ?, inflight_at = 0, error = '' WHERE id = ? AND sent_at = 0`),
			now, ts, it.ID); err != nil {
			return err
		}
		if len(also) > 0 {
			args := []any{now}
			for _, id := range also {
				args = append(args, id)
			}
			q := `UPDATE outbox SET sent_at = ?, inflight_at = 0 WHERE sent_at = 0 AND id IN (?` + strings.Repeat(", ?", len(also)-1) + `)`
			if _, err := tx.ExecContext(ctx, s.rebind(q), args...); err != nil {
				return err
			}
		}
		if it.Kind == KindPlan && it.RequestID != 0 && ts != "" {
			if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO slack_messages (request_id, channel_id, ts) VALUES (?, ?, ?)
				ON CONFLICT (request_id, channel_id) DO NOTHING`), it.RequestID, it.ChannelID, ts); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record message %d delivered: %w", it.ID, err)
	}
	return nil
}

// Retry counts a failed attempt and puts the next off until next. When uncertain (no answer, or a
// server error), the message may have reached Slack, so it stays in
// flight and is looked for first; otherwise Slack said no and it did not.
// Only l's holder may say so (ErrLeaseLost otherwise): a process that
// lost the channel must not clear the in-flight mark of a message the new
// holder may be sending.
func (s *DB) Retry(ctx context.Context, l Lease, id int64, next time.Time, uncertain bool, reason string) error {
	keep := 0
	if uncertain {
		keep = 1
	}
	return s.fenced(ctx, l, fmt.Sprintf("reschedule message %d", id), `UPDATE outbox SET next_at = ?, error = ?, attempts = attempts + 1,
		inflight_at = CASE WHEN ? = 1 THEN inflight_at ELSE 0 END WHERE id = ? AND sent_at = 0 AND `+leaseHeldSQL,
		ms(next), reason, keep, id)
}

// fenced runs an outbox write that only l's holder may make: the
// statement ends with leaseHeldSQL, whose arguments are added here. A write
// that changed nothing because the lease is gone is ErrLeaseLost.
func (s *DB) fenced(ctx context.Context, l Lease, what, q string, args ...any) error {
	now := s.Now()
	res, err := s.db.ExecContext(ctx, s.rebind(q), append(args, l.ChannelID, l.Owner, l.Token, ms(now))...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		held, err := s.leaseHeld(ctx, l)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if !held {
			return ErrLeaseLost
		}
	}
	return nil
}

func (s *DB) leaseHeld(ctx context.Context, l Lease) (bool, error) {
	var held bool
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT `+leaseHeldSQL), l.ChannelID, l.Owner, l.Token, ms(s.Now())).Scan(&held)
	return held, err
}

// Abandon gives up on a message Slack will never accept (its blocks are
// invalid, the message to update is gone). It counts as done, with the
// reason kept, so it no longer holds up its channel.
// Only l's holder may (ErrLeaseLost otherwise).
func (s *DB) Abandon(ctx context.Context, l Lease, id int64, reason string) error {
	return s.fenced(ctx, l, fmt.Sprintf("abandon message %d", id),
		`UPDATE outbox SET sent_at = ?, error = ?, inflight_at = 0 WHERE id = ? AND sent_at = 0 AND `+leaseHeldSQL,
		ms(s.Now()), reason, id)
}
