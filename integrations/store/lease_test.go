package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

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
