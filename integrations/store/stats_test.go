package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// TestStats counts what monitoring reads at scrape time: pending requests
// by customer, jobs by verb and status, and the undelivered outbox with
// the time its oldest message was queued.
func TestStats(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st, err := db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.ApprovalsWaiting) != 0 || len(st.Jobs) != 0 || st.OutboxDepth != 0 || !st.OutboxOldest.IsZero() {
			t.Fatalf("empty store: %+v", st)
		}
		var q counter
		if _, err := db.Submit(ctx, newRequest(db, 1, carol), q.enqueue); err != nil { // waits
			t.Fatal(err)
		}
		if _, err := db.Submit(ctx, newRequest(db, 0, alice), q.enqueue); err != nil { // queued at once
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := db.Post(ctx, mcloud.Post{ChannelID: "C0DEVOPS", Text: "one", CreatedAt: start.Add(-10 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		sent, err := db.Post(ctx, mcloud.Post{ChannelID: "C0DEVOPS", Text: "delivered", CreatedAt: start.Add(-20 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.MarkSent(ctx, sent); err != nil {
			t.Fatal(err)
		}
		st, err = db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.ApprovalsWaiting; len(got) != 1 || got["customer-x"] != 1 {
			t.Errorf("approvals waiting = %v, want customer-x: 1", got)
		}
		if want := []store.JobCount{{Verb: "echo", Status: mcloud.JobQueued, N: 1}}; !slices.Equal(st.Jobs, want) {
			t.Errorf("jobs = %+v, want %+v", st.Jobs, want)
		}
		// The delivered, older message must not count.
		pending, err := db.PendingPosts(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if st.OutboxDepth != len(pending) || st.OutboxDepth == 0 || st.OutboxOldest.Sub(start.Add(-10*time.Minute)).Abs() > time.Millisecond {
			t.Errorf("outbox: %d waiting, oldest %s; want the message queued at %s", st.OutboxDepth, st.OutboxOldest, start.Add(-10*time.Minute))
		}
	})
}
