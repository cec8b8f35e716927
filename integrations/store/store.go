// Package store keeps mcloud's state (requests, approvals, jobs, audit,
// outbox) in SQLite by default or PostgreSQL for several replicas, with one
// schema and versioned migrations. The job queue (River) lives in the same
// database so approving a request and enqueueing its job is one transaction.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go

	"github.com/mcloud/mcloud/internal/groupcommit"
)

// Dialect is the SQL flavour of the open database.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open store.
type DB struct {
	db      *sql.DB
	dialect Dialect
	// listen is a small pgx pool on PostgreSQL that only holds River's
	// LISTEN connection: database/sql cannot LISTEN.
	listen *pgxpool.Pool
	// opened counts connections the pool opened (PostgreSQL), so a
	// benchmark can show that the pool keeps them.
	opened atomic.Int64
	// accepts writes Slack deliveries by group commit (deliveries.go);
	// on SQLite it keeps takeConn while deliveries keep coming.
	accepts       *groupcommit.Committer[acceptItem, acceptResult]
	takeConn      *sql.Conn
	takeConnSince time.Time
	// yieldFrom is when claims began yielding to deliveries being
	// stored (unix ns; 0: they are not).
	yieldFrom atomic.Int64
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// DefaultPath is the SQLite file used when no database URL is given.
const DefaultPath = "mcloud.db"

// Open opens the database named by dsn: "postgres://..." for PostgreSQL, or
// a file path (optionally "sqlite://path" or "file:path") for SQLite. It
// does not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if dsn == "" {
		dsn = DefaultPath
	}
	var (
		db      *sql.DB
		dialect Dialect
		err     error
	)
	s := &DB{Now: time.Now}
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		dialect = Postgres
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", redact(err, dsn))
		}
		db = sql.OpenDB(countingConnector{stdlib.GetConnector(*cfg), &s.opened})
		poolPostgres(db)
		pcfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open postgres: %w", redact(err, dsn))
		}
		// One connection for LISTEN, one spare while it reconnects.
		pcfg.MaxConns = 2
		pcfg.MinConns = 0
		if s.listen, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
			db.Close()
			return nil, fmt.Errorf("open postgres: %w", redact(err, dsn))
		}
	default:
		dialect = SQLite
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
		db, err = sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		// SQLite allows one writer; River's own advice is a single
		// connection so its internal work never meets SQLITE_BUSY. It is
		// kept for good: reopening a file is cheap but drops its cache.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	}
	s.db, s.dialect = db, dialect
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, redact(err, dsn))
	}
	s.accepts = groupcommit.New(acceptOptions(s), s.acceptBatch)
	return s, nil
}

// Pool sizes on PostgreSQL. database/sql keeps only 2 idle connections by
// default, so under load every other query closed a connection and the
// next opened one (a TLS and auth round trip each); idle = open keeps
// them. The lifetime still recycles them, so a failover or a
// pgbouncer/server restart is followed within minutes.
const (
	pgMaxConns        = 20
	pgConnMaxLifetime = 30 * time.Minute
	pgConnMaxIdleTime = 5 * time.Minute
)

func poolPostgres(db *sql.DB) {
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgMaxConns)
	db.SetConnMaxLifetime(pgConnMaxLifetime)
	db.SetConnMaxIdleTime(pgConnMaxIdleTime)
}

// countingConnector counts the connections database/sql opens.
type countingConnector struct {
	driver.Connector
	n *atomic.Int64
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err == nil {
		c.n.Add(1)
	}
	return conn, err
}

// ConnectionsOpened is how many database connections this store has opened
// so far (PostgreSQL: the main pool and River's LISTEN pool; SQLite: 0).
func (s *DB) ConnectionsOpened() int64 {
	n := s.opened.Load()
	if s.listen != nil {
		n += s.listen.Stat().NewConnsCount()
	}
	return n
}

// redact keeps a password in a URL out of an error message.
func redact(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	if p, ok := u.User.Password(); ok && p != "" {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}

// Close closes the database, once the deliveries being stored are
// committed (or have failed).
func (s *DB) Close() error {
	if s.accepts != nil {
		s.accepts.Close()
	}
	if s.listen != nil {
		s.listen.Close()
	}
	return s.db.Close()
}

// Dialect reports which database this is.
func (s *DB) Dialect() Dialect { return s.dialect }

// SQL exposes the pool, for the job queue and for tests.
func (s *DB) SQL() *sql.DB { return s.db }

// RiverDriver returns the River driver for this database. Both drivers work
// on *sql.Tx, so enqueueing can join any store transaction. On PostgreSQL
// the driver also LISTENs (through the pgx pool), so River's workers hear
// of a job the moment its transaction commits instead of polling.
func (s *DB) RiverDriver() riverdriver.Driver[*sql.Tx] {
	if s.dialect == Postgres {
		return listenDriver{Driver: riverdatabasesql.New(s.db), listen: riverpgxv5.New(s.listen)}
	}
	return riversqlite.New(s.db)
}

// listenDriver is River's database/sql driver with the pgx driver's
// listener. database/sql's driver already sends River's NOTIFY inside the
// enqueueing transaction; only the receiving end needs a pgx connection.
type listenDriver struct {
	*riverdatabasesql.Driver
	listen *riverpgxv5.Driver
}

func (d listenDriver) SupportsListener() bool { return true }

func (d listenDriver) GetListener(p *riverdriver.GetListenenerParams) riverdriver.Listener {
	return d.listen.GetListener(p)
}

// Ping checks the database answers, for readiness.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Migrate brings the schema (ours and River's) to the newest version. It is
// safe to run from several replicas at once on PostgreSQL: a session-level
// advisory lock held on one connection for the whole run makes the others
// wait, then find nothing to do.
func (s *DB) Migrate(ctx context.Context) (applied []string, err error) {
	if s.dialect == Postgres {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate: connect: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7461636)`); err != nil {
			return nil, fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7461636)`)
	}
	return s.migrate(ctx, 0)
}

// migrate applies our migrations up to version upTo (0: all), then River's.
func (s *DB) migrate(ctx context.Context, upTo int) (applied []string, err error) {
	applied, err = s.migrateOwn(ctx, upTo)
	if err != nil {
		return nil, err
	}
	migrator, err := rivermigrate.New(s.RiverDriver(), nil)
	if err != nil {
		return nil, fmt.Errorf("migrate job queue: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate job queue: %w", err)
	}
	for _, v := range res.Versions {
		applied = append(applied, fmt.Sprintf("river %d: %s", v.Version, v.Name))
	}
	return applied, nil
}

// migrateOwn applies mcloud's own migrations in one transaction.
func (s *DB) migrateOwn(ctx context.Context, upTo int) (applied []string, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS mcloud_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("migrate: create version table: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM mcloud_migrations`).Scan(&current); err != nil {
		return nil, fmt.Errorf("migrate: read version: %w", err)
	}
	for _, m := range migrations {
		if m.version <= current || (upTo > 0 && m.version > upTo) {
			continue
		}
		text := m.sqlite
		if s.dialect == Postgres {
			if m.postgres != "" {
				text = m.postgres
			}
			text = strings.ReplaceAll(text, "{{id}}", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
		} else {
			text = strings.ReplaceAll(text, "{{id}}", "INTEGER PRIMARY KEY AUTOINCREMENT")
		}
		if text != "" {
			if _, err := tx.ExecContext(ctx, text); err != nil {
				return nil, fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
			}
		}
		if m.fn != nil {
			if err := m.fn(ctx, tx, s.dialect); err != nil {
				return nil, fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO mcloud_migrations (version, name, applied_at) VALUES (?, ?, ?)`), m.version, m.name, s.Now().UnixMilli()); err != nil {
			return nil, fmt.Errorf("migrate: record version %d: %w", m.version, err)
		}
		applied = append(applied, fmt.Sprintf("mcloud %d: %s", m.version, m.name))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("migrate: commit: %w", err)
	}
	return applied, nil
}

// rebind turns ? placeholders into $1, $2 for PostgreSQL. Our queries never
// contain a literal question mark.
func (s *DB) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// insertID inserts and returns the new row's id on both dialects.
func (s *DB) insertID(ctx context.Context, q querier, query string, args ...any) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, s.rebind(query+" RETURNING id"), args...).Scan(&id)
	return id, err
}

// queryStrings runs a query of one text column and returns its values;
// errors say what (a phrase like "list outbox channels") failed.
func (s *DB) queryStrings(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// inTx runs fn in a transaction. SQLite transactions begin IMMEDIATE (see
// Open) and PostgreSQL ones lock rows with FOR UPDATE, so concurrent
// approvals of one request are serialised.
func (s *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.dialect == SQLite {
		return s.inSQLiteTx(ctx, fn)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// inSQLiteTx is inTx on SQLite, where a COMMIT that fails (a deferred
// constraint, a full disk, an I/O error) leaves the transaction open on
// its connection: database/sql then reuses the connection, and, it being
// the only one, every later BEGIN would fail with "cannot start a
// transaction within a transaction". The transaction is rolled back on
// the connection it ran on.
func (s *DB) inSQLiteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	return inTxOn(ctx, conn, fn)
}

// inTxOn runs fn in a transaction on conn, an SQLite connection, and
// rolls back on the connection a transaction whose COMMIT failed.
func inTxOn(ctx context.Context, conn *sql.Conn, fn func(tx *sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		if ctx.Err() == nil { // else database/sql rolled it back
			conn.ExecContext(ctx, "ROLLBACK")
		}
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// forUpdate is the row-lock suffix for the dialect.
func (s *DB) forUpdate() string {
	if s.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
