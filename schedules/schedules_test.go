package schedules_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
	"github.com/mcloud/mcloud/jobs"
	"github.com/mcloud/mcloud/schedules"
)

// clock is a settable time shared by runners.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type world struct {
	t   *testing.T
	cfg *config.Config
	db  *store.DB
	svc *commands.Service
	clk *clock
}

// newWorld is the real service, store and queue (jobs are queued, not
// run), with customer-x's report every 2 s.
func newWorld(t *testing.T, dsn string) *world {
	t.Helper()
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Customers[0].Schedules = config.Schedules{Report: "@every 2s"}
	cfg.Customers[1].Schedules = config.Schedules{}
	db := storetest.Open(t, dsn)
	clk := &clock{t: time.Date(2026, 12, 2, 6, 0, 0, 500e6, time.UTC)}
	db.Now = clk.Now
	svc, err := commands.New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = clk.Now
	svc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	q, err := jobs.New(db, svc, jobs.Options{Logger: svc.Log})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetQueue(q.Enqueue)
	return &world{t: t, cfg: cfg, db: db, svc: svc, clk: clk}
}

func (w *world) runner(catchUp time.Duration) *schedules.Runner {
	return &schedules.Runner{Schedules: w.cfg.ScheduledWork(), Store: w.db, Service: w.svc, CatchUp: catchUp, Late: time.Second, Now: w.clk.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func (w *world) tick(r *schedules.Runner) {
	w.t.Helper()
	if err := r.Tick(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

// requests are the report requests filed, by fire time.
func (w *world) fires() []store.Fire {
	w.t.Helper()
	fs, err := w.db.Fires(context.Background(), "customer-x/report", time.Time{})
	if err != nil {
		w.t.Fatal(err)
	}
	return fs
}

// Every fire time runs once: two runners ticking the same times file one
// request each; a restart after downtime runs the missed fire times once
// each, marked late in their plans.
func TestFireTimesRunOnceAndCatchUpLate(t *testing.T) {
	w := newWorld(t, "")
	ctx := context.Background()
	start := w.clk.Now()
	a, b := w.runner(time.Hour), w.runner(time.Hour)
	w.tick(a)
	w.tick(b)
	for i := 1; i <= 5; i++ {
		w.clk.Set(start.Add(time.Duration(i) * 2 * time.Second))
		w.tick(a)
		w.tick(b)
	}
	fs := w.fires()
	if len(fs) != 5 {
		t.Fatalf("%d fire times claimed in 10 s of a 2 s schedule, want 5: %+v", len(fs), fs)
	}
	jobsNow, _ := w.db.Jobs(ctx, "customer-x", false, 1000)
	if len(jobsNow) != 5 {
		t.Fatalf("%d jobs for 5 fire times", len(jobsNow))
	}
	for _, f := range fs {
		r, err := w.db.Request(ctx, f.RequestID)
		if err != nil || r.Requester.Role != mcloud.RoleSystem || r.Requester.Name != `schedule "morning backup report of customer-x"` || r.Params["late"] != "" {
			t.Fatalf("fire %s: request %+v %v", f.At, r, err)
		}
	}
	// Every replica down for 20 s, then one restarts: the 10 fire times
	// it missed run once each, late.
	w.clk.Set(start.Add(30 * time.Second))
	c := w.runner(time.Hour)
	w.tick(c)
	fs = w.fires()
	if len(fs) != 15 {
		t.Fatalf("%d fire times after the restart, want 15", len(fs))
	}
	late := 0
	for _, f := range fs[5:] {
		r, _ := w.db.Request(ctx, f.RequestID)
		if r.Params["late"] != "" && strings.Contains(strings.Join(r.Plan.Notes, " "), "This run is "+r.Params["late"]) {
			late++
		}
	}
	if late != 9 { // the last one is on time
		t.Errorf("%d of the 10 caught-up fire times marked late, want 9", late)
	}
}

// Fire times older than the catch-up window do not run; the team is told
// once, how many and from when to when.
func TestMissedBeyondCatchUpReportedOnce(t *testing.T) {
	w := newWorld(t, "")
	start := w.clk.Now()
	a := w.runner(10 * time.Second)
	w.tick(a)
	w.clk.Set(start.Add(2 * time.Second))
	w.tick(a)
	w.clk.Set(start.Add(62 * time.Second))
	b, c := w.runner(10*time.Second), w.runner(10*time.Second)
	w.tick(b)
	w.tick(c)
	fs := w.fires()
	var missed, filed int
	for _, f := range fs {
		switch f.Outcome {
		case store.FireMissed:
			missed++
			if !strings.Contains(f.Detail, "25 fire times of the morning backup report of customer-x") {
				t.Errorf("missed detail %q", f.Detail)
			}
		case store.FireFiled:
			filed++
		}
	}
	// 4 s .. 52 s missed (25), 54 s .. 62 s caught up (5), plus the first.
	if missed != 1 || filed != 6 {
		t.Fatalf("missed claims %d (want 1), filed %d (want 6): %+v", missed, filed, fs)
	}
	posts, _ := w.db.PendingPosts(context.Background(), 1000)
	n := 0
	for _, p := range posts {
		if p.ChannelID == w.svc.ApprovalsChannel() && strings.HasPrefix(p.Text, "Missed: 25 fire times") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d missed messages in the team channel, want 1", n)
	}
}

// A paused schedule files nothing, and does not catch up on resume.
func TestPausedSkipsAndDoesNotCatchUp(t *testing.T) {
	w := newWorld(t, "")
	ctx := context.Background()
	start := w.clk.Now()
	r := w.runner(time.Hour)
	w.tick(r)
	alice := mcloud.Caller{UserID: "U0ALICE", Name: "alice"}
	if err := w.db.PauseSchedule(ctx, "customer-x", "customer-x/report", "maintenance", alice); err != nil {
		t.Fatal(err)
	}
	w.clk.Set(start.Add(6 * time.Second))
	w.tick(r)
	if err := w.db.ResumeSchedule(ctx, "customer-x", "customer-x/report", alice); err != nil {
		t.Fatal(err)
	}
	w.clk.Set(start.Add(8 * time.Second))
	w.tick(r)
	var paused, filed int
	for _, f := range w.fires() {
		switch f.Outcome {
		case store.FirePaused:
			paused++
		case store.FireFiled:
			filed++
		}
	}
	if paused != 3 || filed != 1 {
		t.Fatalf("paused %d (want 3), filed %d (want 1)", paused, filed)
	}
}
