package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/internal/groupcommit"
)

// A Slack delivery (a slash command, a button click, a mention) is kept
// from the moment Slack is told "200" until its work is done: the handler
// stores it with its dedupe key in one transaction before answering, and
// workers on any replica claim it from here. A process that dies leaves
// its claims to expire and be taken over, so acknowledged work is never
// lost; what a re-run must not do twice (create the request, queue the
// answers) is keyed on the delivery.

// Delivery is one stored delivery, claimed by a worker.
type Delivery struct {
	Key string
	// Payload is the verified input, encoded by the bot.
	Payload    string
	ReceivedAt time.Time
	// Attempts counts the claims, this one included.
	Attempts int
}

// FirstDelivery records key (a team and an event, trigger or envelope id)
// and reports whether it is new within ttl. Slack retries events and may
// deliver one click twice; the key lives in the database so a restart
// does not forget it.
func (s *DB) FirstDelivery(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	first, err := s.firstDelivery(ctx, s.db, key, ttl)
	if err != nil {
		return false, fmt.Errorf("record delivery %s: %w", key, err)
	}
	return first, nil
}

func (s *DB) firstDelivery(ctx context.Context, q querier, key string, ttl time.Duration) (bool, error) {
	now := s.Now()
	res, err := q.ExecContext(ctx, s.rebind(`INSERT INTO dedupe (key, at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET at = excluded.at WHERE dedupe.at < ?`),
		key, ms(now), ms(now.Add(-ttl)))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// ErrMaybeAccepted is in AcceptDelivery's error when the caller's context
// ended while the delivery's transaction was committing: it may well be
// stored and worked, so nobody may be told nothing was done.
var ErrMaybeAccepted = groupcommit.ErrMaybeCommitted

// AcceptDelivery records key as FirstDelivery does and, when it is new,
// stores payload to be worked, durably: it returns only once the row is
// committed, so Slack is told "taken" only for what is in the database.
// It reports false for a duplicate, which is not stored again. Deliveries
// that arrive together share a transaction (see acceptBatch); each still
// gets its own answer.
func (s *DB) AcceptDelivery(ctx context.Context, key, payload string, ttl time.Duration) (bool, error) {
	res, err := s.accepts.Do(ctx, acceptItem{key: key, payload: payload, ttl: ttl})
	if err == nil {
		err = res.err
	}
	if err != nil {
		return false, fmt.Errorf("store delivery %s: %w", key, err)
	}
	return res.first, nil
}

// The acknowledgement waits for its delivery's commit, so under a burst
// of slash commands commits are what Slack waits on: on SQLite each is a
// WAL write on the one connection the job workers also use, on PostgreSQL
// a round trip and a WAL flush. Group commit pays one per batch.
const (
	takeBatchMax     = 100 // deliveries per transaction; 300 parameters at most
	takeBatchTimeout = 10 * time.Second
)

// acceptOptions shape the delivery writer. On SQLite there is one writer
// and one connection: one batch at a time, on the connection it keeps
// through a burst. On PostgreSQL the batch is one statement whose time
// under load is mostly the server's turn on the CPU, so a few batches go
// at once: a delivery then waits for a free writer, not for the batch
// before its own.
func acceptOptions(s *DB) groupcommit.Options {
	o := groupcommit.Options{Max: takeBatchMax, Timeout: takeBatchTimeout, Parallel: 1}
	if s.dialect == Postgres {
		o.Parallel = takeParallelPG
	} else {
		o.Idle, o.IdleAfter = s.releaseTakeConn, takeConnIdle
	}
	return o
}

const takeParallelPG = 4

type acceptItem struct {
	key, payload string
	ttl          time.Duration
}

// acceptBatch stores a batch of deliveries in one transaction and reports
// for each whether it was new. A key twice in the batch is new once. A
// delivery the database refuses (something wrong with it) does not fail
// the others: each is then stored alone, with its own answer. A failed
// commit (the database failing, not refusing a delivery) fails them all.
func (s *DB) acceptBatch(ctx context.Context, items []acceptItem) ([]acceptResult, error) {
	firsts := make([]bool, len(items))
	var err error
	refused := false
	if s.dialect == Postgres {
		// One statement is its own transaction: no BEGIN and COMMIT round
		// trips for the acknowledgements to wait on.
		err = s.takeMany(ctx, s.db, items, firsts)
		refused = refusedData(err)
	} else {
		var stmtErr error
		err = s.inTakeTx(ctx, func(tx *sql.Tx) error {
			stmtErr = s.takeMany(ctx, tx, items, firsts)
			return stmtErr
		})
		refused = stmtErr != nil
	}
	if err != nil && (!refused || len(items) == 1 || ctx.Err() != nil) {
		return nil, err
	}
	res := make([]acceptResult, len(items))
	for i, it := range items {
		if err != nil {
			res[i].first, res[i].err = s.takeOne(ctx, it)
		} else {
			res[i].first = firsts[i]
		}
	}
	return res, nil
}

// refusedData reports whether PostgreSQL refused a statement for what it
// was given (a data exception, a broken constraint, a trigger's error),
// rather than failed (a lost connection, a full disk, a shutdown).
func refusedData(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "P0":
		return true
	}
	return false
}

// On SQLite the one connection is shared with the job workers and the
// delivery workers, and database/sql hands it to a waiter at random:
// under load each batch waited for the connection longer than it took to
// write. The writer keeps the connection from one batch to the next
// while deliveries keep coming (acknowledgements first, work after): it
// gives it back when none came for takeConnIdle, and after takeConnHold
// at most, so the workers still get their turns.
const (
	takeConnIdle = 5 * time.Millisecond
	takeConnHold = 50 * time.Millisecond
)

// inTakeTx runs fn in a transaction for the delivery writer (on SQLite
// only ever called from its one loop) on the connection it keeps.
func (s *DB) inTakeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.dialect != SQLite {
		return s.inTx(ctx, fn)
	}
	if s.takeConn != nil && time.Since(s.takeConnSince) > takeConnHold {
		s.releaseTakeConn()
	}
	if s.takeConn == nil {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		s.takeConn, s.takeConnSince = conn, time.Now()
	}
	err := inTxOn(ctx, s.takeConn, fn)
	if errors.Is(err, driver.ErrBadConn) {
		s.releaseTakeConn()
	}
	return err
}

// releaseTakeConn gives the delivery writer's connection back to the
// pool; the writer calls it whenever no delivery waits.
func (s *DB) releaseTakeConn() {
	if s.takeConn != nil {
		s.takeConn.Close()
		s.takeConn = nil
	}
}

// acceptResult is one delivery's answer from a batch.
type acceptResult struct {
	first bool
	err   error
}

// takeMany is acceptBatch's work (in tx, a transaction on SQLite), in a number of
// statements that does not grow with the batch: on PostgreSQL one (a
// round trip is what an acknowledgement waits on), on SQLite one INSERT
// for the keys and one for the payloads of the new ones.
func (s *DB) takeMany(ctx context.Context, tx querier, items []acceptItem, firsts []bool) error {
	now := s.Now()
	// Keys in the batch once each (a second one is a duplicate), grouped
	// by TTL (one in practice).
	type group struct {
		keys []string
		at   []int // index in items of each key's first occurrence
	}
	groups := map[time.Duration]*group{}
	seen := map[string]bool{}
	for i, it := range items {
		if seen[it.key] {
			continue
		}
		seen[it.key] = true
		g := groups[it.ttl]
		if g == nil {
			g = &group{}
			groups[it.ttl] = g
		}
		g.keys = append(g.keys, it.key)
		g.at = append(g.at, i)
	}
	var fresh []int
	for ttl, g := range groups {
		args := make([]any, 0, 2*len(g.keys)+3)
		var q string
		if s.dialect == Postgres {
			for _, i := range g.at {
				args = append(args, items[i].key, items[i].payload)
			}
			args = append(args, ms(now), ms(now.Add(-ttl)), ms(now))
			q = `WITH v (key, payload) AS (VALUES ` + placeholders(len(g.keys), 2) + `),
				d AS (INSERT INTO dedupe (key, at) SELECT key, ?::bigint FROM v
					ON CONFLICT (key) DO UPDATE SET at = excluded.at WHERE dedupe.at < ?::bigint RETURNING key)
				INSERT INTO slack_deliveries (key, payload, received_at) SELECT v.key, v.payload, ?::bigint FROM v JOIN d USING (key)
				ON CONFLICT (key) DO UPDATE SET ` + redeliver + ` RETURNING key`
		} else {
			for _, k := range g.keys {
				args = append(args, k, ms(now))
			}
			args = append(args, ms(now.Add(-ttl)))
			q = `INSERT INTO dedupe (key, at) VALUES ` + placeholders(len(g.keys), 2) + `
				ON CONFLICT (key) DO UPDATE SET at = excluded.at WHERE dedupe.at < ? RETURNING key`
		}
		isNew, err := keysOf(ctx, tx, s.rebind(q), args)
		if err != nil {
			return err
		}
		for j, k := range g.keys {
			if isNew[k] {
				firsts[g.at[j]] = true
				fresh = append(fresh, g.at[j])
			}
		}
	}
	if len(fresh) == 0 || s.dialect == Postgres {
		return nil
	}
	args := make([]any, 0, 3*len(fresh))
	for _, i := range fresh {
		args = append(args, items[i].key, items[i].payload, ms(now))
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO slack_deliveries (key, payload, received_at) VALUES `+placeholders(len(fresh), 3)+`
		ON CONFLICT (key) DO UPDATE SET `+redeliver, args...)
	return err
}

// redeliver replaces a row left from an older delivery with the same key
// (past the TTL, not purged yet).
const redeliver = `payload = excluded.payload, received_at = excluded.received_at,
	owner = '', lease_until = 0, attempts = 0, request_id = 0, done_at = 0`

// keysOf runs q and returns the keys it returns.
func keysOf(ctx context.Context, tx querier, q string, args []any) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys[k] = true
	}
	return keys, rows.Err()
}

// takeOne stores one delivery in a transaction of its own.
func (s *DB) takeOne(ctx context.Context, it acceptItem) (bool, error) {
	firsts := make([]bool, 1)
	if s.dialect == Postgres {
		err := s.takeMany(ctx, s.db, []acceptItem{it}, firsts)
		return firsts[0], err
	}
	err := s.inTakeTx(ctx, func(tx *sql.Tx) error { return s.takeMany(ctx, tx, []acceptItem{it}, firsts) })
	return firsts[0], err
}

// placeholders is "(?, ?), (?, ?)" for rows of width columns.
func placeholders(rows, width int) string {
	row := "(?" + strings.Repeat(", ?", width-1) + ")"
	return row + strings.Repeat(", "+row, rows-1)
}

// ClaimDelivery gives owner the oldest delivery nobody is working (never
// claimed, or claimed by a process whose lease ran out) for lease, or nil
// when there is none. On PostgreSQL concurrent claimers skip each other's
// rows, so each delivery has one worker at a time.
func (s *DB) ClaimDelivery(ctx context.Context, owner string, lease time.Duration) (*Delivery, error) {
	if s.yieldToTakes() {
		return nil, nil
	}
	now := s.Now()
	skip := ""
	if s.dialect == Postgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	var d Delivery
	var received int64
	err := s.db.QueryRowContext(ctx, s.rebind(`UPDATE slack_deliveries SET owner = ?, lease_until = ?, attempts = attempts + 1
		WHERE id = (SELECT id FROM slack_deliveries WHERE done_at = 0 AND lease_until <= ? ORDER BY id LIMIT 1`+skip+`)
		AND done_at = 0 AND lease_until <= ?
		RETURNING key, payload, received_at, attempts`), owner, ms(now.Add(lease)), ms(now), ms(now)).
		Scan(&d.Key, &d.Payload, &received, &d.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim a Slack delivery: %w", err)
	}
	d.ReceivedAt = fromMS(received)
	return &d, nil
}

// The work of a delivery competes with the acknowledgement of the next
// ones for the CPU and the database (on PostgreSQL a burst of slash
// commands being worked slowed their acknowledgements six-fold), and only
// the acknowledgement has a deadline (Slack's 3 s). So while deliveries
// are being stored, claims find nothing, for up to maxYield in a row; the
// last delivery stored wakes the workers (Slack.keep), or their poll does.
const maxYield = time.Second

// yieldToTakes reports whether a claim should find nothing now because
// deliveries are being stored.
func (s *DB) yieldToTakes() bool {
	if s.accepts.Pending() == 0 {
		s.yieldFrom.Store(0)
		return false
	}
	now := time.Now().UnixNano()
	s.yieldFrom.CompareAndSwap(0, now)
	return now-s.yieldFrom.Load() < int64(maxYield)
}

// RenewDelivery extends owner's lease on key; false means owner no longer
// holds it (it expired and another process took the delivery over).
func (s *DB) RenewDelivery(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE slack_deliveries SET lease_until = ? WHERE key = ? AND owner = ? AND done_at = 0`),
		ms(s.Now().Add(lease)), key, owner)
	if err != nil {
		return false, fmt.Errorf("renew lease on delivery %s: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("renew lease on delivery %s: %w", key, err)
	}
	return n == 1, nil
}

// FinishDelivery marks key done and queues the messages its work produced,
// in one transaction, so a crash either leaves the delivery to be worked
// again with nothing queued, or done with everything queued. It is fenced
// on owner's claim: when another process took the delivery over, nothing
// is queued and it reports false.
func (s *DB) FinishDelivery(ctx context.Context, key, owner string, msgs []OutboxItem) (bool, error) {
	var mine bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.rebind(`UPDATE slack_deliveries SET done_at = ?, lease_until = 0 WHERE key = ? AND owner = ? AND done_at = 0`),
			ms(s.Now()), key, owner)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		mine = true
		for _, it := range msgs {
			if _, err := s.queueMessage(ctx, tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("finish delivery %s: %w", key, err)
	}
	return mine, nil
}

// ForgetDelivery removes key, so a delivery that could not be taken on
// is processed when Slack sends it again.
func (s *DB) ForgetDelivery(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM dedupe WHERE key = ?`), key); err != nil {
		return fmt.Errorf("forget delivery %s: %w", key, err)
	}
	return nil
}

// PurgeDeliveries forgets keys recorded before before, and the deliveries
// done before then; one not done yet is kept whatever its age.
func (s *DB) PurgeDeliveries(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM dedupe WHERE at < ?`), ms(before))
	if err != nil {
		return 0, fmt.Errorf("purge old deliveries: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM slack_deliveries WHERE done_at <> 0 AND done_at < ?`), ms(before)); err != nil {
		return 0, fmt.Errorf("purge old deliveries: %w", err)
	}
	return res.RowsAffected()
}

type deliveryCtxKey struct{}

// WithDelivery marks ctx as the work of delivery key: a request submitted
// under it is created once, however often the delivery is worked.
func WithDelivery(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, deliveryCtxKey{}, key)
}

func deliveryOf(ctx context.Context) string {
	key, _ := ctx.Value(deliveryCtxKey{}).(string)
	return key
}

// submitted finds the request an earlier run of ctx's delivery created,
// inside tx (the delivery's row locked, so two runs at once wait for each
// other). ok is false when there is none, or no delivery.
func (s *DB) submitted(ctx context.Context, tx *sql.Tx) (r *mcloud.Request, job *mcloud.Job, ok bool, err error) {
	key := deliveryOf(ctx)
	if key == "" {
		return nil, nil, false, nil
	}
	var id int64
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT request_id FROM slack_deliveries WHERE key = ?`+s.forUpdate()), key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && id == 0) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("read delivery %s: %w", key, err)
	}
	if r, err = s.getRequest(ctx, tx, id, false); err != nil {
		return nil, nil, false, err
	}
	if r.JobID != 0 {
		if job, err = s.getJob(ctx, tx, r.JobID, false); err != nil {
			return nil, nil, false, err
		}
	}
	return r, job, true, nil
}

// markSubmitted records, inside the transaction that created request id,
// that ctx's delivery created it.
func (s *DB) markSubmitted(ctx context.Context, tx *sql.Tx, id int64) error {
	key := deliveryOf(ctx)
	if key == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE slack_deliveries SET request_id = ? WHERE key = ?`), id, key); err != nil {
		return fmt.Errorf("record request #%d of delivery %s: %w", id, key, err)
	}
	return nil
}
