package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// migration is one schema version. Most SQL is shared; where the dialects
// differ (identity columns, triggers), each gets its own text. fn, when
// set, runs after the text, for changes SQL alone cannot say on both
// dialects.
type migration struct {
	version  int
	name     string
	sqlite   string
	postgres string
	fn       func(ctx context.Context, tx *sql.Tx, d Dialect) error
}

// {{id}} is replaced by the dialect's auto-increment primary key.
var migrations = []migration{
	{version: 1, name: "requests, approvals, jobs, steps, audit, outbox, dedupe",
		sqlite: `
CREATE TABLE requests (
	id {{id}},
	verb TEXT NOT NULL,
	customer TEXT NOT NULL,
	env TEXT NOT NULL DEFAULT '',
	params TEXT NOT NULL,
	plan TEXT NOT NULL,
	requester TEXT NOT NULL,
	requester_id TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	needed INTEGER NOT NULL,
	status TEXT NOT NULL,
	denied_by TEXT NOT NULL DEFAULT '',
	reason TEXT NOT NULL DEFAULT '',
	job_id BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX requests_customer_status ON requests (customer, status);
CREATE TABLE approvals (
	request_id BIGINT NOT NULL REFERENCES requests (id),
	user_id TEXT NOT NULL,
	name TEXT NOT NULL,
	at BIGINT NOT NULL,
	PRIMARY KEY (request_id, user_id)
);
CREATE TABLE jobs (
	id {{id}},
	request_id BIGINT NOT NULL UNIQUE REFERENCES requests (id),
	verb TEXT NOT NULL,
	customer TEXT NOT NULL,
	env TEXT NOT NULL DEFAULT '',
	params TEXT NOT NULL,
	status TEXT NOT NULL,
	attempt INTEGER NOT NULL DEFAULT 0,
	channel_id TEXT NOT NULL,
	requester TEXT NOT NULL,
	error TEXT NOT NULL DEFAULT '',
	cancel INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	started_at BIGINT NOT NULL DEFAULT 0,
	ended_at BIGINT NOT NULL DEFAULT 0,
	heartbeat_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_customer ON jobs (customer, id);
CREATE TABLE job_steps (
	job_id BIGINT NOT NULL REFERENCES jobs (id),
	name TEXT NOT NULL,
	value TEXT NOT NULL DEFAULT '',
	done_at BIGINT NOT NULL,
	PRIMARY KEY (job_id, name)
);
CREATE TABLE audit (
	id {{id}},
	at BIGINT NOT NULL,
	customer TEXT NOT NULL,
	user_id TEXT NOT NULL,
	user_name TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	request_id BIGINT NOT NULL DEFAULT 0,
	job_id BIGINT NOT NULL DEFAULT 0,
	event TEXT NOT NULL,
	detail TEXT NOT NULL
);
CREATE INDEX audit_customer_at ON audit (customer, at);
CREATE TABLE outbox (
	id {{id}},
	channel_id TEXT NOT NULL,
	request_id BIGINT NOT NULL DEFAULT 0,
	job_id BIGINT NOT NULL DEFAULT 0,
	text TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	sent_at BIGINT NOT NULL DEFAULT 0,
	attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox (sent_at, id);
CREATE TABLE dedupe (
	key TEXT PRIMARY KEY,
	at BIGINT NOT NULL
);
`},
	{version: 2, name: "audit is append-only",
		sqlite: `
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`,
		postgres: `
CREATE FUNCTION mcloud_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION mcloud_audit_append_only();
`},
	{version: 3, name: "slack: outbox kinds and delivery state, thread roots, channel leases",
		sqlite: `
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'post';
ALTER TABLE outbox ADD COLUMN blocks TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN thread_ts TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN ts TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN inflight_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN error TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_channel_pending ON outbox (channel_id, sent_at, id);
CREATE TABLE slack_messages (
	request_id BIGINT NOT NULL,
	channel_id TEXT NOT NULL,
	ts TEXT NOT NULL,
	PRIMARY KEY (request_id, channel_id)
);
CREATE TABLE slack_leases (
	channel_id TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	until BIGINT NOT NULL
);
CREATE INDEX dedupe_at ON dedupe (at);
`},
	{version: 4, name: "slack: fencing token of channel leases",
		sqlite: `
ALTER TABLE slack_leases ADD COLUMN token BIGINT NOT NULL DEFAULT 0;
`},
	{version: 5, name: "a job's number is its request's number", fn: renumberJobs},
	{version: 6, name: "slack: acknowledged deliveries kept until worked",
		sqlite: `
CREATE TABLE slack_deliveries (
	id {{id}},
	key TEXT NOT NULL UNIQUE,
	payload TEXT NOT NULL,
	received_at BIGINT NOT NULL,
	owner TEXT NOT NULL DEFAULT '',
	lease_until BIGINT NOT NULL DEFAULT 0,
	attempts INTEGER NOT NULL DEFAULT 0,
	request_id BIGINT NOT NULL DEFAULT 0,
	done_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX slack_deliveries_pending ON slack_deliveries (done_at, lease_until, id);
`},
	{version: 7, name: "jobs: typed step results, recorded ending for cleanup steps",
		sqlite: `
ALTER TABLE job_steps ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN ending TEXT NOT NULL DEFAULT '';
`},
	{version: 8, name: "provision: inventory of provisioned hosts",
		sqlite: `
CREATE TABLE inventory (
	customer TEXT NOT NULL,
	env TEXT NOT NULL,
	host TEXT NOT NULL,
	instance_id TEXT NOT NULL,
	address TEXT NOT NULL,
	host_key TEXT NOT NULL,
	key_problem TEXT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (customer, env, host)
);
`},
	{version: 9, name: "schedules: fire times claimed once, pauses",
		sqlite: `
CREATE TABLE schedule_fires (
	schedule TEXT NOT NULL,
	fire_at BIGINT NOT NULL,
	outcome TEXT NOT NULL,
	detail TEXT NOT NULL DEFAULT '',
	late_ms BIGINT NOT NULL DEFAULT 0,
	request_id BIGINT NOT NULL DEFAULT 0,
	claimed_at BIGINT NOT NULL,
	PRIMARY KEY (schedule, fire_at)
);
CREATE TABLE schedule_pauses (
	schedule TEXT PRIMARY KEY,
	reason TEXT NOT NULL,
	by_name TEXT NOT NULL,
	at BIGINT NOT NULL
);
`},
	{version: 10, name: "alerts: problems and summaries, and what each channel shows of them",
		sqlite: `
CREATE TABLE alert_problems (
	id {{id}},
	fingerprint TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL DEFAULT 'problem',
	source TEXT NOT NULL DEFAULT '',
	alert_key TEXT NOT NULL DEFAULT '',
	customer TEXT NOT NULL DEFAULT '',
	name TEXT NOT NULL DEFAULT '',
	host TEXT NOT NULL DEFAULT '',
	severity TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL DEFAULT '',
	summary TEXT NOT NULL DEFAULT '',
	url TEXT NOT NULL DEFAULT '',
	count BIGINT NOT NULL DEFAULT 0,
	first_at BIGINT NOT NULL DEFAULT 0,
	last_at BIGINT NOT NULL DEFAULT 0,
	acked_by TEXT NOT NULL DEFAULT '',
	acked_at BIGINT NOT NULL DEFAULT 0,
	acked_until BIGINT NOT NULL DEFAULT 0,
	job_id BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX alert_problems_open ON alert_problems (kind, status, customer);
CREATE TABLE alert_messages (
	problem_id BIGINT NOT NULL,
	channel_id TEXT NOT NULL,
	summary_id BIGINT NOT NULL DEFAULT 0,
	status TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (problem_id, channel_id)
);
CREATE INDEX alert_messages_channel ON alert_messages (channel_id, created_at);
CREATE INDEX alert_messages_summary ON alert_messages (summary_id);
`},
	{version: 11, name: "dr: drills and failovers with their RPO and RTO, the live region",
		sqlite: `
CREATE TABLE dr_runs (
	job_id BIGINT PRIMARY KEY,
	customer TEXT NOT NULL,
	env TEXT NOT NULL,
	kind TEXT NOT NULL,
	region TEXT NOT NULL,
	started_at BIGINT NOT NULL,
	finished_at BIGINT NOT NULL,
	rpo_ms BIGINT NOT NULL,
	rto_ms BIGINT NOT NULL,
	outcome TEXT NOT NULL,
	report TEXT NOT NULL
);
CREATE INDEX dr_runs_customer ON dr_runs (customer, started_at);
CREATE TABLE dr_live (
	customer TEXT NOT NULL,
	env TEXT NOT NULL,
	region TEXT NOT NULL,
	job_id BIGINT NOT NULL,
	at BIGINT NOT NULL,
	PRIMARY KEY (customer, env)
);
`},
	{version: 12, name: "requests: who denied a request, by identity, so a withdrawal is told from a denial by who, not by name",
		sqlite: `
ALTER TABLE requests ADD COLUMN denier TEXT NOT NULL DEFAULT '';
`},
	{version: 13, name: "alerts: mails that stand in for Slack messages while Slack is unreachable; summaries rendered at most once a second",
		sqlite: `
CREATE TABLE alert_mails (
	id {{id}},
	problem_id BIGINT NOT NULL,
	audience TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	outbox_mark BIGINT NOT NULL,
	subject TEXT NOT NULL,
	body TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	done_at BIGINT NOT NULL DEFAULT 0,
	outcome TEXT NOT NULL DEFAULT '',
	attempts INTEGER NOT NULL DEFAULT 0,
	next_at BIGINT NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_mails_pending ON alert_mails (done_at, id);
ALTER TABLE alert_problems ADD COLUMN rendered_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alert_problems ADD COLUMN dirty INTEGER NOT NULL DEFAULT 0;
CREATE INDEX alert_problems_dirty ON alert_problems (dirty);
`},
	{version: 14, name: "alerts: hosts a running job is changing, whose alerts are expected",
		sqlite: `
CREATE TABLE host_work (
	job_id BIGINT NOT NULL,
	host TEXT NOT NULL,
	customer TEXT NOT NULL,
	address TEXT NOT NULL DEFAULT '',
	until_at BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (job_id, host)
);
CREATE INDEX host_work_customer ON host_work (customer);
`},
	{version: 15, name: "alerts: a mail whose problem sits in a summary not yet rendered waits for that summary's message",
		sqlite: `
ALTER TABLE alert_mails ADD COLUMN summary_wait BIGINT NOT NULL DEFAULT 0;
`},
	{version: 16, name: "dr: one failover at a time per environment, claimed before anything is built",
		sqlite: `
CREATE TABLE dr_claims (
	customer TEXT NOT NULL,
	env TEXT NOT NULL,
	job_id BIGINT NOT NULL,
	at BIGINT NOT NULL,
	PRIMARY KEY (customer, env)
);
`},
}

// renumberJobs gives every existing job its request's number, the rule new
// jobs follow (see approve): before, jobs were numbered on their own, so
// after a denied request #1, request #2 ran as job #1 and "cancel 2" could
// stop another customer's work. Everything that names a job by number
// moves with it: steps, outbox rows, the request's job_id, and the queued
// River jobs' arguments. The audit log is append-only and keeps the old
// numbers in its job_id column; each entry also names the request, whose
// number is the one now used.
func renumberJobs(ctx context.Context, tx *sql.Tx, d Dialect) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, request_id FROM jobs WHERE id <> request_id`)
	if err != nil {
		return fmt.Errorf("read job numbers: %w", err)
	}
	moved := map[int64]int64{}
	for rows.Next() {
		var from, to int64
		if err := rows.Scan(&from, &to); err != nil {
			rows.Close()
			return err
		}
		moved[from] = to
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(moved) == 0 {
		return nil
	}
	// Steps reference jobs(id); the new numbers exist only once every job
	// has moved, so the reference is checked at the end (SQLite) or put
	// back afterwards (PostgreSQL, whose constraint is not deferrable).
	pre := []string{`PRAGMA defer_foreign_keys = ON`}
	post := []string{}
	if d == Postgres {
		pre = []string{`ALTER TABLE job_steps DROP CONSTRAINT job_steps_job_id_fkey`}
		post = []string{`ALTER TABLE job_steps ADD CONSTRAINT job_steps_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs (id)`}
	}
	// Old and new numbers overlap (job 1 becomes 2 while job 2 becomes 3),
	// so every row goes through its negative new number first.
	const newOf = `(SELECT request_id FROM jobs WHERE jobs.id = %[1]s.job_id)`
	stmts := append(pre,
		fmt.Sprintf(`UPDATE job_steps SET job_id = -%s WHERE job_id IN (SELECT id FROM jobs WHERE id <> request_id)`, fmt.Sprintf(newOf, "job_steps")),
		fmt.Sprintf(`UPDATE outbox SET job_id = -%s WHERE job_id IN (SELECT id FROM jobs WHERE id <> request_id)`, fmt.Sprintf(newOf, "outbox")),
		`UPDATE jobs SET id = -request_id WHERE id <> request_id`,
		`UPDATE jobs SET id = -id WHERE id < 0`,
		`UPDATE job_steps SET job_id = -job_id WHERE job_id < 0`,
		`UPDATE outbox SET job_id = -job_id WHERE job_id < 0`,
		`UPDATE requests SET job_id = id WHERE job_id <> 0`,
	)
	for _, q := range append(stmts, post...) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("renumber jobs: %s: %w", q, err)
		}
	}
	return renumberRiverJobs(ctx, tx, d, moved)
}

// renumberRiverJobs points queued River jobs at their job's new number; a
// stale number would start another job.
func renumberRiverJobs(ctx context.Context, tx *sql.Tx, d Dialect, moved map[int64]int64) error {
	exists := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'river_job'`
	if d == Postgres {
		exists = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'river_job'`
	}
	var n int
	if err := tx.QueryRowContext(ctx, exists).Scan(&n); err != nil {
		return fmt.Errorf("look for the job queue's table: %w", err)
	}
	if n == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, args FROM river_job WHERE kind = 'mcloud_job'`)
	if err != nil {
		return fmt.Errorf("read queued jobs: %w", err)
	}
	type change struct {
		id   int64
		args []byte
	}
	var changes []change
	for rows.Next() {
		var id int64
		var args []byte
		if err := rows.Scan(&id, &args); err != nil {
			rows.Close()
			return err
		}
		var a map[string]any
		if err := json.Unmarshal(args, &a); err != nil {
			rows.Close()
			return fmt.Errorf("decode queued job %d: %w", id, err)
		}
		old, _ := a["job_id"].(float64)
		to, ok := moved[int64(old)]
		if !ok {
			continue
		}
		a["job_id"] = to
		b, _ := json.Marshal(a)
		changes = append(changes, change{id, b})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	set := `UPDATE river_job SET args = ? WHERE id = ?`
	if d == Postgres {
		set = `UPDATE river_job SET args = $1::jsonb WHERE id = $2`
	}
	for _, c := range changes {
		var arg any = c.args
		if d == Postgres {
			arg = string(c.args)
		}
		if _, err := tx.ExecContext(ctx, set, arg, c.id); err != nil {
			return fmt.Errorf("renumber queued job %d: %w", c.id, err)
		}
	}
	return nil
}
