package ssh_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud/integrations/ssh/sshtest"
)

// TestHostsReachableOnlyThroughBastion proves the jump really happens: the
// test process cannot open a TCP connection to any target, yet commands
// run on all of them, and each target saw the connection come from the
// bastion's inner address.
func TestHostsReachableOnlyThroughBastion(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 3})
	if !env.Namespaced {
		if os.Getenv("CI") == "true" {
			t.Fatal("namespace variant did not run in CI")
		}
		t.Skip("network namespaces unavailable (needs root and ip(8)); the loopback variant cannot show isolation")
	}
	for _, h := range env.Hosts {
		c, err := net.DialTimeout("tcp", h.Addr(), 2*time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("%s (%s) is reachable directly; it must only be reachable via the bastion", h.Name, h.Addr())
		}
		t.Logf("direct dial %s: %v", h.Addr(), err)
	}
	if c, err := net.DialTimeout("tcp", env.Bastion.Addr(), 2*time.Second); err != nil {
		t.Fatalf("bastion itself must be reachable: %v", err)
	} else {
		c.Close()
	}

	client := newClient(t, config(env))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, r := range client.RunAll(ctx, targetsOf(env), `hostname; echo "$SSH_CLIENT"`) {
		if r.Err != nil {
			t.Fatalf("%s via bastion: %v", r.Target.Name, r.Err)
		}
		lines := strings.Split(strings.TrimSpace(string(r.Stdout)), "\n")
		if len(lines) != 2 || lines[0] != env.Hosts[i].Name {
			t.Fatalf("%s: output %q", r.Target.Name, r.Stdout)
		}
		if from := strings.Fields(lines[1])[0]; from != env.BastionSourceIP {
			t.Errorf("%s saw the SSH connection come from %s, want the bastion %s", r.Target.Name, from, env.BastionSourceIP)
		}
	}
}
