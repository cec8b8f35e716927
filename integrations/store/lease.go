package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrLeaseLost means another process now sends this channel's messages;
// this one must stop before it sends anything more there.
var ErrLeaseLost = errors.New("another process holds this channel's outbox lease")

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

// OutboxChannels lists the channels with unsent messages that no other
// live process is sending.
func (s *DB) OutboxChannels(ctx context.Context, owner string) ([]string, error) {
	return s.queryStrings(ctx, "list outbox channels", `SELECT DISTINCT channel_id FROM outbox WHERE sent_at = 0
		AND channel_id NOT IN (SELECT channel_id FROM slack_leases WHERE until > ? AND owner <> ?) ORDER BY channel_id`,
		ms(s.Now()), owner)
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
