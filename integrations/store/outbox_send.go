package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

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
			q := `UPDATE outbox SET sent_at = ?, inflight_at = 0, error = '' WHERE sent_at = 0 AND id IN (?` + strings.Repeat(", ?", len(also)-1) + `)`
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

// Abandon gives up on a message Slack will never accept (its blocks are
// invalid, the message to update is gone). It counts as done, with the
// reason kept, so it no longer holds up its channel; the reason also
// tells it from a delivered message (an alert mail still goes out).
// Only l's holder may (ErrLeaseLost otherwise).
func (s *DB) Abandon(ctx context.Context, l Lease, id int64, reason string) error {
	return s.fenced(ctx, l, fmt.Sprintf("abandon message %d", id),
		`UPDATE outbox SET sent_at = ?, error = ?, inflight_at = 0 WHERE id = ? AND sent_at = 0 AND `+leaseHeldSQL,
		ms(s.Now()), reason, id)
}
