package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/pgtest"
	"github.com/mcloud/mcloud/internal/storetest"
	"github.com/mcloud/mcloud/jobs"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// inventory is a typed step result: what one step found and the next uses.
type inventory struct {
	Hosts []string  `json:"hosts"`
	Found time.Time `json:"found"`
}

// stateRunner is a verb whose first step finds an inventory that its
// second step uses, with a cleanup declared before its work. Each attempt
// starts with fresh memory, like a new process.
type stateRunner struct {
	resumable bool
	release   chan struct{} // when set, step 2 waits on it
	fail      error         // when set, step 2 fails with it
	cleanFail error         // when set, the cleanup fails with it
	cleanWait chan struct{} // when set, the cleanup waits on it
	found     atomic.Int64  // runs of step 1
	used      atomic.Int64  // runs of step 2
	cleaned   atomic.Int64  // runs of the cleanup
	cleanedAs atomic.Value  // the job status the cleanup saw
	received  atomic.Value  // the inventory step 2 received
}

func (r *stateRunner) Resumable(string) bool { return r.resumable }

func (r *stateRunner) RunJob(ctx context.Context, attempt *jobs.Attempt) (string, error) {
	attempt.Cleanup("tear down", func(ctx context.Context, end *jobs.Ending) (string, error) {
		r.cleaned.Add(1)
		r.cleanedAs.Store(end.Status)
		if r.cleanWait != nil {
			select {
			case <-r.cleanWait:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		if r.cleanFail != nil {
			return "", r.cleanFail
		}
		if end.Status == mcloud.JobFailed {
			end.Fail(strings.TrimSuffix(end.Error, ".") + "; the test hosts were torn down.")
		}
		return "test hosts torn down", nil
	})
	inv, err := jobs.StepOf(ctx, attempt, "find hosts", func(ctx context.Context) (inventory, string, error) {
		r.found.Add(1)
		return inventory{Hosts: []string{"host-1", "host-2"}, Found: time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)}, "found 2 hosts", nil
	})
	if err != nil {
		return "", err
	}
	used, err := attempt.Step(ctx, "use hosts", func(ctx context.Context) (string, error) {
		r.used.Add(1)
		r.received.Store(inv)
		if r.release != nil {
			select {
			case <-r.release:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		if r.fail != nil {
			return "", r.fail
		}
		return fmt.Sprintf("used %s found %s", strings.Join(inv.Hosts, " and "), inv.Found.Format("15:04")), nil
	})
	if err != nil {
		return "", err
	}
	return used, nil
}

func newQueue(t *testing.T, db *store.DB, runner jobs.Runner) *jobs.Queue {
	t.Helper()
	q, err := jobs.New(db, runner, jobs.Options{RescueAfter: time.Second, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// auditCount counts job id's audit entries whose event and detail start
// with prefix ("step: tear down").
func auditCount(t *testing.T, db *store.DB, id int64, prefix string) int {
	t.Helper()
	log, err := db.AuditLog(context.Background(), "customer-x", time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.JobID == id && strings.HasPrefix(e.Event+": "+e.Detail, prefix) {
			n++
		}
	}
	return n
}

// A job stopped between two steps is resumed by a new process (fresh
// memory): the second step receives the first step's typed result from
// its checkpoint, and the first step does not run again.
func TestTypedResultReachesNextStepAfterResume(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		db := storetest.Open(t, dsn)
		first := &stateRunner{resumable: true, release: make(chan struct{})}
		q1 := newQueue(t, db, first)
		job := submit(t, db, q1)
		ctx, cancel := context.WithCancel(context.Background())
		if err := q1.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for first.used.Load() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel() // the process stops while step 2 runs
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		q1.Stop(sctx)

		second := &stateRunner{resumable: true}
		q2 := newQueue(t, db, second)
		start(t, q2)
		j := waitStatus(t, db, job.ID, mcloud.JobSucceeded)
		got := waitPost(t, db, "Job #1 succeeded:")
		if !strings.Contains(got, "Job #1 succeeded: used host-1 and host-2 found 06:00") {
			t.Fatalf("the resumed step did not get the first step's result:\n%s", got)
		}
		if n := second.found.Load(); n != 0 {
			t.Fatalf("the resumed job ran its completed first step again (%d times)", n)
		}
		if inv, _ := second.received.Load().(inventory); len(inv.Hosts) != 2 || !inv.Found.Equal(time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)) {
			t.Fatalf("step 2 received %+v", inv)
		}
		// The progress text is what people read; the result is kept apart.
		steps, _ := db.JobSteps(context.Background(), j.ID)
		if len(steps) < 1 || steps[0].Value != "found 2 hosts" || !json.Valid([]byte(steps[0].State)) || !strings.Contains(steps[0].State, `"host-2"`) {
			t.Fatalf("steps = %+v", steps)
		}
		if !strings.Contains(got, "Job #1: find hosts: found 2 hosts") {
			t.Fatalf("thread:\n%s", got)
		}
		if n := auditCount(t, db, j.ID, "step: tear down: test hosts torn down"); n != 1 {
			t.Fatalf("the cleanup after the success ran %d times, want once", n)
		}
	})
}

// A cancelled job and a failed one each run their cleanup step once, and
// a cleanup that says what it did is part of the failure's story.
func TestCleanupRunsOnceAfterCancelAndFailure(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, dsn string) {
			db := storetest.Open(t, dsn)
			r := &stateRunner{release: make(chan struct{})}
			q := newQueue(t, db, r)
			job := submit(t, db, q)
			start(t, q)
			for r.used.Load() == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := db.RequestCancel(context.Background(), job.ID, mcloud.Caller{UserID: "U0ALICE", Name: "alice"}); err != nil {
				t.Fatal(err)
			}
			// Cancel is honoured at a step boundary: the running step ends,
			// then the job would stop at its next one. Fail this one to
			// stop at once, as a verb's own cancel check does.
			r.fail = jobs.ErrCancelled
			close(r.release)
			waitStatus(t, db, job.ID, mcloud.JobCancelled)
			got := waitPost(t, db, "Job #1 was cancelled")
			if n := r.cleaned.Load(); n != 1 || r.cleanedAs.Load() != mcloud.JobCancelled {
				t.Fatalf("cleanup ran %d times (saw %v), want once after the cancel", n, r.cleanedAs.Load())
			}
			if !strings.Contains(got, "Job #1: tear down: test hosts torn down\nJob #1 was cancelled") {
				t.Fatalf("thread:\n%s", got)
			}
			if n := auditCount(t, db, job.ID, "step: tear down"); n != 1 {
				t.Fatalf("cleanup audited %d times", n)
			}
		})
	})
	t.Run("failed", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, dsn string) {
			db := storetest.Open(t, dsn)
			r := &stateRunner{fail: mcloud.Errorf(mcloud.ECONFLICT, "host-2 would not start.")}
			q := newQueue(t, db, r)
			job := submit(t, db, q)
			start(t, q)
			j := waitStatus(t, db, job.ID, mcloud.JobFailed)
			waitPost(t, db, "Job #1 failed")
			if n := r.cleaned.Load(); n != 1 || r.cleanedAs.Load() != mcloud.JobFailed {
				t.Fatalf("cleanup ran %d times (saw %v), want once after the failure", n, r.cleanedAs.Load())
			}
			if want := "host-2 would not start; the test hosts were torn down."; j.Error != want {
				t.Fatalf("error = %q, want %q", j.Error, want)
			}
		})
	})
	t.Run("cleanup fails", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, dsn string) {
			db := storetest.Open(t, dsn)
			r := &stateRunner{cleanFail: mcloud.Errorf(mcloud.ECONFLICT, "The test hosts are still there.")}
			q := newQueue(t, db, r)
			job := submit(t, db, q)
			start(t, q)
			j := waitStatus(t, db, job.ID, mcloud.JobFailed)
			if !strings.HasPrefix(j.Error, "the work succeeded (used host-1 and host-2 found 06:00), but cleanup \"tear down\" failed: The test hosts are still there.") {
				t.Fatalf("error = %q", j.Error)
			}
			waitPost(t, db, "Job #1: tear down: FAILED: The test hosts are still there.")
		})
	})
}

// interruptedInCleanup leaves what a process that died while a job was
// cleaning up leaves: the job running with its first step done, its ending
// recorded, and (when cleaned) its cleanup step saved too.
func interruptedInCleanup(t *testing.T, db *store.DB, q *jobs.Queue, cleaned bool) *mcloud.Job {
	t.Helper()
	ctx := context.Background()
	job := submit(t, db, q)
	j, _, err := db.StartJob(ctx, job.ID, db.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SaveCheckpoint(ctx, j, store.Checkpoint{Step: store.Step{Name: "find hosts", Value: "found 2 hosts",
		State: `{"hosts":["host-1","host-2"]}`}, Detail: "find hosts: found 2 hosts"}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetEnding(ctx, j, `{"status":"failed","error":"host-2 would not start.","detail":"host-2 would not start."}`); err != nil {
		t.Fatal(err)
	}
	if cleaned {
		if err := db.SaveCheckpoint(ctx, j, store.Checkpoint{Step: store.Step{Name: "tear down", Value: "test hosts torn down"},
			Detail: "tear down: test hosts torn down", Ending: `{"status":"failed","error":"host-2 would not start; torn down.","detail":"host-2 would not start; torn down."}`}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // its heartbeat goes stale
	return job
}

// A job whose process died while it was cleaning up is finished by the
// next attempt: the cleanup not yet done runs, once; the job's work does
// not run again, even for a verb that is not safe to resume; the outcome
// is the one recorded before the crash.
func TestInterruptedCleanupFinishesOnce(t *testing.T) {
	t.Run("cleanup not done", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, dsn string) {
			db := storetest.Open(t, dsn)
			r := &stateRunner{resumable: false}
			q := newQueue(t, db, r)
			job := interruptedInCleanup(t, db, q, false)
			start(t, q)
			j := waitStatus(t, db, job.ID, mcloud.JobFailed)
			got := waitPost(t, db, "Job #1 failed")
			if r.cleaned.Load() != 1 || r.found.Load() != 0 || r.used.Load() != 0 {
				t.Fatalf("after the crash: cleanup ran %d, step 1 %d, step 2 %d times; want the cleanup once and no work",
					r.cleaned.Load(), r.found.Load(), r.used.Load())
			}
			if want := "host-2 would not start; the test hosts were torn down."; j.Error != want {
				t.Fatalf("error = %q, want %q", j.Error, want)
			}
			if !strings.Contains(got, "Job #1 was interrupted (the process running it stopped) while cleaning up, and is finishing its cleanup steps.") {
				t.Fatalf("thread:\n%s", got)
			}
		})
	})
	t.Run("cleanup done", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, dsn string) {
			db := storetest.Open(t, dsn)
			r := &stateRunner{resumable: true}
			q := newQueue(t, db, r)
			job := interruptedInCleanup(t, db, q, true)
			start(t, q)
			j := waitStatus(t, db, job.ID, mcloud.JobFailed)
			if r.cleaned.Load() != 0 || r.used.Load() != 0 {
				t.Fatalf("a saved cleanup ran again (%d) or the work did (%d)", r.cleaned.Load(), r.used.Load())
			}
			if j.Error != "host-2 would not start; torn down." {
				t.Fatalf("error = %q; want the ending the cleanup recorded", j.Error)
			}
			if n := auditCount(t, db, job.ID, "step: tear down"); n != 1 {
				t.Fatalf("cleanup audited %d times", n)
			}
		})
	})
}

// A process that stops while a failed job is cleaning up hands the next
// process only the cleanup: the failed step is not tried again (it would
// succeed now), and the job ends failed, as decided.
func TestStopMidCleanupKeepsTheOutcome(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		db := storetest.Open(t, dsn)
		first := &stateRunner{resumable: true, fail: mcloud.Errorf(mcloud.ECONFLICT, "host-2 would not start."), cleanWait: make(chan struct{})}
		q1 := newQueue(t, db, first)
		job := submit(t, db, q1)
		ctx, cancel := context.WithCancel(context.Background())
		if err := q1.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for first.cleaned.Load() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel() // the process stops while the cleanup runs
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		q1.Stop(sctx)

		second := &stateRunner{resumable: true}
		start(t, newQueue(t, db, second))
		j := waitStatus(t, db, job.ID, mcloud.JobFailed)
		if second.used.Load() != 0 || second.cleaned.Load() != 1 {
			t.Fatalf("next process ran the failed step %d times and the cleanup %d times; want only the cleanup, once",
				second.used.Load(), second.cleaned.Load())
		}
		if want := "host-2 would not start; the test hosts were torn down."; j.Error != want {
			t.Fatalf("error = %q, want %q", j.Error, want)
		}
	})
}

// A step saved by an older version, with text only, is not guessed at:
// the resumed job fails, saying why and what to do.
func TestTextOnlyCheckpointIsNotGuessed(t *testing.T) {
	r := &stateRunner{resumable: true}
	db, q := setup(t, r)
	job := submit(t, db, q)
	leftByDeadProcess(t, db, job.ID, "find hosts", "found 2 hosts")
	start(t, q)
	j := waitStatus(t, db, job.ID, mcloud.JobFailed)
	if want := `Job #1 was started by an older version of mcloud, and this version cannot continue it from its step "find hosts"; ask again to run it afresh`; !strings.HasPrefix(j.Error, want) {
		t.Fatalf("error = %q", j.Error)
	}
	if r.found.Load() != 0 || r.used.Load() != 0 {
		t.Fatal("the job's steps ran")
	}
}

// unwinder is stateRunner as a verb that is not resumable but Unwinds.
type unwinder struct{ *stateRunner }

func (unwinder) Unwinds(string) bool { return true }

// A job whose process died, of a verb that is not safe to repeat, is
// failed as before, and when its verb Unwinds its cleanup steps still run
// once, with the failure, after its verb passed its completed steps (their
// saved results) without running them or the steps after them; a verb
// that does not unwind is failed without them.
func TestInterruptedNonResumableJobUnwindsItsCleanups(t *testing.T) {
	for _, unwinds := range []bool{true, false} {
		t.Run(fmt.Sprintf("unwinds=%v", unwinds), func(t *testing.T) {
			r := &stateRunner{}
			var runner jobs.Runner = r
			if unwinds {
				runner = unwinder{r}
			}
			db := storetest.Open(t, "")
			q := newQueue(t, db, runner)
			job := submit(t, db, q)
			ctx := context.Background()
			j, _, err := db.StartJob(ctx, job.ID, db.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := db.SaveCheckpoint(ctx, j, store.Checkpoint{Step: store.Step{Name: "find hosts", Value: "found 1 host",
				State: `{"hosts":["host-1"],"found":"2026-12-01T06:00:00Z"}`}, Detail: "find hosts: found 1 host"}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // its heartbeat goes quiet
			start(t, q)
			j = waitStatus(t, db, job.ID, mcloud.JobFailed)
			if !strings.Contains(j.Error, "not resumed because patch is not safe to repeat automatically") {
				t.Errorf("error = %q", j.Error)
			}
			if r.found.Load()+r.used.Load() != 0 {
				t.Errorf("the interrupted job ran its steps again: find %d, use %d", r.found.Load(), r.used.Load())
			}
			want := int64(0)
			if unwinds {
				want = 1
			}
			if r.cleaned.Load() != want {
				t.Fatalf("cleanup ran %d times, want %d", r.cleaned.Load(), want)
			}
			if unwinds {
				if st := r.cleanedAs.Load(); st != mcloud.JobFailed {
					t.Errorf("the cleanup saw the job %v, want failed", st)
				}
				if !strings.Contains(j.Error, "the test hosts were torn down") {
					t.Errorf("the cleanup's word is not in the outcome: %q", j.Error)
				}
			}
		})
	}
}

// A verb that Unwinds gets its cleanup steps run once even when the job
// was interrupted more often than is resumed (what they undo, a
// downtime, hides real outages meanwhile); an attempt after that one,
// which means the cleanups' own attempt died too, fails the job saying
// that a person must finish them.
func TestJobInterruptedTooOftenStillUnwindsOnce(t *testing.T) {
	for _, tc := range []struct {
		before  int // attempts that died before the queue takes the job
		cleaned int64
		says    string
	}{
		{5, 1, "not resumed because it was interrupted 5 times"},
		{6, 0, "stopped mid-job 6 times, also while running its cleanup steps, so neither its work nor its cleanups (done: find hosts) are run again; a person must finish them."},
	} {
		t.Run(fmt.Sprintf("after %d", tc.before), func(t *testing.T) {
			r := &stateRunner{}
			db := storetest.Open(t, "")
			q := newQueue(t, db, unwinder{r})
			job := submit(t, db, q)
			ctx := context.Background()
			var j *mcloud.Job
			for i := 0; i < tc.before; i++ {
				var err error
				if j, _, err = db.StartJob(ctx, job.ID, db.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.SaveCheckpoint(ctx, j, store.Checkpoint{Step: store.Step{Name: "find hosts", Value: "found 1 host",
				State: `{"hosts":["host-1"],"found":"2026-12-01T06:00:00Z"}`}, Detail: "find hosts: found 1 host"}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // its heartbeat goes quiet
			start(t, q)
			j = waitStatus(t, db, job.ID, mcloud.JobFailed)
			if !strings.Contains(j.Error, tc.says) {
				t.Errorf("error = %q\nwant it to say %q", j.Error, tc.says)
			}
			if r.cleaned.Load() != tc.cleaned {
				t.Errorf("cleanup ran %d times, want %d", r.cleaned.Load(), tc.cleaned)
			}
			if r.found.Load()+r.used.Load() != 0 {
				t.Errorf("the interrupted job ran its steps again: find %d, use %d", r.found.Load(), r.used.Load())
			}
		})
	}
}
