package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
)

// Stats is the state of the work at one moment, as monitoring reads it:
// counted in the database, so every replica reports the same numbers.
type Stats struct {
	// ApprovalsWaiting counts pending requests by customer.
	ApprovalsWaiting map[string]int
	// Jobs counts jobs by verb and status.
	Jobs []JobCount
	// OutboxDepth is how many messages wait to be delivered to Slack, and
	// OutboxOldest when the oldest of them was queued (zero when none).
	OutboxDepth  int
	OutboxOldest time.Time
}

// JobCount is how many jobs of a verb are in one status.
type JobCount struct {
	Verb   string
	Status mcloud.JobStatus
	N      int
}

// Stats reads Stats in three small aggregate queries; they use the
// requests_customer_status and outbox_pending indexes.
func (s *DB) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ApprovalsWaiting: map[string]int{}}
	err := s.eachRow(ctx, `SELECT customer, COUNT(*) FROM requests WHERE status = ? GROUP BY customer`,
		[]any{string(mcloud.RequestPending)}, func(rows *sql.Rows) error {
			var cu string
			var n int
			if err := rows.Scan(&cu, &n); err != nil {
				return err
			}
			st.ApprovalsWaiting[cu] = n
			return nil
		})
	if err != nil {
		return st, fmt.Errorf("count pending requests: %w", err)
	}
	err = s.eachRow(ctx, `SELECT verb, status, COUNT(*) FROM jobs GROUP BY verb, status ORDER BY verb, status`, nil, func(rows *sql.Rows) error {
		var c JobCount
		if err := rows.Scan(&c.Verb, &c.Status, &c.N); err != nil {
			return err
		}
		st.Jobs = append(st.Jobs, c)
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("count jobs: %w", err)
	}
	var oldest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at = 0`).Scan(&st.OutboxDepth, &oldest); err != nil {
		return st, fmt.Errorf("measure outbox: %w", err)
	}
	if oldest.Valid {
		st.OutboxOldest = fromMS(oldest.Int64)
	}
	return st, nil
}

func (s *DB) eachRow(ctx context.Context, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
