package jobs_test

import (
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/internal/pgtest"
	"github.com/mcloud/mcloud/internal/storetest"
	"github.com/mcloud/mcloud/jobs"
)

// On PostgreSQL an approved job starts because the approving transaction
// notifies the workers, not because they happen to poll: with the poll an
// hour away, jobs approved one right after another (River sends one
// notification per cooldown of its own) all run.
func TestApprovedJobsStartWithoutPollingOnPostgres(t *testing.T) {
	db := storetest.Open(t, pgtest.URL(t))
	q, err := jobs.New(db, &stepRunner{steps: 1}, jobs.Options{RescueAfter: time.Hour, PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	start(t, q)
	// Let River's first fetch at start go by empty.
	time.Sleep(200 * time.Millisecond)
	var ids []int64
	for range 3 {
		ids = append(ids, submit(t, db, q).ID)
	}
	for _, id := range ids {
		waitStatus(t, db, id, mcloud.JobSucceeded)
	}
	// And again once the workers are idle.
	waitStatus(t, db, submit(t, db, q).ID, mcloud.JobSucceeded)
}
