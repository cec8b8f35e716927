package ssh_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud/integrations/ssh/sshtest"
)

// TestObserveConnectAndRun: Config.Observe hears one connect per host
// (reused connections are not connects), one run per command whether it
// exits 0 or not, and the error of a host that cannot be reached.
func TestObserveConnectAndRun(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 2})
	var mu sync.Mutex
	var seen []string
	cfg := config(env)
	cfg.Observe = func(op string, took time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s ok=%v", op, err == nil))
	}
	c := newClient(t, cfg)
	ctx := ctxTimeout(t, time.Minute)
	ts := targetsOf(env)
	if _, err := c.Run(ctx, ts[0], "true"); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Run(ctx, ts[0], "exit 3"); err != nil || r.ExitStatus != 3 {
		t.Fatalf("exit 3: %+v %v", r, err)
	}
	gone := ts[1]
	gone.Address = "127.0.0.1:1" // nothing listens: the bastion cannot forward
	if _, err := c.Run(ctx, gone, "true"); err == nil {
		t.Fatal("a command on an unreachable host succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"connect ok=true", "run ok=true", "run ok=true", "connect ok=false", "run ok=false"}
	if !slices.Equal(seen, want) {
		t.Errorf("observed %q, want %q", seen, want)
	}
}
