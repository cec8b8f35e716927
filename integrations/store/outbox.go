package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
)

// The outbox: everything mcloud says in Slack is queued here first, so a
// Slack outage or a restart loses nothing. This file queues and reads it;
// lease.go decides which process sends a channel's messages, and
// outbox_send.go records what became of each send.

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

// Post queues a message for delivery. Jobs and the request flow never talk
// to Slack directly: what they say is written here first, so a Slack outage
// or a restart loses nothing.
func (s *DB) Post(ctx context.Context, p mcloud.Post) (int64, error) {
	return s.post(ctx, s.db, p)
}

// post queues p through q, so a state change and its announcement can be
// one transaction: neither happens without the other.
func (s *DB) post(ctx context.Context, q querier, p mcloud.Post) (int64, error) {
	return s.queueMessage(ctx, q, OutboxItem{Post: p})
}

// PendingPosts returns up to limit undelivered messages, oldest first.
func (s *DB) PendingPosts(ctx context.Context, limit int) ([]mcloud.Post, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT id, channel_id, request_id, job_id, text, created_at FROM outbox WHERE sent_at = 0 ORDER BY id LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	var out []mcloud.Post
	for rows.Next() {
		var p mcloud.Post
		var created int64
		if err := rows.Scan(&p.ID, &p.ChannelID, &p.RequestID, &p.JobID, &p.Text, &created); err != nil {
			return nil, fmt.Errorf("scan outbox: %w", err)
		}
		p.CreatedAt = fromMS(created)
		out = append(out, p)
	}
	return out, rows.Err()
}

// MarkSent records that message id was delivered.
func (s *DB) MarkSent(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE outbox SET sent_at = ?, error = '' WHERE id = ?`), ms(s.Now()), id); err != nil {
		return fmt.Errorf("mark message %d sent: %w", id, err)
	}
	return nil
}

// ForgetDelivered erases the text of outbox messages delivered (or given
// up) before cutoff and returns how many it erased. A message can carry a
// bearer secret for its lifetime, a presigned download link, and the
// outbox is no archive: the row stays, with its channel, request, job and
// times, and the audit log keeps who asked for what and when.
func (s *DB) ForgetDelivered(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE outbox SET text = '', blocks = ''
		WHERE sent_at <> 0 AND sent_at < ? AND (text <> '' OR blocks <> '')`), ms(cutoff))
	if err != nil {
		return 0, fmt.Errorf("erase delivered messages older than %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("erase delivered messages: %w", err)
	}
	return n, nil
}

// QueueMessage adds a message of any kind to the outbox.
func (s *DB) QueueMessage(ctx context.Context, it OutboxItem) (int64, error) {
	return s.queueMessage(ctx, s.db, it)
}

// queueMessage queues it through q, so a change of state and what it says
// (a delivery's answers, a job's announcement, an alert's message) are one
// transaction. It is the outbox's only INSERT.
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
