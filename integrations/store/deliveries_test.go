package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// A stored delivery has one worker at a time; a worker that stopped
// renewing loses it to another, and then can neither renew it nor queue
// its answers; the new worker's answers are queued as it is marked done.
func TestDeliveryClaims(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := withClock(db)
		if first, err := db.AcceptDelivery(ctx, "slack:command:T0:1", `{"kind":"command"}`, time.Hour); err != nil || !first {
			t.Fatalf("take = %v, %v", first, err)
		}
		if first, err := db.AcceptDelivery(ctx, "slack:command:T0:1", `{"kind":"other"}`, time.Hour); err != nil || first {
			t.Fatalf("a duplicate was taken again (%v)", err)
		}
		d, err := db.ClaimDelivery(ctx, "A", time.Minute)
		if err != nil || d == nil || d.Key != "slack:command:T0:1" || d.Payload != `{"kind":"command"}` || d.Attempts != 1 {
			t.Fatalf("A claimed %+v, %v", d, err)
		}
		if d, err := db.ClaimDelivery(ctx, "B", time.Minute); err != nil || d != nil {
			t.Fatalf("B claimed %+v while A holds it (%v)", d, err)
		}
		c.advance(30 * time.Second)
		if ok, err := db.RenewDelivery(ctx, d.Key, "A", time.Minute); err != nil || !ok {
			t.Fatalf("A could not renew (%v)", err)
		}
		c.advance(90 * time.Second) // A went silent
		d2, err := db.ClaimDelivery(ctx, "B", time.Minute)
		if err != nil || d2 == nil || d2.Attempts != 2 {
			t.Fatalf("B took over %+v, %v", d2, err)
		}
		if ok, _ := db.RenewDelivery(ctx, d.Key, "A", time.Minute); ok {
			t.Fatal("A renewed a lease B holds")
		}
		msg := store.OutboxItem{Post: mcloud.Post{ChannelID: "C0DEVOPS", Text: "answer"}}
		if mine, err := db.FinishDelivery(ctx, d.Key, "A", []store.OutboxItem{msg}); err != nil || mine {
			t.Fatalf("A finished B's delivery (%v)", err)
		}
		if mine, err := db.FinishDelivery(ctx, d.Key, "B", []store.OutboxItem{msg}); err != nil || !mine {
			t.Fatalf("B could not finish (%v)", err)
		}
		if items, _ := db.OutboxItems(ctx, ""); len(items) != 1 {
			t.Fatalf("outbox has %d messages, want B's one", len(items))
		}
		c.advance(time.Hour)
		if d, err := db.ClaimDelivery(ctx, "C", time.Minute); err != nil || d != nil {
			t.Fatalf("a done delivery was claimed again: %+v, %v", d, err)
		}
	})
}

// A request submitted while working a delivery is created once, however
// often the delivery is worked.
func TestSubmitOncePerDelivery(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.AcceptDelivery(ctx, "slack:command:T0:2", "{}", time.Hour); err != nil {
			t.Fatal(err)
		}
		dctx := store.WithDelivery(ctx, "slack:command:T0:2")
		var q counter
		first := newRequest(db, 0, alice)
		job, err := db.Submit(dctx, first, q.enqueue)
		if err != nil || job == nil {
			t.Fatalf("submit: %v, %v", job, err)
		}
		again := newRequest(db, 0, alice)
		job2, err := db.Submit(dctx, again, q.enqueue)
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != first.ID || job2 == nil || job2.ID != job.ID || q.n.Load() != 1 {
			t.Fatalf("worked again: request #%d job %+v, %d enqueued; want request #%d, job #%d, 1 enqueued", again.ID, job2, q.n.Load(), first.ID, job.ID)
		}
		other := newRequest(db, 0, alice)
		if _, err := db.Submit(ctx, other, q.enqueue); err != nil || other.ID == first.ID {
			t.Fatalf("a submit outside the delivery got request #%d (%v)", other.ID, err)
		}
	})
}
