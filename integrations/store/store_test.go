package store_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/pgtest"
	"github.com/mcloud/mcloud/internal/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// eachDB runs fn against a fresh SQLite file and a fresh PostgreSQL database.
func eachDB(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	storetest.Each(t, func(t *testing.T, dsn string) { fn(t, storetest.Open(t, dsn)) })
}

func mustOpen(tb testing.TB, dsn string) *store.DB { return storetest.Open(tb, dsn) }

var (
	carol = mcloud.Caller{UserID: "U0CAROL", TeamID: "T0CUSTX", Home: "T0CUSTX", Name: "carol", ChannelID: "C0CUSTX", Role: mcloud.RoleCustomer, Customer: "customer-x"}
	alice = mcloud.Caller{UserID: "U0ALICE", TeamID: "T0DEVOPS", Home: "T0DEVOPS", Name: "alice", ChannelID: "C0DEVOPS", Role: mcloud.RoleDevOps}
	bob   = mcloud.Caller{UserID: "U0BOB", TeamID: "T0DEVOPS", Home: "T0DEVOPS", Name: "bob", ChannelID: "C0CUSTX", Role: mcloud.RoleDevOps, Approver: true}
	erin  = mcloud.Caller{UserID: "U0ERIN", TeamID: "T0DEVOPS", Home: "T0DEVOPS", Name: "erin", ChannelID: "C0CUSTX", Role: mcloud.RoleDevOps, Approver: true}
)

type counter struct{ n atomic.Int64 }

func (c *counter) enqueue(ctx context.Context, tx *sql.Tx, job mcloud.Job) error {
	c.n.Add(1)
	return nil
}

func newRequest(db *store.DB, needed int, by mcloud.Caller) *mcloud.Request {
	now := db.Now()
	return &mcloud.Request{Verb: "echo", Customer: "customer-x", Params: mcloud.Params{"text": "hi"},
		Plan: mcloud.Plan{Summary: "say hi", Steps: []string{"say"}}, Requester: by, Needed: needed,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

func TestMigrateTwice(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		applied, err := db.Migrate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second migrate applied %v, want nothing", applied)
		}
	})
}

func TestApprovalFlow(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var q counter
		r := newRequest(db, 1, carol)
		if job, err := db.Submit(ctx, r, q.enqueue); err != nil || job != nil {
			t.Fatalf("Submit = %v, %v; want pending with no job", job, err)
		}
		if _, err := db.Approve(ctx, r.ID, carol, q.enqueue); mcloud.ErrorCode(err) != mcloud.EUNAUTHORIZED {
			t.Fatalf("requester approval err = %v, want unauthorized", err)
		}
		if _, err := db.Approve(ctx, r.ID, alice, q.enqueue); mcloud.ErrorCode(err) != mcloud.EUNAUTHORIZED {
			t.Fatalf("non-approver err = %v, want unauthorized", err)
		}
		res, err := db.Approve(ctx, r.ID, bob, q.enqueue)
		if err != nil || res.Outcome != mcloud.ApprovalComplete || res.Job == nil {
			t.Fatalf("bob approve = %+v, %v", res, err)
		}
		again, err := db.Approve(ctx, r.ID, bob, q.enqueue)
		if err != nil || again.Outcome != mcloud.ApprovalRepeated {
			t.Fatalf("repeat approve = %+v, %v", again, err)
		}
		if got := q.n.Load(); got != 1 {
			t.Fatalf("enqueued %d times, want 1", got)
		}
		got, err := db.Request(ctx, r.ID)
		if err != nil || got.Status != mcloud.RequestApproved || got.JobID != res.Job.ID || len(got.Approvals) != 1 {
			t.Fatalf("request after approval = %+v, %v", got, err)
		}
		if _, err := db.Request(ctx, 999); mcloud.ErrorCode(err) != mcloud.ENOTFOUND {
			t.Fatalf("missing request err = %v", err)
		}
	})
}

func TestTwoApproversNeeded(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var q counter
		r := newRequest(db, 2, alice)
		db.Submit(ctx, r, q.enqueue)
		res, err := db.Approve(ctx, r.ID, bob, q.enqueue)
		if err != nil || res.Outcome != mcloud.ApprovalCounted || q.n.Load() != 0 {
			t.Fatalf("first of two = %+v, %v, enqueued %d", res, err, q.n.Load())
		}
		res, err = db.Approve(ctx, r.ID, erin, q.enqueue)
		if err != nil || res.Outcome != mcloud.ApprovalComplete || q.n.Load() != 1 {
			t.Fatalf("second of two = %+v, %v, enqueued %d", res, err, q.n.Load())
		}
	})
}

// Duplicated clicks and two approvers at once must produce exactly one job.
func TestConcurrentApprovalsEnqueueOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var q counter
		r := newRequest(db, 1, carol)
		db.Submit(ctx, r, q.enqueue)
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			who := bob
			if i%2 == 1 {
				who = erin
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := db.Approve(ctx, r.ID, who, q.enqueue); err != nil && mcloud.ErrorCode(err) != mcloud.ECONFLICT {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("approve: %v", err)
		}
		if got := q.n.Load(); got != 1 {
			t.Fatalf("enqueued %d times, want exactly 1", got)
		}
	})
}

// If enqueueing fails, the approval must not be recorded either.
func TestEnqueueFailureRollsBack(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRequest(db, 1, carol)
		var q counter
		db.Submit(ctx, r, q.enqueue)
		boom := func(context.Context, *sql.Tx, mcloud.Job) error { return errors.New("queue down") }
		if _, err := db.Approve(ctx, r.ID, bob, boom); err == nil {
			t.Fatal("approve with failing queue succeeded")
		}
		got, _ := db.Request(ctx, r.ID)
		if got.Status != mcloud.RequestPending || len(got.Approvals) != 0 {
			t.Fatalf("after failed enqueue request = %s with %d approvals, want pending with none", got.Status, len(got.Approvals))
		}
		if jobs, _ := db.Jobs(ctx, "", false, 10); len(jobs) != 0 {
			t.Fatalf("jobs = %v, want none", jobs)
		}
	})
}

func TestDenyAndExpire(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var q counter
		denied := newRequest(db, 1, carol)
		db.Submit(ctx, denied, q.enqueue)
		if _, err := db.Deny(ctx, denied.ID, bob, "not during business hours"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Approve(ctx, denied.ID, erin, q.enqueue); mcloud.ErrorCode(err) != mcloud.ECONFLICT {
			t.Fatalf("approve after deny err = %v, want conflict", err)
		}
		old := newRequest(db, 1, carol)
		old.ExpiresAt = db.Now().Add(-time.Second)
		db.Submit(ctx, old, q.enqueue)
		expired, err := db.ExpirePending(ctx, func(r mcloud.Request) mcloud.Post {
			return mcloud.Post{ChannelID: r.Requester.ChannelID, RequestID: r.ID, Text: "expired"}
		})
		if err != nil || len(expired) != 1 || expired[0].ID != old.ID {
			t.Fatalf("ExpirePending = %v, %v", expired, err)
		}
		if posts, _ := db.PendingPosts(ctx, 10); len(posts) != 1 || posts[0].RequestID != old.ID || posts[0].Text != "expired" {
			t.Fatalf("expiry announcements = %+v", posts)
		}
		if _, err := db.Approve(ctx, old.ID, bob, q.enqueue); mcloud.ErrorCode(err) != mcloud.ECONFLICT {
			t.Fatalf("approve after expiry err = %v, want conflict", err)
		}
		if q.n.Load() != 0 {
			t.Fatalf("a denied or expired request was enqueued")
		}
	})
}

func TestJobLifecycle(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var q counter
		r := newRequest(db, 0, alice)
		job, err := db.Submit(ctx, r, q.enqueue)
		if err != nil || job == nil || job.Status != mcloud.JobQueued {
			t.Fatalf("no-approval submit = %+v, %v", job, err)
		}
		j, interrupted, err := db.StartJob(ctx, job.ID, db.Now().Add(-time.Minute))
		if err != nil || interrupted || j.Attempt != 1 {
			t.Fatalf("first start = %+v interrupted=%v %v", j, interrupted, err)
		}
		if err := db.SaveStep(ctx, j, "say", "said hi", "said hi", mcloud.Post{ChannelID: "C0DEVOPS", JobID: j.ID, Text: "said hi"}); err != nil {
			t.Fatal(err)
		}
		// While the first attempt's heartbeat is fresh, nobody else may start it.
		if _, _, err := db.StartJob(ctx, job.ID, db.Now().Add(-time.Minute)); !errors.Is(err, store.ErrBusy) {
			t.Fatalf("start of a live job err = %v, want ErrBusy", err)
		}
		// The process dies here; once its heartbeat is stale a second attempt
		// sees the first never finished.
		j, interrupted, err = db.StartJob(ctx, job.ID, db.Now().Add(time.Second))
		if err != nil || !interrupted || j.Attempt != 2 {
			t.Fatalf("second start = %+v interrupted=%v %v", j, interrupted, err)
		}
		// The first attempt, still running somewhere, can write nothing more.
		first := *j
		first.Attempt = 1
		if err := db.SaveStep(ctx, &first, "late", "x", "late", mcloud.Post{}); !errors.Is(err, store.ErrSuperseded) {
			t.Fatalf("step saved by a superseded attempt: %v", err)
		}
		if err := db.Heartbeat(ctx, job.ID, 1); !errors.Is(err, store.ErrSuperseded) {
			t.Fatalf("heartbeat of a superseded attempt: %v", err)
		}
		if _, err := db.FinishJob(ctx, job.ID, 1, mcloud.JobFailed, "x", "x", mcloud.Post{}); !errors.Is(err, store.ErrSuperseded) {
			t.Fatalf("outcome recorded by a superseded attempt: %v", err)
		}
		if v, done, _ := db.Step(ctx, job.ID, "say"); !done || v != "said hi" {
			t.Fatalf("step checkpoint = %q %v", v, done)
		}
		if _, err := db.FinishJob(ctx, job.ID, 2, mcloud.JobSucceeded, "", "done", mcloud.Post{ChannelID: "C0DEVOPS", JobID: job.ID, Text: "Job done"}); err != nil {
			t.Fatal(err)
		}
		if posts, _ := db.PendingPosts(ctx, 10); len(posts) != 2 || posts[0].Text != "said hi" || posts[1].Text != "Job done" {
			t.Fatalf("announcements queued with the step and the outcome = %+v", posts)
		}
		j, _, _ = db.StartJob(ctx, job.ID, db.Now())
		if j.Status != mcloud.JobSucceeded || j.Attempt != 2 {
			t.Fatalf("a finished job was restarted: %+v", j)
		}
		if _, err := db.RequestCancel(ctx, job.ID, alice); mcloud.ErrorCode(err) != mcloud.ECONFLICT {
			t.Fatalf("cancel finished job err = %v", err)
		}
	})
}

func TestCancelQueuedJob(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var q counter
		job, _ := db.Submit(ctx, newRequest(db, 0, alice), q.enqueue)
		j, err := db.RequestCancel(ctx, job.ID, alice)
		if err != nil || j.Status != mcloud.JobCancelled {
			t.Fatalf("cancel queued = %+v, %v", j, err)
		}
		j, _, _ = db.StartJob(ctx, job.ID, db.Now())
		if j.Status != mcloud.JobCancelled {
			t.Fatalf("a cancelled job started: %s", j.Status)
		}
	})
}

func TestAuditIsAppendOnly(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var q counter
		r := newRequest(db, 1, carol)
		db.Submit(ctx, r, q.enqueue)
		db.Approve(ctx, r.ID, bob, q.enqueue)
		log, err := db.AuditLog(ctx, "customer-x", time.Time{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		var events []string
		for _, e := range log {
			events = append(events, e.Event)
		}
		want := []string{"requested", "planned", "approved", "queued"}
		if len(events) != len(want) {
			t.Fatalf("audit events = %v, want %v", events, want)
		}
		for i := range want {
			if events[i] != want[i] {
				t.Fatalf("audit events = %v, want %v", events, want)
			}
		}
		if _, err := db.SQL().Exec(`UPDATE audit SET detail = 'nothing happened'`); err == nil {
			t.Fatal("UPDATE of the audit log succeeded")
		}
		if _, err := db.SQL().Exec(`DELETE FROM audit`); err == nil {
			t.Fatal("DELETE from the audit log succeeded")
		}
		if other, _ := db.AuditLog(ctx, "customer-y", time.Time{}, 100); len(other) != 0 {
			t.Fatalf("customer-y sees %d of customer-x's audit entries", len(other))
		}
	})
}

func TestOutbox(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, text := range []string{"one", "two", "three"} {
			if _, err := db.Post(ctx, mcloud.Post{ChannelID: "C0CUSTX", Text: text}); err != nil {
				t.Fatal(err)
			}
		}
		pending, _ := db.PendingPosts(ctx, 10)
		if len(pending) != 3 || pending[0].Text != "one" || pending[2].Text != "three" {
			t.Fatalf("pending = %+v", pending)
		}
		db.MarkSent(ctx, pending[0].ID)
		pending, _ = db.PendingPosts(ctx, 10)
		if len(pending) != 2 || pending[0].Text != "two" {
			t.Fatalf("after one sent, pending = %+v", pending)
		}
	})
}

// Replicas starting together all migrate; none may fail on the others' work.
func TestConcurrentMigrations(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A delivered message's text is erased after the retention period; the
// row, undelivered and recent messages, and the audit log stay.
func TestForgetDelivered(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
		now := start
		db.Now = func() time.Time { return now }
		const link = "https://customer-x-logs.s3.amazonaws.com/2026-10.tar?X-Amz-Signature=abc123"
		old, err := db.QueueMessage(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: "C0CUSTX", RequestID: 7, JobID: 7, Text: "Download: " + link},
			Blocks: `[{"type":"section","text":{"type":"mrkdwn","text":"` + link + `"}}]`})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Audit(ctx, mcloud.AuditEntry{Customer: "customer-x", UserID: carol.UserID, UserName: carol.Name, RequestID: 7, JobID: 7,
			Event: "job.succeeded", Detail: "restore-logs 2026-10: links posted"}); err != nil {
			t.Fatal(err)
		}
		db.MarkSent(ctx, old)
		unsent, _ := db.Post(ctx, mcloud.Post{ChannelID: "C0CUSTX", Text: "still waiting for Slack"})
		now = start.Add(6 * 24 * time.Hour)
		recent, _ := db.Post(ctx, mcloud.Post{ChannelID: "C0CUSTX", Text: "sent yesterday"})
		db.MarkSent(ctx, recent)

		now = start.Add(7*24*time.Hour + time.Minute)
		n, err := db.ForgetDelivered(ctx, now.Add(-7*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("erased %d messages, want 1", n)
		}
		items, err := db.OutboxItems(ctx, "C0CUSTX")
		if err != nil {
			t.Fatal(err)
		}
		byID := map[int64]store.OutboxItem{}
		for _, it := range items {
			byID[it.ID] = it
		}
		if it := byID[old]; it.Text != "" || it.Blocks != "" || it.JobID != 7 || it.SentAt.IsZero() {
			t.Errorf("the old delivered message is %+v, want its row without text or blocks", it)
		}
		if byID[unsent].Text == "" || byID[recent].Text == "" {
			t.Errorf("an undelivered or recent message lost its text: %+v, %+v", byID[unsent], byID[recent])
		}
		log, err := db.AuditLog(ctx, "customer-x", time.Time{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 1 || log[0].Event != "job.succeeded" || log[0].UserName != "carol" || !log[0].At.Equal(start) {
			t.Errorf("audit log after the erase = %+v, want carol's entry of %s", log, start)
		}
		if n, _ := db.ForgetDelivered(ctx, now.Add(-7*24*time.Hour)); n != 0 {
			t.Errorf("a second erase erased %d more", n)
		}
	})
}
