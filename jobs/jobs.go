// Package jobs runs approved work durably on River, in the same database as
// the store. A job survives its process dying: River hands an abandoned job
// to another attempt, which either resumes it from its last completed step
// (verbs that are safe to resume) or marks it failed, and says which in the
// thread and the audit log. A job that was running its cleanup steps when
// its process died only finishes them (Attempt.Cleanup). A finished job never
// runs again.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// Runner carries out jobs; the command registry implements it.
type Runner interface {
	// RunJob does the job's work, reporting through attempt.
	RunJob(ctx context.Context, attempt *Attempt) (summary string, err error)
	// Resumable says whether an interrupted job of verb may continue from
	// its last completed step, or must be failed for a human to look at.
	Resumable(verb string) bool
}

// Unwinder is a Runner some of whose verbs, though not resumable, have
// cleanup steps that must run after an interruption too (a patch removes
// the downtime it set): the job is failed, and its verb is passed again
// through its completed steps only, getting their saved results and
// declaring its cleanups, which then run.
type Unwinder interface {
	// Unwinds is true for such a verb. Its code before and between its
	// steps must do nothing but declare cleanups: it runs again.
	Unwinds(verb string) bool
}

// ErrCancelled is returned by Attempt.Step when someone cancelled the job.
var ErrCancelled = errors.New("job cancelled")

// Final marks err as the job's outcome even when the process is shutting
// down as the verb returns it: the job then fails and runs its cleanups
// (which may need to finish, like a rollback of a half-patched host)
// instead of being left for the next process to resume.
func Final(err error) error { return finalError{err} }

type finalError struct{ error }

func (e finalError) Unwrap() error { return e.error }

func isFinal(err error) bool {
	var f finalError
	return errors.As(err, &f)
}

// Options tune the queue.
type Options struct {
	Workers int
	// RescueAfter is how long a job's heartbeat may be silent before the job
	// counts as abandoned by a dead process and is resumed elsewhere.
	RescueAfter time.Duration
	// PollInterval is how often idle workers look for new jobs (default:
	// 50 ms on SQLite; 100 ms on PostgreSQL, where they are notified).
	PollInterval time.Duration
	Logger       *slog.Logger
	// Finished, when set, hears of each job this process finishes, with
	// the time from its first start to its end (metrics).
	Finished func(verb string, status mcloud.JobStatus, took time.Duration)
}

// Queue is the durable job queue.
type Queue struct {
	db     *store.DB
	runner Runner
	opts   Options
	client *river.Client[*sql.Tx]
	log    *slog.Logger
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

type jobArgs struct {
	JobID int64 `json:"job_id"`
}

func (jobArgs) Kind() string { return "mcloud_job" }

// maxAttempts bounds how often River retries a job whose process died. Our
// own attempt counter fails the job visibly long before River would discard
// it silently.
const (
	maxAttempts    = 25
	maxInterrupted = 5
)

// fetchCooldown is the least time between two fetches of jobs. River's
// default (100 ms) both delays a job approved just after another and
// caps a queue at its workers per cooldown.
const fetchCooldown = 5 * time.Millisecond

// defaultPollInterval is how often idle workers look for jobs: on
// PostgreSQL only in case a notification was missed (River throttles
// them to one per cooldown), on SQLite the wait before an approved job
// starts.
func defaultPollInterval(d store.Dialect) time.Duration {
	if d == store.Postgres {
		return 100 * time.Millisecond
	}
	return 50 * time.Millisecond
}

// New builds a queue on db. It does not start working; call Start. A queue
// that is never started can still enqueue (the shell and tests use that).
func New(db *store.DB, runner Runner, opts Options) (*Queue, error) {
	if opts.Workers <= 0 {
		opts.Workers = 10
	}
	if opts.RescueAfter <= 0 {
		opts.RescueAfter = time.Hour
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = defaultPollInterval(db.Dialect())
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	q := &Queue{db: db, runner: runner, opts: opts, log: opts.Logger}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{q: q}); err != nil {
		return nil, fmt.Errorf("register job worker: %w", err)
	}
	client, err := river.NewClient(db.RiverDriver(), &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		Workers:              workers,
		RescueStuckJobsAfter: opts.RescueAfter,
		JobTimeout:           -1, // jobs heartbeat and checkpoint instead of racing a timer
		MaxAttempts:          maxAttempts,
		// On PostgreSQL the enqueueing transaction's NOTIFY wakes the
		// workers at once and the poll is only a backstop; SQLite has no
		// LISTEN, so a short poll on its one connection stands in.
		PollOnly:          db.Dialect() != store.Postgres,
		FetchCooldown:     fetchCooldown,
		FetchPollInterval: opts.PollInterval,
		RetryPolicy:       retryPolicy{},
		Logger:            slog.New(quiet{opts.Logger.Handler()}).WithGroup("river"),
	})
	if err != nil {
		return nil, fmt.Errorf("create job queue: %w", err)
	}
	q.client = client
	return q, nil
}

// Enqueue adds job to the queue inside tx (see store.Enqueue).
func (q *Queue) Enqueue(ctx context.Context, tx *sql.Tx, job mcloud.Job) error {
	if _, err := q.client.InsertTx(ctx, tx, jobArgs{JobID: job.ID}, &river.InsertOpts{MaxAttempts: maxAttempts}); err != nil {
		return err
	}
	if q.db.Dialect() != store.Postgres {
		return nil
	}
	// River sends at most one insert notification per queue per fetch
	// cooldown, so a job approved just after another would wait for the
	// next poll. Notify for every job: PostgreSQL folds it into River's
	// identical notification when River sent one in this transaction.
	return q.db.RiverDriver().UnwrapExecutor(tx).NotifyMany(ctx, &riverdriver.NotifyManyParams{
		Topic: riverInsertTopic, Payload: []string{fmt.Sprintf(`{"queue": %q}`, river.QueueDefault)},
	})
}

// riverInsertTopic is the channel River's workers LISTEN on for new jobs
// (River's notifier.NotificationTopicInsert, an internal package).
const riverInsertTopic = "river_insert"

// Start begins working jobs until ctx ends or Stop is called.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	ctx, q.stop = context.WithCancel(ctx)
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		q.sweep(ctx)
	}()
	return nil
}

// sweep re-triggers jobs whose process died. River rescues stuck jobs too,
// but on its own fixed schedule; this brings an interrupted job back as soon
// as its heartbeat is stale, and also covers a River row that is gone. Extra
// triggers are harmless: StartJob lets only one attempt run.
func (q *Queue) sweep(ctx context.Context) {
	every := max(q.opts.RescueAfter/2, 500*time.Millisecond)
	for {
		stale, err := q.db.StaleJobs(ctx, q.db.Now().Add(-q.opts.RescueAfter))
		if err != nil && ctx.Err() == nil {
			q.log.Warn("look for interrupted jobs", "err", err)
		}
		for _, j := range stale {
			if _, err := q.client.Insert(ctx, jobArgs{JobID: j.ID}, &river.InsertOpts{MaxAttempts: maxAttempts}); err != nil && ctx.Err() == nil {
				q.log.Warn("re-trigger interrupted job", "job", j.ID, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// Stop stops taking jobs and cancels running ones; they stay "running" in
// the store and are resumed by the next process, like after a crash.
func (q *Queue) Stop(ctx context.Context) error {
	if q.stop != nil {
		q.stop()
	}
	err := q.client.StopAndCancel(ctx)
	q.wg.Wait()
	return err
}

type retryPolicy struct{}

// NextRetry retries an interrupted job soon: it is the same work, not a
// flaky dependency to back off from.
func (retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(time.Duration(min(len(job.Errors)+1, 30)) * time.Second)
}

type worker struct {
	river.WorkerDefaults[jobArgs]
	q *Queue
}

func (w *worker) Work(ctx context.Context, rj *river.Job[jobArgs]) error {
	return w.q.work(ctx, rj.Args.JobID)
}

func (q *Queue) work(ctx context.Context, id int64) error {
	staleBefore := q.db.Now().Add(-q.opts.RescueAfter)
	job, interrupted, err := q.db.StartJob(ctx, id, staleBefore)
	if errors.Is(err, store.ErrBusy) {
		// River thinks it stuck; its heartbeat says it is alive elsewhere.
		return river.JobSnooze(q.opts.RescueAfter / 2)
	}
	if err != nil {
		return err // River retries; nothing ran
	}
	if job.Status.Done() {
		return nil // finished or cancelled: never run twice
	}
	attempt := &Attempt{Job: job, q: q}
	var end *Ending
	// abandoned is an interrupted job that is not resumed: it fails, but
	// what its cleanup steps undo (a downtime set for the work) is undone
	// all the same, as after a failure.
	abandoned := false
	if interrupted {
		if end, err = q.recordedEnding(ctx, job.ID); err != nil {
			return err // River retries; nothing ran
		}
	}
	switch {
	case end != nil && job.Attempt > maxInterrupted:
		msg := fmt.Sprintf("its cleanup steps were interrupted %d times and are left for a person to finish (done: %s)", job.Attempt-1, attempt.progressOf(ctx))
		if end.Status == mcloud.JobFailed {
			msg = strings.TrimSuffix(end.Error, ".") + "; then " + msg
		}
		q.finish(ctx, attempt, mcloud.JobFailed, msg, "failed after interruption: "+msg)
		return nil
	case end != nil:
		// The job's outcome was decided and recorded before its cleanup
		// steps ran; whatever the verb, only those cleanups remain.
		q.db.AuditJob(ctx, job, mcloud.AuditResumed, fmt.Sprintf("resumed after interruption (attempt %d) to finish its cleanup steps; its work is not run again", job.Attempt))
		attempt.Say(ctx, fmt.Sprintf("Job #%d was interrupted (the process running it stopped) while cleaning up, and is finishing its cleanup steps.", job.ID))
	case interrupted:
		if !q.runner.Resumable(job.Verb) || job.Attempt > maxInterrupted {
			why := fmt.Sprintf("%s is not safe to repeat automatically", job.Verb)
			if job.Attempt > maxInterrupted {
				why = fmt.Sprintf("it was interrupted %d times", job.Attempt-1)
			}
			msg := fmt.Sprintf("interrupted: the process running it stopped mid-job; not resumed because %s. Check what it did and run it again if needed.", why)
			u, ok := q.runner.(Unwinder)
			unwinds := ok && u.Unwinds(job.Verb)
			if unwinds && job.Attempt > maxInterrupted+1 {
				// Its cleanups get one attempt past the limit (what they
				// undo, a downtime, hides real outages); this is a later
				// one, so that attempt died too, before recording how
				// the job ends: running them again could kill this one.
				msg = fmt.Sprintf("interrupted: the process running it stopped mid-job %d times, also while running its cleanup steps, so neither its work nor its cleanups (done: %s) are run again; a person must finish them.",
					job.Attempt-1, attempt.progressOf(ctx))
			}
			if !unwinds || job.Attempt > maxInterrupted+1 {
				q.finish(ctx, attempt, mcloud.JobFailed, msg, "failed after interruption: "+msg)
				return nil
			}
			end, abandoned = &Ending{Status: mcloud.JobFailed, Error: msg, Detail: "failed after interruption: " + msg}, true
			break
		}
		q.db.AuditJob(ctx, job, mcloud.AuditResumed, fmt.Sprintf("resumed after interruption (attempt %d); completed steps are skipped", job.Attempt))
		attempt.Say(ctx, fmt.Sprintf("Job #%d was interrupted (the process running it stopped) and is resuming from its last completed step.", job.ID))
	default:
		attempt.Say(ctx, fmt.Sprintf("Job #%d started: %s for %s.", job.ID, job.Verb, job.Customer))
	}

	attempt.unwinding = end != nil

	// The job runs under its own context, which the heartbeat cancels if a
	// newer attempt took the job over: this one must then stop at once.
	jobCtx, superseded := context.WithCancelCause(ctx)
	defer superseded(nil)
	beatCtx, stopBeat := context.WithCancel(jobCtx)
	defer stopBeat()
	go q.heartbeat(beatCtx, job, superseded)

	summary, err := q.runner.RunJob(jobCtx, attempt)
	isSuperseded := func(err error) bool {
		return errors.Is(err, store.ErrSuperseded) || errors.Is(context.Cause(jobCtx), store.ErrSuperseded)
	}
	switch {
	case isSuperseded(err):
		q.log.Warn("job attempt superseded; stopped without writing more", "job", job.ID, "attempt", job.Attempt)
		return nil
	case attempt.unwinding && ctx.Err() != nil:
		return q.release(ctx, job)
	case attempt.unwinding:
		if err != nil && !errors.Is(err, errUnwinding) {
			// The verb failed before it reached its unfinished step, so
			// cleanups it declares after that point are not known.
			q.log.Warn("job stopped early while finishing its cleanups", "job", job.ID, "err", err)
		}
	case err == nil:
		end = &Ending{Status: mcloud.JobSucceeded, Detail: summary}
	case errors.Is(err, ErrCancelled):
		end = &Ending{Status: mcloud.JobCancelled, Detail: "cancelled at a step boundary; " + attempt.progress()}
	case ctx.Err() != nil && !isFinal(err):
		return q.release(ctx, job)
	default:
		msg := mcloud.ErrorMessage(err)
		if msg == "" {
			q.log.Error("job failed", "job", job.ID, "verb", job.Verb, "err", err)
			msg = fmt.Sprintf("internal error (reference: job #%d; details are in the bot's log)", job.ID)
		}
		end = &Ending{}
		end.Fail(msg)
	}
	if len(attempt.cleanups) > 0 && (!attempt.unwinding || abandoned) {
		b, _ := json.Marshal(end)
		if err := q.db.SetEnding(context.WithoutCancel(ctx), job, string(b)); err != nil {
			if isSuperseded(err) {
				return nil
			}
			return q.failedToEnd(ctx, job, err)
		}
	}
	if err := attempt.runCleanups(jobCtx, end); err != nil {
		switch {
		case isSuperseded(err):
			return nil
		case ctx.Err() != nil:
			return q.release(ctx, job)
		}
		return q.failedToEnd(ctx, job, err)
	}
	q.finish(ctx, attempt, end.Status, end.Error, end.Detail)
	return nil
}

// release leaves a job "running" when this process is shutting down, so
// the next process resumes it as after a crash, but without waiting for
// the heartbeat to go stale.
func (q *Queue) release(ctx context.Context, job *mcloud.Job) error {
	if rerr := q.db.ReleaseJob(context.WithoutCancel(ctx), job.ID, job.Attempt); rerr != nil {
		q.log.Warn("release job on shutdown", "job", job.ID, "err", rerr)
	}
	return ctx.Err()
}

// failedToEnd hands a job whose ending could not be recorded, or whose
// cleanups could not be saved, back to River for another attempt, which
// finishes the cleanups from where this one got.
func (q *Queue) failedToEnd(ctx context.Context, job *mcloud.Job, err error) error {
	q.log.Error("end job", "job", job.ID, "err", err)
	if rerr := q.db.ReleaseJob(context.WithoutCancel(ctx), job.ID, job.Attempt); rerr != nil {
		q.log.Warn("release job", "job", job.ID, "err", rerr)
	}
	return err
}

// recordedEnding is the ending an earlier attempt recorded before running
// the job's cleanups, or nil.
func (q *Queue) recordedEnding(ctx context.Context, id int64) (*Ending, error) {
	text, err := q.db.Ending(ctx, id)
	if err != nil || text == "" {
		return nil, err
	}
	var end Ending
	if err := json.Unmarshal([]byte(text), &end); err != nil {
		return nil, fmt.Errorf("decode ending of job #%d: %w", id, err)
	}
	return &end, nil
}

func (q *Queue) finish(ctx context.Context, attempt *Attempt, status mcloud.JobStatus, errText, detail string) {
	var text string
	switch status {
	case mcloud.JobSucceeded:
		text = fmt.Sprintf("Job #%d succeeded: %s", attempt.Job.ID, detail)
	case mcloud.JobCancelled:
		text = fmt.Sprintf("Job #%d was cancelled: %s", attempt.Job.ID, detail)
	default:
		text = fmt.Sprintf("Job #%d failed: %s", attempt.Job.ID, errText)
	}
	// Record the outcome even if the job's own context was cancelled, and
	// announce it in the same transaction.
	job, err := q.db.FinishJob(context.WithoutCancel(ctx), attempt.Job.ID, attempt.Job.Attempt, status, errText, detail, attempt.post(text))
	if err != nil {
		q.log.Error("record job outcome", "job", attempt.Job.ID, "err", err)
		return
	}
	if q.opts.Finished != nil && job.Status == status {
		q.opts.Finished(job.Verb, status, job.EndedAt.Sub(job.StartedAt))
	}
}

func (q *Queue) heartbeat(ctx context.Context, job *mcloud.Job, superseded context.CancelCauseFunc) {
	t := time.NewTicker(max(q.opts.RescueAfter/4, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := q.db.Heartbeat(ctx, job.ID, job.Attempt)
			if errors.Is(err, store.ErrSuperseded) {
				superseded(store.ErrSuperseded)
				return
			}
			if err != nil && ctx.Err() == nil {
				q.log.Warn("job heartbeat", "job", job.ID, "err", err)
			}
		}
	}
}

// quiet passes on only River's warnings and errors; its info lines describe
// its own machinery, not our jobs.
type quiet struct{ slog.Handler }

func (q quiet) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && q.Handler.Enabled(ctx, l)
}

func (q quiet) WithAttrs(a []slog.Attr) slog.Handler { return quiet{q.Handler.WithAttrs(a)} }
func (q quiet) WithGroup(g string) slog.Handler      { return quiet{q.Handler.WithGroup(g)} }
