package store_test

import (
	"context"
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
