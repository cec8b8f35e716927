package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
)

// Audit appends one entry to the audit log. The log is append-only: the
// schema's triggers refuse UPDATE and DELETE on it.
func (s *DB) Audit(ctx context.Context, e mcloud.AuditEntry) error {
	return s.audit(ctx, s.db, e)
}

func (s *DB) audit(ctx context.Context, q querier, e mcloud.AuditEntry) error {
	if e.At.IsZero() {
		e.At = s.Now()
	}
	_, err := q.ExecContext(ctx, s.rebind(`INSERT INTO audit (at, customer, user_id, user_name, channel_id, request_id, job_id, event, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ms(e.At), e.Customer, e.UserID, e.UserName, e.ChannelID, e.RequestID, e.JobID, e.Event, e.Detail)
	if err != nil {
		return fmt.Errorf("append audit %s: %w", e.Event, err)
	}
	return nil
}

// AuditLog returns a customer's audit entries at or after since, oldest
// first, at most limit of the newest.
func (s *DB) AuditLog(ctx context.Context, customer string, since time.Time, limit int) ([]mcloud.AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT id, at, customer, user_id, user_name, channel_id, request_id, job_id, event, detail
		FROM audit WHERE customer = ? AND at >= ? ORDER BY id DESC LIMIT ?`), customer, ms(since), limit)
	if err != nil {
		return nil, fmt.Errorf("read audit of %s: %w", customer, err)
	}
	defer rows.Close()
	var out []mcloud.AuditEntry
	for rows.Next() {
		var e mcloud.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Customer, &e.UserID, &e.UserName, &e.ChannelID, &e.RequestID, &e.JobID, &e.Event, &e.Detail); err != nil {
			return nil, fmt.Errorf("scan audit: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, rows.Err()
}

func paramsText(p mcloud.Params) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, " ")
}

func planText(p mcloud.Plan, needed int) string {
	s := p.Summary
	if p.Command != "" {
		s += " `" + p.Command + "`"
	}
	for _, w := range p.Warnings {
		s += " (warning: " + strings.TrimSuffix(w, ".") + ")"
	}
	if len(p.Steps) > 0 {
		s += " (" + mcloud.Count(len(p.Steps), "step", "steps") + ")"
	}
	if needed > 0 {
		s += "; needs " + mcloud.Count(needed, "approval", "approvals")
	} else {
		s += "; no approval needed"
	}
	return s
}
