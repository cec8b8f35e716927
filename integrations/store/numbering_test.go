package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
)

// A database from before one number per piece of work: request #1 was
// denied, so request #2 ran as job #1 and request #3 as job #2. After the
// migration each job, its steps, its messages and its queued River job
// carry the request's number.
func TestMigrationGivesJobsTheirRequestNumber(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.MigrateTo(ctx, 4); err != nil {
			t.Fatal(err)
		}
		exec := func(q string, args ...any) {
			t.Helper()
			if db.Dialect() == store.Postgres {
				for i := 1; strings.Contains(q, "?"); i++ {
					q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
				}
			}
			if _, err := db.SQL().ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		for id, status := range map[int]string{1: "denied", 2: "approved", 3: "approved"} {
			job := map[int]int{2: 1, 3: 2}[id]
			exec(`INSERT INTO requests (id, verb, customer, params, plan, requester, requester_id, channel_id, needed, status, job_id, created_at, expires_at)
				VALUES (?, 'echo', ?, '{}', '{}', '{}', 'U0CAROL', 'C0CUSTX', 1, ?, ?, 1, 2)`, id, fmt.Sprintf("customer-%d", id), status, job)
		}
		if db.Dialect() == store.Postgres {
			// The rows above gave their ids; the real ones took them from the sequence.
			exec(`SELECT setval(pg_get_serial_sequence('requests', 'id'), 3)`)
			exec(`SELECT setval(pg_get_serial_sequence('jobs', 'id'), 2)`)
		}
		exec(`INSERT INTO jobs (id, request_id, verb, customer, params, status, channel_id, requester, created_at) VALUES (1, 2, 'echo', 'customer-2', '{}', 'succeeded', 'C0CUSTX', 'carol', 1)`)
		exec(`INSERT INTO jobs (id, request_id, verb, customer, params, status, channel_id, requester, created_at) VALUES (2, 3, 'echo', 'customer-3', '{}', 'queued', 'C0CUSTY', 'dave', 1)`)
		exec(`INSERT INTO job_steps (job_id, name, value, done_at) VALUES (1, 'say', 'of request 2', 1)`)
		exec(`INSERT INTO job_steps (job_id, name, value, done_at) VALUES (2, 'say', 'of request 3', 1)`)
		exec(`INSERT INTO outbox (channel_id, request_id, job_id, text, created_at) VALUES ('C0CUSTY', 3, 2, 'Job #2 started', 1)`)
		args := `{"job_id": 2}`
		if db.Dialect() == store.Postgres {
			exec(`INSERT INTO river_job (args, kind, max_attempts, queue, state) VALUES (?::jsonb, 'mcloud_job', 25, 'default', 'available')`, args)
		} else {
			exec(`INSERT INTO river_job (args, kind, max_attempts, queue, state, created_at, scheduled_at) VALUES (?, 'mcloud_job', 25, 'default', 'available', datetime('now'), datetime('now'))`, []byte(args))
		}

		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Later migrations (alerts, ...) may follow; the renumbering is first.
		if len(applied) == 0 || !strings.Contains(applied[0], "a job's number is its request's number") {
			t.Fatalf("applied %v, want the renumbering first", applied)
		}
		for _, req := range []int64{2, 3} {
			j, err := db.Job(ctx, req)
			if err != nil || j.RequestID != req || j.Customer != fmt.Sprintf("customer-%d", req) {
				t.Fatalf("job #%d = %+v, %v; want request #%d's job", req, j, err, req)
			}
			r, _ := db.Request(ctx, req)
			if r.JobID != req {
				t.Fatalf("request #%d names job #%d", req, r.JobID)
			}
			steps, _ := db.JobSteps(ctx, req)
			if len(steps) != 1 || steps[0].Value != fmt.Sprintf("of request %d", req) {
				t.Fatalf("steps of job #%d = %+v", req, steps)
			}
		}
		if _, err := db.Job(ctx, 1); mcloud.ErrorCode(err) != mcloud.ENOTFOUND {
			t.Fatalf("job #1 (the denied request's number) = %v; want none", err)
		}
		posts, _ := db.PendingPosts(ctx, 10)
		if len(posts) != 1 || posts[0].JobID != 3 {
			t.Fatalf("outbox = %+v; want its job id moved to 3", posts)
		}
		var got string
		if err := db.SQL().QueryRowContext(ctx, `SELECT CAST(args AS TEXT) FROM river_job WHERE kind = 'mcloud_job'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.ReplaceAll(got, " ", ""), `"job_id":3`) {
			t.Fatalf("queued River job args = %s; want job_id 3", got)
		}
		// New jobs follow the same rule.
		var q counter
		r := newRequest(db, 0, alice)
		job, err := db.Submit(ctx, r, q.enqueue)
		if err != nil || job.ID != r.ID || r.ID != 4 {
			t.Fatalf("new request #%d ran as job %+v, %v", r.ID, job, err)
		}
	})
}

// A request that waits is announced in the same transaction that files it,
// the same request asked again while it waits is refused with the first
// one's number, and the plan channels are every channel with its plan.
func TestSubmitAnnouncesAndRefusesRepeats(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var q counter
		announce := func(r mcloud.Request) []store.OutboxItem {
			return []store.OutboxItem{{Post: mcloud.Post{ChannelID: "C0DEVOPS", Text: fmt.Sprintf("#%d waits", r.ID)}, Kind: store.KindPlan}}
		}
		opts := store.SubmitOptions{Unique: true, Announce: announce}
		first := newRequest(db, 1, carol)
		if _, err := db.SubmitWith(ctx, first, q.enqueue, opts); err != nil {
			t.Fatal(err)
		}
		items, _ := db.OutboxItems(ctx, "C0DEVOPS")
		if len(items) != 1 || items[0].RequestID != first.ID || items[0].Kind != store.KindPlan || items[0].Text != "#1 waits" {
			t.Fatalf("team channel outbox = %+v", items)
		}
		_, err := db.SubmitWith(ctx, newRequest(db, 1, carol), q.enqueue, opts)
		var dup *store.AlreadyWaiting
		if !errors.As(err, &dup) || dup.Request.ID != first.ID {
			t.Fatalf("the same request again: %v", err)
		}
		other := newRequest(db, 1, carol)
		other.Params = mcloud.Params{"text": "something else"}
		if _, err := db.SubmitWith(ctx, other, q.enqueue, opts); err != nil || other.ID != 2 {
			t.Fatalf("a different request: #%d, %v", other.ID, err)
		}
		if _, err := db.Deny(ctx, first.ID, bob, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SubmitWith(ctx, newRequest(db, 1, carol), q.enqueue, opts); err != nil {
			t.Fatalf("asking again after a denial: %v", err)
		}
		if _, err := db.QueueMessage(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: "C0CUSTX", RequestID: first.ID}, Kind: store.KindPlan}); err != nil {
			t.Fatal(err)
		}
		if got, err := db.PlanChannels(ctx, first.ID); err != nil || strings.Join(got, ",") != "C0CUSTX,C0DEVOPS" {
			t.Fatalf("plan channels of #1 = %v, %v", got, err)
		}
	})
}
