package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/pgtest"
)

// TestTwoReplicasRunEachJobOnce runs two mcloud processes on one PostgreSQL
// database, as a multi-replica deployment does, and checks that every
// approved job ran exactly once: started once, never resumed, one outcome.
func TestTwoReplicasRunEachJobOnce(t *testing.T) {
	bin := mcloudBinary(t)
	dbURL := pgtest.URL(t)
	args := []string{"shell", "-c", "../../examples/mcloud.yaml", "--database-url", dbURL}

	// Replica B only works jobs: its input stays open until A is done.
	b := exec.Command(bin, append(args, "--user", "alice")...)
	bIn, _ := b.StdinPipe()
	b.Stdout, b.Stderr = io.Discard, os.Stderr
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Process.Kill()

	const n = 12
	var script strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&script, "/mcloud echo customer-x job %d --steps 2 --pause 100ms\n", i)
	}
	script.WriteString(":user bob\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&script, "/mcloud approve %d\n", i)
	}
	a := exec.Command(bin, append(args, "--user", "alice")...)
	a.Stdin, a.Stderr = strings.NewReader(script.String()), os.Stderr
	if out, err := a.Output(); err != nil {
		t.Fatalf("replica A: %v\n%s", err, out)
	}
	bIn.Close()
	done := make(chan error, 1)
	go func() { done <- b.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("replica B: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("replica B did not finish")
	}

	ctx := context.Background()
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	jobs, err := db.Jobs(ctx, "customer-x", false, 100)
	if err != nil || len(jobs) != n {
		t.Fatalf("jobs = %d, %v; want %d", len(jobs), err, n)
	}
	for _, j := range jobs {
		if j.Status != mcloud.JobSucceeded || j.Attempt != 1 {
			t.Errorf("job #%d: %s after %d attempt(s); want succeeded after 1", j.ID, j.Status, j.Attempt)
		}
	}
	log, _ := db.AuditLog(ctx, "customer-x", time.Time{}, 10000)
	count := map[string]int{}
	for _, e := range log {
		count[e.Event]++
	}
	if count[mcloud.AuditStarted] != n || count[mcloud.AuditSucceeded] != n || count[mcloud.AuditStep] != 2*n || count[mcloud.AuditResumed] != 0 {
		t.Fatalf("audit counts = %v; want %d started, %d succeeded, %d steps, none resumed", count, n, n, 2*n)
	}
}
