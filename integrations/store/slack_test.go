package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// clock is a settable clock for the store.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

func withClock(db *store.DB) *clock {
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	db.Now = c.Now
	return c
}

// Slack's retries and duplicated clicks are recognised for the TTL, across
// a restart (the key is in the database), and forgotten afterwards.
func TestFirstDelivery(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := withClock(db)
		first := func(key string) bool {
			t.Helper()
			ok, err := db.FirstDelivery(ctx, key, 15*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !first("slack:event:T0:Ev1") || first("slack:event:T0:Ev1") {
			t.Fatal("an event was not recorded once")
		}
		if !first("slack:event:T1:Ev1") {
			t.Fatal("the same event id in another team counted as a duplicate")
		}
		c.advance(14 * time.Minute)
		if first("slack:event:T0:Ev1") {
			t.Fatal("a retry 14 minutes later was taken again")
		}
		c.advance(2 * time.Minute)
		if !first("slack:event:T0:Ev1") {
			t.Fatal("a key older than the TTL still blocks")
		}
		if err := db.ForgetDelivery(ctx, "slack:event:T0:Ev1"); err != nil || !first("slack:event:T0:Ev1") {
			t.Fatalf("a forgotten delivery is still remembered (%v)", err)
		}
		c.advance(time.Hour)
		if n, err := db.PurgeDeliveries(ctx, c.now.Add(-30*time.Minute)); err != nil || n != 2 {
			t.Fatalf("purge removed %d keys (%v), want 2", n, err)
		}
	})
}

// Only the holder of a channel's lease may send its messages or record
// their failures; a lease runs out when its holder stops renewing it, and
// a holder that lost it stays fenced out by the token even after taking
// the channel again.
func TestOutboxLease(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := withClock(db)
		id, _ := db.QueueMessage(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: "C1", Text: "hello"}})
		db.QueueMessage(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: "C2", Text: "other"}})
		lease := func(owner string) (store.Lease, bool) {
			t.Helper()
			l, ok, err := db.LeaseChannel(ctx, "C1", owner, 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return l, ok
		}
		a1, ok := lease("a")
		if !ok {
			t.Fatal("a could not take a free channel")
		}
		if _, ok := lease("b"); ok {
			t.Fatal("b took a's lease")
		}
		if again, ok := lease("a"); !ok || again.Token != a1.Token {
			t.Fatalf("a's renewal changed its token %d to %d (%v)", a1.Token, again.Token, ok)
		}
		chans, err := db.OutboxChannels(ctx, "b")
		if err != nil || len(chans) != 1 || chans[0] != "C2" {
			t.Fatalf("channels for b = %v, %v; want only C2 (C1 is a's)", chans, err)
		}
		it, _ := db.NextOutbox(ctx, "C1")
		if it == nil || it.ID != id {
			t.Fatalf("next of C1 = %+v", it)
		}
		forged := store.Lease{ChannelID: "C1", Owner: "b", Token: a1.Token, Term: 20 * time.Second}
		if err := db.MarkInflight(ctx, *it, forged); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("b marked a message of a's channel in flight: %v", err)
		}
		// Working renews the lease: 15 s of look-up, then the fence renews
		// it again, and the send still has the whole term.
		c.advance(15 * time.Second)
		if err := db.RenewLease(ctx, a1); err != nil {
			t.Fatal(err)
		}
		c.advance(15 * time.Second)
		if err := db.MarkInflight(ctx, *it, a1); err != nil {
			t.Fatalf("a could not send under a lease it kept renewing: %v", err)
		}
		c.advance(15 * time.Second)
		if _, ok := lease("b"); ok {
			t.Fatal("b took the channel during a's send")
		}

		c.advance(21 * time.Second) // a stalled
		b, ok := lease("b")
		if !ok || b.Token == a1.Token {
			t.Fatalf("b could not take an expired lease, or kept its token (%v, %d)", ok, b.Token)
		}
		if err := db.MarkInflight(ctx, *it, a1); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("a sent after losing its lease: %v", err)
		}
		if err := db.RenewLease(ctx, a1); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("a renewed a lease b holds: %v", err)
		}
		if err := db.Retry(ctx, a1, id, c.now, false, "ratelimited"); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("a recorded a failure after losing its lease: %v", err)
		}
		if err := db.Abandon(ctx, a1, id, "msg_too_long"); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("a gave a message up after losing its lease: %v", err)
		}
		if it, _ := db.NextOutbox(ctx, "C1"); it.InflightAt.IsZero() || it.Attempts != 0 {
			t.Fatalf("a stale holder changed the message: %+v", it)
		}
		if err := db.ReleaseChannel(ctx, b); err != nil {
			t.Fatal(err)
		}
		a2, ok := lease("a")
		if !ok || a2.Token <= b.Token {
			t.Fatalf("a released lease could not be taken, or its token did not grow (%v, %d after %d)", ok, a2.Token, b.Token)
		}
		if err := db.MarkInflight(ctx, *it, a1); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("a's first, lost lease came back to life: %v", err)
		}
		if err := db.Retry(ctx, a2, id, c.now, true, "timeout"); err != nil {
			t.Fatal(err)
		}
		if err := db.Delivered(ctx, *it, "1700000000.000100"); err != nil {
			t.Fatal(err)
		}
		if err := db.MarkInflight(ctx, *it, a2); !errors.Is(err, store.ErrNotPending) {
			t.Fatalf("a delivered message could be sent again: %v", err)
		}
	})
}

// The delivery state of one message through failures, the plan-first
// rule, thread roots, and updates answered together.
func TestOutboxDeliveryState(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := withClock(db)
		owner, ok, err := db.LeaseChannel(ctx, "C1", "a", time.Hour)
		if !ok || err != nil {
			t.Fatalf("lease: %v %v", ok, err)
		}
		progress, _ := db.QueueMessage(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: "C1", RequestID: 7, JobID: 3, Text: "Job #3 started"}})
		plan, _ := db.QueueMessage(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: "C1", RequestID: 7, Text: "plan"}, Kind: store.KindPlan})
		u1, _ := db.QueueMessage(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: "C1", RequestID: 7}, Kind: store.KindUpdate})
		u2, _ := db.QueueMessage(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: "C1", RequestID: 7}, Kind: store.KindUpdate})

		it, err := db.NextOutbox(ctx, "C1")
		if err != nil || it.ID != plan {
			t.Fatalf("next = %+v, %v; want the plan (%d) before the post in its thread", it, err, plan)
		}
		if err := db.MarkInflight(ctx, *it, owner); err != nil {
			t.Fatal(err)
		}
		firstTry := c.now
		c.advance(time.Second)
		// No answer: it may be in Slack, so it stays in flight since the first try.
		if err := db.Retry(ctx, owner, plan, c.now.Add(time.Second), true, "timeout"); err != nil {
			t.Fatal(err)
		}
		it, _ = db.NextOutbox(ctx, "C1")
		if !it.InflightAt.Equal(firstTry) || it.Attempts != 1 || it.Error != "timeout" || !it.NextAt.Equal(c.now.Add(time.Second)) {
			t.Fatalf("after an uncertain failure: %+v", it)
		}
		c.advance(time.Second)
		db.MarkInflight(ctx, *it, owner)
		if it, _ = db.NextOutbox(ctx, "C1"); !it.InflightAt.Equal(firstTry) {
			t.Fatalf("a second try moved the in-flight time to %v", it.InflightAt)
		}
		// Slack said no: it is not there.
		db.Retry(ctx, owner, plan, c.now, false, "ratelimited")
		it, _ = db.NextOutbox(ctx, "C1")
		if !it.InflightAt.IsZero() || it.Attempts != 2 {
			t.Fatalf("after a refusal: %+v", it)
		}
		if err := db.Delivered(ctx, *it, "1700000000.000100"); err != nil {
			t.Fatal(err)
		}
		if root, err := db.ThreadRoot(ctx, 7, "C1"); err != nil || root != "1700000000.000100" {
			t.Fatalf("thread root = %q, %v", root, err)
		}
		if root, _ := db.ThreadRoot(ctx, 7, "C2"); root != "" {
			t.Fatalf("thread root in another channel = %q", root)
		}
		it, _ = db.NextOutbox(ctx, "C1")
		if it.ID != progress {
			t.Fatalf("next = %d, want the job's post %d", it.ID, progress)
		}
		db.Delivered(ctx, *it, "1700000000.000200")
		ids, err := db.PendingUpdates(ctx, 7, "C1")
		if err != nil || len(ids) != 2 || ids[0] != u1 || ids[1] != u2 {
			t.Fatalf("pending updates = %v, %v", ids, err)
		}
		it, _ = db.NextOutbox(ctx, "C1")
		if err := db.Delivered(ctx, *it, "1700000000.000100", ids...); err != nil {
			t.Fatal(err)
		}
		if it, _ := db.NextOutbox(ctx, "C1"); it != nil {
			t.Fatalf("left over: %+v", it)
		}
		bad, _ := db.QueueMessage(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: "C1", Text: "x"}})
		if err := db.Abandon(ctx, owner, bad, "msg_too_long"); err != nil {
			t.Fatal(err)
		}
		all, _ := db.OutboxItems(ctx, "C1")
		if len(all) != 5 || all[4].SentAt.IsZero() || all[4].Error != "msg_too_long" || all[4].TS != "" {
			t.Fatalf("abandoned message: %+v", all[len(all)-1])
		}
		if pending, _ := db.PendingPosts(ctx, 10); len(pending) != 0 {
			t.Fatalf("the shell would still see %d messages", len(pending))
		}
	})
}

// The shell reads the same outbox with PendingPosts and MarkSent.
func TestOutboxShellStillReads(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		db.Post(ctx, mcloud.Post{ChannelID: "C1", RequestID: 2, JobID: 1, Text: "from a job"})
		db.QueueMessage(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: "C1", RequestID: 2, Text: "Plan for request #2"}, Kind: store.KindPlan})
		posts, err := db.PendingPosts(ctx, 10)
		if err != nil || len(posts) != 2 || posts[0].Text != "from a job" || posts[1].Text != "Plan for request #2" {
			t.Fatalf("pending = %+v, %v", posts, err)
		}
		db.MarkSent(ctx, posts[0].ID)
		if it, _ := db.NextOutbox(ctx, "C1"); it == nil || it.Kind != store.KindPlan {
			t.Fatalf("next after the shell took one = %+v", it)
		}
	})
}
