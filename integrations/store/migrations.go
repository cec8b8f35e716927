package store

// migration is one schema version. Most SQL is shared; where the dialects
// differ (identity columns, triggers), each gets its own text.
type migration struct {
	version  int
	name     string
	sqlite   string
	postgres string
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
	{version: 4, name: "slack: acknowledged deliveries kept until worked",
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
}
