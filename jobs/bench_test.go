package jobs_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/pgtest"
	"github.com/mcloud/mcloud/internal/storetest"
	"github.com/mcloud/mcloud/jobs"
)

const (
	benchJobs       = 1000 // jobs per throughput round
	benchSubmitters = 4    // concurrent approvers
	benchLatencies  = 200  // jobs approved one at a time for the delay
	benchWorkers    = 10   // mcloud's default jobs.workers, given to both
)

// jobFigures is one queue's showing.
type jobFigures struct {
	perSec   float64
	p50, p99 time.Duration
	conns    int64 // connections opened per 1,000 jobs; -1 if not counted
}

// BenchmarkJobs runs 1,000 one-step jobs through mcloud's queue (each writes
// its start message, a checkpoint with its audit entry and thread message,
// and its outcome) and 1,000 empty jobs through a River client with River's
// default settings (its pgx driver with LISTEN on PostgreSQL), on the same
// database in the same run, and prints jobs/s, the delay from approval to
// start (p50/p99 of 200 jobs approved one at a time) and, on PostgreSQL,
// connections opened per 1,000 jobs. Both get 10 workers; a second River
// client with 100 workers (River's documented example) shows the ceiling.
// Run it once:
//
//	go test -run '^$' -bench Jobs -benchtime 1x ./jobs/
func BenchmarkJobs(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			for range b.N {
				dsn := filepath.Join(b.TempDir(), "mcloud.db")
				if backend == "postgres" {
					dsn = pgtest.URL(b)
				}
				db := storetest.Open(b, dsn)
				m := benchMcloud(b, db)
				r := benchRiver(b, db, dsn, benchWorkers, true)
				r100 := benchRiver(b, db, dsn, 100, false)
				fmt.Fprintf(os.Stdout, "\njobs, %s (%d one-step jobs, %d workers; delay over %d jobs approved one at a time)\n", backend, benchJobs, benchWorkers, benchLatencies)
				fmt.Fprintf(os.Stdout, "%-28s %10s %10s %10s\n", "", "mcloud", "River", "ratio")
				fmt.Fprintf(os.Stdout, "%-28s %10.1f %10.1f %9.2fx\n", "jobs/s", m.perSec, r.perSec, m.perSec/r.perSec)
				fmt.Fprintf(os.Stdout, "%-28s %10.1f %10.1f %9.2fx\n", "jobs/s, River 100 workers", m.perSec, r100.perSec, m.perSec/r100.perSec)
				fmt.Fprintf(os.Stdout, "%-28s %10s %10s %9.2fx\n", "approval to start p50", ms(m.p50), ms(r.p50), float64(m.p50)/float64(max(r.p50, time.Microsecond)))
				fmt.Fprintf(os.Stdout, "%-28s %10s %10s %9.2fx\n", "approval to start p99", ms(m.p99), ms(r.p99), float64(m.p99)/float64(max(r.p99, time.Microsecond)))
				if m.conns >= 0 {
					fmt.Fprintf(os.Stdout, "%-28s %10d %10d\n", "connections per 1,000 jobs", m.conns, r.conns)
				}
				b.ReportMetric(m.perSec, "jobs/s")
				b.ReportMetric(m.perSec/r.perSec, "x-river-jobs/s")
				b.ReportMetric(float64(m.p99)/float64(time.Millisecond), "p99-ms")
			}
		})
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// starts remembers when each job began to run.
type starts struct {
	mu   sync.Mutex
	at   map[int64]time.Time
	wake chan struct{}
}

func newStarts() *starts { return &starts{at: map[int64]time.Time{}, wake: make(chan struct{}, 1)} }

func (s *starts) started(id int64) {
	s.mu.Lock()
	if _, ok := s.at[id]; !ok {
		s.at[id] = time.Now()
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// wait returns when job id started.
func (s *starts) wait(tb testing.TB, id int64) time.Time {
	deadline := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		t, ok := s.at[id]
		s.mu.Unlock()
		if ok {
			return t
		}
		select {
		case <-s.wake:
		case <-time.After(time.Millisecond):
		case <-deadline:
			tb.Fatalf("job %d did not start within 30s", id)
		}
	}
}

// benchRunner is a one-step verb that notes when each job starts.
type benchRunner struct {
	starts *starts
	done   chan struct{}
}

func (r *benchRunner) Resumable(string) bool { return true }

func (r *benchRunner) RunJob(ctx context.Context, attempt *jobs.Attempt) (string, error) {
	r.starts.started(attempt.Job.ID)
	if _, err := attempt.Step(ctx, "the step", func(context.Context) (string, error) { return "ok", nil }); err != nil {
		return "", err
	}
	return "done", nil
}

func benchMcloud(b *testing.B, db *store.DB) jobFigures {
	ctx := context.Background()
	r := &benchRunner{starts: newStarts(), done: make(chan struct{}, benchJobs+benchLatencies)}
	q, err := jobs.New(db, r, jobs.Options{Workers: benchWorkers, RescueAfter: time.Hour,
		Finished: func(string, mcloud.JobStatus, time.Duration) { r.done <- struct{}{} }})
	if err != nil {
		b.Fatal(err)
	}
	qctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		sctx, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		q.Stop(sctx)
	}()
	opened := db.ConnectionsOpened()
	if err := q.Start(qctx); err != nil {
		b.Fatal(err)
	}
	approve := func() (*mcloud.Job, error) {
		now := db.Now()
		return db.Submit(ctx, &mcloud.Request{Verb: "patch", Customer: "customer-x", Params: mcloud.Params{},
			Requester: mcloud.Caller{UserID: "U0ALICE", Name: "alice", ChannelID: "C0DEVOPS"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, q.Enqueue)
	}
	var f jobFigures
	f.perSec = throughput(b, func() error { _, err := approve(); return err }, r.done)
	f.conns = -1
	if db.Dialect() == store.Postgres {
		f.conns = (db.ConnectionsOpened() - opened) * 1000 / benchJobs
	}
	f.p50, f.p99 = delays(b, func() (int64, error) {
		j, err := approve()
		if err != nil {
			return 0, err
		}
		return j.ID, nil
	}, r.starts, r.done)
	return f
}

// throughput approves benchJobs jobs from benchSubmitters goroutines while
// the queue runs, and returns jobs/s from the first approval to the last
// job's end.
func throughput(b *testing.B, approve func() error, done chan struct{}) float64 {
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Value
	for range benchSubmitters {
		wg.Go(func() {
			for range benchJobs / benchSubmitters {
				if err := approve(); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	timeout := time.After(5 * time.Minute)
	for range benchJobs {
		select {
		case <-done:
		case <-timeout:
			b.Fatal("jobs did not finish within 5 minutes")
		}
	}
	return benchJobs / time.Since(start).Seconds()
}

// delays approves jobs one at a time, each a random moment after the one
// before has ended,
// and returns the p50 and p99 of the time from the approval's commit to
// the job's start.
func delays(b *testing.B, approve func() (int64, error), s *starts, done chan struct{}) (p50, p99 time.Duration) {
	var ds []time.Duration
	for range benchLatencies {
		id, err := approve()
		if err != nil {
			b.Fatal(err)
		}
		approved := time.Now()
		// A job can start before its approver hears the commit back.
		ds = append(ds, max(s.wait(b, id).Sub(approved), 0))
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Fatal("job did not finish within 30s")
		}
		// Approvals come at any moment, not in step with the poll that
		// started the job before.
		time.Sleep(rand.N(50 * time.Millisecond))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[len(ds)*99/100]
}

type noopArgs struct{}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	starts *starts
	done   chan struct{}
}

func (w *noopWorker) Work(_ context.Context, j *river.Job[noopArgs]) error {
	w.starts.started(j.ID)
	w.done <- struct{}{}
	return nil
}

// benchRiver runs the same rounds on a River client with River's default
// settings, on db's database: its pgx driver (LISTEN/NOTIFY) on
// PostgreSQL, its SQLite driver on the store's connection on SQLite.
func benchRiver(b *testing.B, db *store.DB, dsn string, nworkers int, withDelays bool) jobFigures {
	ctx := context.Background()
	w := &noopWorker{starts: newStarts(), done: make(chan struct{}, benchJobs+benchLatencies)}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	queue := fmt.Sprintf("bench%d", nworkers)
	cfg := &river.Config{Queues: map[string]river.QueueConfig{queue: {MaxWorkers: nworkers}}, Workers: workers}
	var f jobFigures
	run := func(start func(context.Context) error, stop func(context.Context) error, insert func() (int64, error), conns func() int64) {
		opened := conns()
		if err := start(ctx); err != nil {
			b.Fatal(err)
		}
		defer func() {
			sctx, c := context.WithTimeout(ctx, 10*time.Second)
			defer c()
			stop(sctx)
		}()
		f.perSec = throughput(b, func() error { _, err := insert(); return err }, w.done)
		f.conns = (conns() - opened) * 1000 / benchJobs
		if withDelays {
			f.p50, f.p99 = delays(b, insert, w.starts, w.done)
		}
	}
	opts := &river.InsertOpts{Queue: queue}
	if db.Dialect() == store.Postgres {
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer pool.Close()
		c, err := river.NewClient(riverpgxv5.New(pool), cfg)
		if err != nil {
			b.Fatal(err)
		}
		run(c.Start, c.Stop, func() (int64, error) {
			r, err := c.Insert(ctx, noopArgs{}, opts)
			if err != nil {
				return 0, err
			}
			return r.Job.ID, nil
		}, func() int64 { return pool.Stat().NewConnsCount() })
		return f
	}
	c, err := river.NewClient(riversqlite.New(db.SQL()), cfg)
	if err != nil {
		b.Fatal(err)
	}
	run(c.Start, c.Stop, func() (int64, error) {
		r, err := c.Insert(ctx, noopArgs{}, opts)
		if err != nil {
			return 0, err
		}
		return r.Job.ID, nil
	}, func() int64 { return 0 })
	return f
}
