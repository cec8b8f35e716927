package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config/configtest"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/pgtest"
	"github.com/mcloud/mcloud/internal/storetest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// mcloudBinary builds the real program once per test run.
func mcloudBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcloud-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "mcloud")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build mcloud: %v\n%s", buildErr, binPath)
	}
	return binPath
}

// killWhen starts the real program with args (and env, when not nil),
// types input, and kills it with SIGKILL (no cleanup at all) as soon as it
// prints a line containing line.
func killWhen(t *testing.T, bin string, args, env []string, input, line string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, input)
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		closed := false
		for sc.Scan() {
			if !closed && strings.Contains(sc.Text(), line) {
				close(seen)
				closed = true
			}
		}
	}()
	select {
	case <-seen:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the program never printed %q", line)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

// jobState opens the store the program used and reads job id and its
// completed steps, as the program left them.
func jobState(t *testing.T, dsn string, id int64) (*store.DB, *mcloud.Job, []store.Step) {
	t.Helper()
	db := storetest.Open(t, dsn)
	job, err := db.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := db.JobSteps(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return db, job, steps
}

// restart runs the real program again with args (and env, when not nil)
// on input, waits up to two minutes for it to finish the interrupted work
// and exit, and returns what it printed and its exit code.
func restart(t *testing.T, bin string, args, env []string, input string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(input)
	cmd.Stderr = os.Stderr
	done := make(chan []byte, 1)
	go func() { out, _ := cmd.Output(); done <- out }()
	select {
	case b := <-done:
		return string(b), cmd.ProcessState.ExitCode()
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("the restarted process did not finish the job")
		return "", -1
	}
}

// fastRescueConfig is the example configuration with abandoned jobs taken
// over after 2 s instead of an hour.
func fastRescueConfig(t *testing.T) string {
	t.Helper()
	return configtest.Example(t).Set("jobs.rescue_after", "2s").Write()
}

// TestKill9MidJobResumes kills the process with SIGKILL while a job is
// between steps, restarts it, and checks the job finishes without redoing
// completed steps, and that the thread and the audit log say it resumed;
// on the embedded SQLite store and on PostgreSQL.
func TestKill9MidJobResumes(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testKill9MidJobResumes(t, filepath.Join(t.TempDir(), "mcloud.db")) })
	t.Run("postgres", func(t *testing.T) { testKill9MidJobResumes(t, pgtest.URL(t)) })
}

func testKill9MidJobResumes(t *testing.T, dbPath string) {
	bin := mcloudBinary(t)
	cfg := fastRescueConfig(t)
	args := []string{"shell", "-c", cfg, "--database-url", dbPath, "--user", "alice", "--channel", "devops"}

	killWhen(t, bin, args, nil,
		"/mcloud echo customer-x survive a crash --steps 6 --pause 400ms\n:user bob\n/mcloud approve 1\n",
		"Job #1: step 2:")

	ctx := context.Background()
	db, job, stepsBefore := jobState(t, dbPath, 1)
	if job.Status != mcloud.JobRunning || len(stepsBefore) < 2 || len(stepsBefore) >= 6 {
		t.Fatalf("after kill -9: job %s with %d steps done; want running, mid-way", job.Status, len(stepsBefore))
	}

	out, exit := restart(t, bin, args, nil, ":wait\n:user alice\n/mcloud audit customer-x\n")
	for _, want := range []string{
		"Job #1 was interrupted (the process running it stopped) and is resuming from its last completed step.",
		// The count is each step's typed result, handed to the next step:
		// the steps after the kill got it from the ones before.
		`Job #1 succeeded: repeated "survive a crash" in 6 steps`,
		"resumed   in devops  resumed after interruption (attempt 2); completed steps are skipped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("restarted output lacks %q:\n%s", want, out)
		}
	}
	if exit != 0 {
		t.Errorf("restarted shell exited %d", exit)
	}

	job, _ = db.Job(ctx, 1)
	if job.Status != mcloud.JobSucceeded || job.Attempt != 2 {
		t.Fatalf("job after restart: %s, attempt %d; want succeeded on attempt 2", job.Status, job.Attempt)
	}
	log, _ := db.AuditLog(ctx, "customer-x", time.Time{}, 1000)
	count := map[string]int{}
	for _, e := range log {
		if e.JobID == 1 {
			count[e.Event]++
			if e.Event == mcloud.AuditStep {
				count[e.Detail]++
			}
		}
	}
	if count[mcloud.AuditStep] != 6 || count[mcloud.AuditResumed] != 1 || count[mcloud.AuditSucceeded] != 1 || count[mcloud.AuditStarted] != 1 {
		t.Fatalf("audit of job 1 = %v; want 6 steps, started once, resumed once, succeeded once", count)
	}
	for i := 1; i <= 6; i++ {
		if n := count[`step `+string(rune('0'+i))+`: said "survive a crash"`]; n != 1 {
			t.Errorf("step %d ran %d times, want exactly once", i, n)
		}
	}
}

// TestKill9MidCleanupFinishesItOnce cancels a job, kills the process with
// SIGKILL while the job runs its cleanup step, restarts it, and checks that
// the cleanup completes exactly once, that none of the job's remaining work
// runs, and that the job ends cancelled; on SQLite and PostgreSQL.
func TestKill9MidCleanupFinishesItOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testKill9MidCleanup(t, filepath.Join(t.TempDir(), "mcloud.db")) })
	t.Run("postgres", func(t *testing.T) { testKill9MidCleanup(t, pgtest.URL(t)) })
}

func testKill9MidCleanup(t *testing.T, dbPath string) {
	bin := mcloudBinary(t)
	cfg := fastRescueConfig(t)
	args := []string{"shell", "-c", cfg, "--database-url", dbPath, "--user", "alice", "--channel", "devops"}

	// Killed mid-job; the next process takes the cancel, the job stops at
	// its next step and starts its cleanup, and that process dies too.
	killWhen(t, bin, args, nil,
		"/mcloud echo customer-x tidy up --steps 3 --pause 1s --cleanup 4s\n:user bob\n/mcloud approve 1\n",
		"Job #1: step 1:")
	killWhen(t, bin, args, nil, "/mcloud cancel 1\n", "Job #1: cleaning up after the job cancelled")

	db, job, _ := jobState(t, dbPath, 1)
	if job.Status != mcloud.JobRunning {
		t.Fatalf("after the second kill -9: job %s; want running, in its cleanup", job.Status)
	}
	out, exit := restart(t, bin, args, nil, ":wait\n")
	for _, want := range []string{
		"Job #1 was interrupted (the process running it stopped) while cleaning up, and is finishing its cleanup steps.",
		"Job #1: clean up: said goodbye",
		"Job #1 was cancelled: cancelled at a step boundary; completed: step 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("restarted output lacks %q:\n%s", want, out)
		}
	}
	if exit != 0 {
		t.Errorf("restarted shell exited %d", exit)
	}
	ctx := context.Background()
	job, _ = db.Job(ctx, 1)
	if job.Status != mcloud.JobCancelled || job.Attempt != 3 {
		t.Fatalf("job after restart: %s, attempt %d; want cancelled on attempt 3", job.Status, job.Attempt)
	}
	log, _ := db.AuditLog(ctx, "customer-x", time.Time{}, 1000)
	count := map[string]int{}
	for _, e := range log {
		if e.JobID == 1 {
			count[e.Event]++
			count[e.Event+": "+e.Detail]++
		}
	}
	if count["step: clean up: said goodbye"] != 1 || count[mcloud.AuditCancelled] != 1 || count[mcloud.AuditStep] != 2 {
		t.Fatalf("audit of job 1 = %v; want step 1 and the cleanup once each, cancelled once", count)
	}
}
