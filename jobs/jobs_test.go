package jobs_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
	"github.com/mcloud/mcloud/jobs"
)

// stepRunner is a verb with a fixed number of steps; each step waits on
// release (if set) so a test can act between steps.
type stepRunner struct {
	steps     int
	resumable bool
	release   chan struct{}
	ran       atomic.Int64
	stopped   atomic.Bool // a step's context ended while it waited
}

func (r *stepRunner) Resumable(string) bool { return r.resumable }

func (r *stepRunner) RunJob(ctx context.Context, attempt *jobs.Attempt) (string, error) {
	for i := 1; i <= r.steps; i++ {
		if _, err := attempt.Step(ctx, fmt.Sprintf("step %d", i), func(ctx context.Context) (string, error) {
			r.ran.Add(1)
			if r.release != nil {
				select {
				case <-r.release:
				case <-ctx.Done():
					r.stopped.Store(true)
					return "", ctx.Err()
				}
			}
			return "ok", nil
		}); err != nil {
			return "", err
		}
	}
	return "all done", nil
}

func setup(t *testing.T, runner jobs.Runner) (*store.DB, *jobs.Queue) {
	t.Helper()
	db := storetest.Open(t, "")
	q, err := jobs.New(db, runner, jobs.Options{RescueAfter: time.Second, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return db, q
}

func submit(t *testing.T, db *store.DB, q *jobs.Queue) *mcloud.Job {
	t.Helper()
	now := db.Now()
	job, err := db.Submit(context.Background(), &mcloud.Request{Verb: "patch", Customer: "customer-x", Params: mcloud.Params{},
		Requester: mcloud.Caller{UserID: "U0ALICE", Name: "alice", ChannelID: "C0DEVOPS"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, q.Enqueue)
	if err != nil || job == nil {
		t.Fatalf("submit: %v", err)
	}
	return job
}

func start(t *testing.T, q *jobs.Queue) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		q.Stop(sctx)
	})
}

func waitStatus(t *testing.T, db *store.DB, id int64, want mcloud.JobStatus) *mcloud.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := db.Job(context.Background(), id)
		if err == nil && j.Status == want {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job #%d is %v, want %s", id, j.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPost waits until the thread has a message containing want: the
// outcome is recorded before it is announced, so a test that saw the
// status change must still wait for the message.
func waitPost(t *testing.T, db *store.DB, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := posts(t, db)
		if strings.Contains(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread lacks %q:\n%s", want, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func posts(t *testing.T, db *store.DB) string {
	t.Helper()
	ps, err := db.PendingPosts(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Text + "\n")
	}
	return b.String()
}

func TestJobRunsAndReports(t *testing.T) {
	r := &stepRunner{steps: 2}
	db, q := setup(t, r)
	job := submit(t, db, q)
	start(t, q)
	waitStatus(t, db, job.ID, mcloud.JobSucceeded)
	got := waitPost(t, db, "Job #1 succeeded: all done")
	for _, want := range []string{"Job #1 started: patch for customer-x.", "Job #1: step 1: ok", "Job #1: step 2: ok", "Job #1 succeeded: all done"} {
		if !strings.Contains(got, want) {
			t.Errorf("thread lacks %q:\n%s", want, got)
		}
	}
}

// A job whose process died, of a verb that is not safe to repeat, is failed
// and reported, not silently dropped and not re-run.
func TestInterruptedNonResumableJobFailsVisibly(t *testing.T) {
	r := &stepRunner{steps: 2, resumable: false}
	db, q := setup(t, r)
	job := submit(t, db, q)
	ctx := context.Background()
	leftByDeadProcess(t, db, job.ID, "step 1", "ok")
	start(t, q)
	j := waitStatus(t, db, job.ID, mcloud.JobFailed)
	if !strings.Contains(j.Error, "not resumed because patch is not safe to repeat automatically") {
		t.Fatalf("error = %q", j.Error)
	}
	if r.ran.Load() != 0 {
		t.Fatalf("the interrupted job ran %d more steps", r.ran.Load())
	}
	waitPost(t, db, "Job #1 failed: interrupted: the process running it stopped mid-job")
	log, _ := db.AuditLog(ctx, "customer-x", time.Time{}, 100)
	if last := log[len(log)-1]; last.Event != mcloud.AuditFailed || !strings.Contains(last.Detail, "failed after interruption") {
		t.Fatalf("last audit entry = %+v", last)
	}
}

func TestCancelStopsAtStepBoundary(t *testing.T) {
	r := &stepRunner{steps: 3, release: make(chan struct{})}
	db, q := setup(t, r)
	job := submit(t, db, q)
	start(t, q)
	waitStatus(t, db, job.ID, mcloud.JobRunning)
	for r.ran.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := db.RequestCancel(context.Background(), job.ID, mcloud.Caller{UserID: "U0ALICE", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	r.release <- struct{}{} // let step 1 finish; step 2 must not start
	waitStatus(t, db, job.ID, mcloud.JobCancelled)
	if n := r.ran.Load(); n != 1 {
		t.Fatalf("%d steps ran, want 1", n)
	}
	waitPost(t, db, "Job #1 was cancelled: cancelled at a step boundary; completed: step 1")
}

// A finished job triggered again (a duplicate queue row, a sweep) does nothing.
func TestFinishedJobNeverRunsAgain(t *testing.T) {
	r := &stepRunner{steps: 1}
	db, q := setup(t, r)
	job := submit(t, db, q)
	start(t, q)
	waitStatus(t, db, job.ID, mcloud.JobSucceeded)
	tx, err := db.SQL().BeginTx(context.Background(), &sql.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(context.Background(), tx, *job); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	time.Sleep(500 * time.Millisecond)
	if n := r.ran.Load(); n != 1 {
		t.Fatalf("step ran %d times, want once", n)
	}
}

// An attempt whose job was taken over (its heartbeat looked dead to
// another process) is stopped and writes nothing more: no step, no outcome.
func TestSupersededAttemptStops(t *testing.T) {
	r := &stepRunner{steps: 2, resumable: true, release: make(chan struct{})}
	db, q := setup(t, r)
	job := submit(t, db, q)
	start(t, q)
	for r.ran.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	// Another process takes the job over while the first attempt waits.
	if _, interrupted, err := db.StartJob(context.Background(), job.ID, db.Now().Add(time.Hour)); err != nil || !interrupted {
		t.Fatalf("take over: interrupted=%v err=%v", interrupted, err)
	}
	for !r.stopped.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	j, _ := db.Job(context.Background(), job.ID)
	if j.Status != mcloud.JobRunning || j.Attempt != 2 {
		t.Fatalf("job after the old attempt stopped: %s, attempt %d; want running, attempt 2", j.Status, j.Attempt)
	}
	if steps, _ := db.JobSteps(context.Background(), job.ID); len(steps) != 0 {
		t.Fatalf("the superseded attempt saved steps: %+v", steps)
	}
	if got := posts(t, db); strings.Contains(got, "failed") || strings.Contains(got, "succeeded") {
		t.Fatalf("the superseded attempt announced an outcome:\n%s", got)
	}
}

// A process that stops cleanly hands its running job on at once: the next
// process need not wait for the heartbeat to go stale.
func TestCleanStopReleasesRunningJob(t *testing.T) {
	r := &stepRunner{steps: 2, resumable: true, release: make(chan struct{})}
	db, q := setup(t, r)
	job := submit(t, db, q)
	ctx, cancel := context.WithCancel(context.Background())
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for r.ran.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
	defer c()
	q.Stop(sctx)
	stale, err := db.StaleJobs(context.Background(), db.Now().Add(-time.Hour))
	if err != nil || len(stale) != 1 || stale[0].ID != job.ID {
		t.Fatalf("after a clean stop, jobs ready to resume = %+v, %v; want job #%d at once", stale, err, job.ID)
	}
}

// leftByDeadProcess leaves job as a process that died mid-job would: running,
// one step (name: value) done, and a heartbeat that has gone quiet.
func leftByDeadProcess(t *testing.T, db *store.DB, jobID int64, name, value string) {
	t.Helper()
	ctx := context.Background()
	j, _, err := db.StartJob(ctx, jobID, db.Now())
	if err != nil {
		t.Fatal(err)
	}
	db.SaveStep(ctx, j, name, value, name+": "+value, mcloud.Post{})
	time.Sleep(1100 * time.Millisecond)
}
