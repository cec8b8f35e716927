package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mcloud/mcloud/integrations/store"
)

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
