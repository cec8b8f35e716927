package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/internal/storetest"
	"github.com/mcloud/mcloud/jobs"
)

type failRunner struct{}

func (failRunner) Resumable(string) bool { return false }
func (failRunner) RunJob(ctx context.Context, attempt *jobs.Attempt) (string, error) {
	return "", errors.New("boom")
}

// TestFinishedHearsEachOutcomeOnce: Options.Finished is told of each job
// this process finishes, once, with its verb, final status and how long it
// ran from its start to its end.
func TestFinishedHearsEachOutcomeOnce(t *testing.T) {
	for _, tc := range []struct {
		runner jobs.Runner
		want   mcloud.JobStatus
	}{{&stepRunner{steps: 1}, mcloud.JobSucceeded}, {failRunner{}, mcloud.JobFailed}} {
		t.Run(string(tc.want), func(t *testing.T) {
			db := storetest.Open(t, "")
			heard := make(chan string, 10)
			q, err := jobs.New(db, tc.runner, jobs.Options{RescueAfter: time.Second, PollInterval: 50 * time.Millisecond,
				Finished: func(verb string, status mcloud.JobStatus, took time.Duration) {
					heard <- fmt.Sprintf("%s %s %v", verb, status, took >= 0)
				}})
			if err != nil {
				t.Fatal(err)
			}
			job := submit(t, db, q)
			start(t, q)
			end := waitStatus(t, db, job.ID, tc.want)
			select {
			case got := <-heard:
				if want := fmt.Sprintf("patch %s true", tc.want); got != want {
					t.Errorf("Finished heard %q, want %q", got, want)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("Finished never called; job %+v", end)
			}
			select {
			case got := <-heard:
				t.Errorf("Finished called again: %q", got)
			case <-time.After(300 * time.Millisecond):
			}
		})
	}
}
