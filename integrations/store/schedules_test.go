package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
)

// Many processes claiming the same fire times at once, each on its own
// connection pool as replicas are: every fire time is won exactly once,
// and its message is queued once with it.
func TestFireClaimedOnceAcrossConnections(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		first := storetest.Open(t, dsn)
		dbs := []*store.DB{first}
		for range 3 {
			db, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			dbs = append(dbs, db)
		}
		base := time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)
		const times = 20
		var mu sync.Mutex
		won := map[time.Time]int{}
		var wg sync.WaitGroup
		for _, db := range dbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range times {
					at := base.Add(time.Duration(i) * 2 * time.Second)
					err := db.ClaimFire(ctx, store.Fire{Schedule: "customer-x/report", At: at, Outcome: store.FireMissed},
						[]store.OutboxItem{{Post: mcloud.Post{ChannelID: "C0DEVOPS", Text: "missed " + at.String()}}})
					var dup *store.AlreadyFired
					switch {
					case err == nil:
						mu.Lock()
						won[at]++
						mu.Unlock()
					case !errors.As(err, &dup):
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		for i := range times {
			if at := base.Add(time.Duration(i) * 2 * time.Second); won[at] != 1 {
				t.Errorf("fire time %s won %d times", at, won[at])
			}
		}
		posts, err := first.PendingPosts(ctx, 1000)
		if err != nil || len(posts) != times {
			t.Errorf("%d messages for %d fire times (%v)", len(posts), times, err)
		}
		last, ok, err := first.LastFire(ctx, "customer-x/report")
		if err != nil || !ok || !last.At.Equal(base.Add((times-1)*2*time.Second)) || last.Outcome != store.FireMissed {
			t.Errorf("last fire %+v %v %v", last, ok, err)
		}
	})
}

// A pause is kept with who and why, audited, and lifted once.
func TestPauseSchedule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := storetest.Open(t, dsn)
		alice := mcloud.Caller{UserID: "U0ALICE", Name: "alice", ChannelID: "C0DEVOPS"}
		if err := db.PauseSchedule(ctx, "customer-x", "customer-x/backup", "maintenance window", alice); err != nil {
			t.Fatal(err)
		}
		p, err := db.Pauses(ctx)
		if err != nil || p["customer-x/backup"].Reason != "maintenance window" || p["customer-x/backup"].By != "alice" {
			t.Fatalf("pauses %+v %v", p, err)
		}
		if err := db.ResumeSchedule(ctx, "customer-x", "customer-x/backup", alice); err != nil {
			t.Fatal(err)
		}
		if err := db.ResumeSchedule(ctx, "customer-x", "customer-x/backup", alice); !errors.Is(err, store.ErrNotPaused) {
			t.Fatalf("second resume: %v", err)
		}
		audit, _ := db.AuditLog(ctx, "customer-x", time.Time{}, 10)
		if len(audit) != 2 || audit[0].Event != mcloud.AuditPaused || audit[1].Event != mcloud.AuditResumedSchedule {
			t.Errorf("audit %+v", audit)
		}
	})
}
