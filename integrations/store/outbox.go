package store

import (
	"context"
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
)

// Post queues a message for delivery. Jobs and the request flow never talk
// to Slack directly: what they say is written here first, so a Slack outage
// or a restart loses nothing.
func (s *DB) Post(ctx context.Context, p mcloud.Post) (int64, error) {
	return s.post(ctx, s.db, p)
}

// post queues p through q, so a state change and its announcement can be
// one transaction: neither happens without the other.
func (s *DB) post(ctx context.Context, q querier, p mcloud.Post) (int64, error) {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.Now()
	}
	id, err := s.insertID(ctx, q, `INSERT INTO outbox (channel_id, request_id, job_id, text, created_at) VALUES (?, ?, ?, ?, ?)`,
		p.ChannelID, p.RequestID, p.JobID, p.Text, ms(p.CreatedAt))
	if err != nil {
		return 0, fmt.Errorf("queue message for %s: %w", p.ChannelID, err)
	}
	return id, nil
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
	if _, err := s.db.ExecContext(ctx, s.rebind(`UPDATE outbox SET sent_at = ? WHERE id = ?`), ms(s.Now()), id); err != nil {
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
