package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud/integrations/store"
)

// Drills are kept per customer, oldest first; saving a job again replaces
// its record; the live region is one per environment.
func TestDRRunsAndLiveRegion(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
		for _, r := range []store.DRRun{
			{JobID: 2, Customer: "customer-x", Env: "prod", Kind: "drill", Region: "eu-central-1", Started: t0.Add(time.Hour), Finished: t0.Add(2 * time.Hour), RPO: 5 * time.Hour, RTO: time.Hour, Outcome: "within targets", Report: "r2"},
			{JobID: 1, Customer: "customer-x", Env: "prod", Kind: "drill", Region: "eu-central-1", Started: t0, Finished: t0.Add(time.Hour), RPO: 4 * time.Hour, RTO: 41 * time.Minute, Outcome: "within targets", Report: "r1"},
			{JobID: 3, Customer: "customer-y", Env: "prod", Kind: "drill", Region: "us-west-2", Started: t0, Finished: t0, Outcome: "unhealthy"},
		} {
			if err := db.SaveDRRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		again := store.DRRun{JobID: 2, Customer: "customer-x", Env: "prod", Kind: "drill", Region: "eu-central-1", Started: t0.Add(time.Hour), Finished: t0.Add(2 * time.Hour),
			RPO: 5 * time.Hour, RTO: time.Hour, Outcome: "within targets; teardown incomplete", Report: "r2 again"}
		if err := db.SaveDRRun(ctx, again); err != nil {
			t.Fatal(err)
		}
		runs, err := db.DRRuns(ctx, "customer-x")
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 2 || runs[0].JobID != 1 || runs[0].RTO != 41*time.Minute || !runs[0].Started.Equal(t0) || runs[1].Report != "r2 again" {
			t.Fatalf("runs = %+v", runs)
		}
		if err := db.SetLiveRegion(ctx, "customer-x", store.LiveRegion{Env: "prod", Region: "eu-central-1", JobID: 4}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetLiveRegion(ctx, "customer-x", store.LiveRegion{Env: "prod", Region: "eu-central-1", JobID: 5}); err != nil {
			t.Fatal(err)
		}
		live, err := db.LiveRegions(ctx, "customer-x")
		if err != nil || len(live) != 1 || live[0].JobID != 5 {
			t.Fatalf("live = %+v, %v", live, err)
		}
		if other, _ := db.LiveRegions(ctx, "customer-y"); len(other) != 0 {
			t.Fatalf("customer-y: %+v", other)
		}
	})
}

// On both backends: of failovers claiming one environment at once, exactly
// one holds it and the others are told which; the holder claims again
// (resuming); a release by another job keeps it, the holder's frees it.
func TestDRFailoverClaim(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		holders := make(chan int64, 8)
		var wg sync.WaitGroup
		for job := int64(10); job < 18; job++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h, err := db.ClaimFailover(ctx, "customer-x", "prod", job)
				if err != nil {
					t.Error(err)
				}
				holders <- h
			}()
		}
		wg.Wait()
		close(holders)
		var first int64
		for h := range holders {
			if first == 0 {
				first = h
			}
			if h != first || h < 10 || h >= 18 {
				t.Fatalf("claims answered holders %d and %d, want one job", first, h)
			}
		}
		if h, err := db.ClaimFailover(ctx, "customer-x", "prod", first); err != nil || h != first {
			t.Fatalf("the holder claiming again: %d %v", h, err)
		}
		if h, err := db.ClaimFailover(ctx, "customer-x", "staging", 30); err != nil || h != 30 {
			t.Fatalf("another environment: %d %v", h, err)
		}
		if err := db.ReleaseFailover(ctx, "customer-x", "prod", first+100); err != nil {
			t.Fatal(err)
		}
		if h, _ := db.ClaimFailover(ctx, "customer-x", "prod", 99); h != first {
			t.Fatalf("after another job's release the holder is %d, want %d", h, first)
		}
		if err := db.ReleaseFailover(ctx, "customer-x", "prod", first); err != nil {
			t.Fatal(err)
		}
		if h, _ := db.ClaimFailover(ctx, "customer-x", "prod", 99); h != 99 {
			t.Fatalf("after the holder's release the holder is %d, want 99", h)
		}
	})
}
