package store_test

import (
	"context"
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
