package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcloud/mcloud/config/configtest"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/pgtest"
)

// scheduleConfig is the sandbox-schedules example with only customer-x's
// report, every 2 s, and a fast rescue of jobs a killed replica held.
func scheduleConfig(t *testing.T) string {
	t.Helper()
	return configtest.FromFile(t, "../../examples/sandbox-schedules.yaml").
		Delete("customers[0].schedules.backup").
		Set("customers[0].schedules.report", "@every 2s").
		Delete("scheduler.digest").
		Set("jobs.rescue_after", "2s").
		Write()
}

// replica is one running mcloud process; its input stays open until stop.
type replica struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	done chan error
}

func startReplica(t *testing.T, bin, cfg, dbURL string) *replica {
	t.Helper()
	c := exec.Command(bin, "shell", "--sandbox", "--schedules", "-c", cfg, "--database-url", dbURL, "--wait", "20s")
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Stdout, c.Stderr = io.Discard, os.Stderr
	c.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: c, in: in, done: make(chan error, 1)}
	go func() { r.done <- c.Wait() }()
	t.Cleanup(func() { c.Process.Kill() })
	return r
}

// stop ends the input, as a clean shutdown; the process finishes its jobs.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.in.Close()
	select {
	case <-r.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("replica did not stop")
	}
}

// fireCount tallies a schedule's fire times in [from, to] against its jobs
// and report messages.
type fireCount struct {
	expected, claimed, jobs, messages, duplicates, missed, late int
}

func countFires(t *testing.T, dbURL string, from, to time.Time) fireCount {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var c fireCount
	fires, err := db.Fires(ctx, "customer-x/report", from)
	if err != nil {
		t.Fatal(err)
	}
	claimed := map[int64]bool{}
	for _, f := range fires {
		if f.At.After(to) {
			continue
		}
		c.claimed++
		claimed[f.At.UnixMilli()] = true
		if f.Outcome != store.FireFiled || f.RequestID == 0 {
			t.Errorf("fire time %s: %s %s", f.At, f.Outcome, f.Detail)
			continue
		}
		r, err := db.Request(ctx, f.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Params["late"] != "" {
			c.late++
		}
	}
	// Every 2 s instant in the window.
	for at := from.Truncate(2 * time.Second); !at.After(to); at = at.Add(2 * time.Second) {
		if at.Before(from) {
			continue
		}
		c.expected++
		if !claimed[at.UnixMilli()] {
			c.missed++
		}
	}
	jobs, err := db.Jobs(ctx, "customer-x", false, 100000)
	if err != nil {
		t.Fatal(err)
	}
	perRequest := map[int64]int{}
	for _, j := range jobs {
		if j.Verb == "report" && !j.CreatedAt.Before(from) {
			perRequest[j.RequestID]++
		}
	}
	for _, f := range fires {
		if f.At.After(to) {
			continue
		}
		n := perRequest[f.RequestID]
		if n > 0 {
			c.jobs++
		}
		if n > 1 {
			c.duplicates += n - 1
		}
		var msgs int
		err := db.SQL().QueryRowContext(ctx, rebindFor(db, `SELECT COUNT(*) FROM outbox WHERE request_id = ? AND text LIKE ?`), f.RequestID, "%succeeded:%Backups of customer-x%").Scan(&msgs)
		if err != nil {
			t.Fatal(err)
		}
		if msgs > 0 {
			c.messages++
		}
		if msgs > 1 {
			c.duplicates += msgs - 1
		}
	}
	return c
}

func rebindFor(db *store.DB, q string) string {
	for i := 1; db.Dialect() == store.Postgres && strings.Contains(q, "?"); i++ {
		q = strings.Replace(q, "?", "$"+string(rune('0'+i)), 1)
	}
	return q
}

// Three replicas on one PostgreSQL, a report every 2 s for over a minute,
// one replica killed with SIGKILL halfway: every fire time in the window
// produced exactly one job and one report message.
func TestThreeReplicasFireEachTimeOnce(t *testing.T) {
	bin := mcloudBinary(t)
	dbURL := pgtest.URL(t)
	cfg := scheduleConfig(t)
	var rs []*replica
	for range 3 {
		rs = append(rs, startReplica(t, bin, cfg, dbURL))
	}
	time.Sleep(5 * time.Second) // all three are up and ticking
	from := time.Now()
	time.Sleep(30 * time.Second)
	if err := rs[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed replica pid %d with SIGKILL at %s", rs[0].cmd.Process.Pid, time.Now().UTC().Format(time.TimeOnly))
	time.Sleep(31 * time.Second)
	to := time.Now()
	time.Sleep(3 * time.Second)
	for _, r := range rs[1:] {
		r.stop(t)
	}
	c := countFires(t, dbURL, from, to)
	t.Logf("window %s: fire times expected %d, claimed %d, jobs %d, report messages %d, duplicates %d, missed %d",
		to.Sub(from).Round(time.Second), c.expected, c.claimed, c.jobs, c.messages, c.duplicates, c.missed)
	if c.expected < 30 || c.claimed != c.expected || c.jobs != c.expected || c.messages != c.expected || c.duplicates != 0 || c.missed != 0 {
		t.Fatalf("not exactly once: %+v", c)
	}
}

// One process on the embedded SQLite, stopped and restarted: the fire
// times of the downtime run once each on restart, marked late.
func TestRestartCatchesUpLate(t *testing.T) {
	bin := mcloudBinary(t)
	dbURL := filepath.Join(t.TempDir(), "mcloud.db")
	cfg := scheduleConfig(t)
	a := startReplica(t, bin, cfg, dbURL)
	time.Sleep(5 * time.Second)
	from := time.Now()
	time.Sleep(6 * time.Second)
	a.stop(t)
	down := time.Now()
	time.Sleep(12 * time.Second) // about 6 fire times with nobody running
	b := startReplica(t, bin, cfg, dbURL)
	time.Sleep(6 * time.Second)
	to := time.Now()
	time.Sleep(2 * time.Second)
	b.stop(t)
	c := countFires(t, dbURL, from, to)
	t.Logf("down %s: fire times expected %d, claimed %d, jobs %d, report messages %d, duplicates %d, missed %d, late %d",
		12*time.Second, c.expected, c.claimed, c.jobs, c.messages, c.duplicates, c.missed, c.late)
	_ = down
	if c.claimed != c.expected || c.jobs != c.expected || c.messages != c.expected || c.duplicates != 0 || c.missed != 0 || c.late < 3 {
		t.Fatalf("restart did not catch up once each, late: %+v", c)
	}
}
