package sshtest

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestStartServers checks the harness itself: every server is up with its
// own key, and the namespace variant is used where CI expects it.
func TestStartServers(t *testing.T) {
	env := Start(t, Options{Hosts: 2})
	if os.Getenv("CI") == "true" && os.Geteuid() == 0 && !env.Namespaced {
		t.Fatal("CI=true as root must use network namespaces")
	}
	t.Logf("namespaced=%v bastion=%s", env.Namespaced, env.Bastion.Addr())
	seen := map[string]bool{}
	for _, line := range env.KnownHosts() {
		key := strings.Fields(line)[2]
		if seen[key] {
			t.Fatalf("host key reused: %s", line)
		}
		seen[key] = true
	}
	c, err := net.DialTimeout("tcp", env.Bastion.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("bastion not reachable: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	banner := make([]byte, 8)
	if _, err := c.Read(banner); err != nil || string(banner) != "SSH-2.0-" {
		t.Fatalf("banner %q, %v", banner, err)
	}
	c.Close()
	env.Bastion.Stop()
	if env.Bastion.Running() {
		t.Fatal("still running after Stop")
	}
	env.Bastion.Restart()
	if !env.Bastion.Running() {
		t.Fatal("not running after Restart")
	}
}

// TestLoopbackVariant covers the fallback used where namespaces cannot be
// created: everything on 127.0.0.1, each server on its own port.
func TestLoopbackVariant(t *testing.T) {
	env := Start(t, Options{Hosts: 2, Network: NetworkLoopback})
	if env.Namespaced || env.HostsNetNS != "" {
		t.Fatal("loopback variant reports namespaces")
	}
	for _, s := range append([]*Server{env.Bastion}, env.Hosts...) {
		if s.Host != "127.0.0.1" || s.Port == 0 {
			t.Fatalf("%s listens on %s", s.Name, s.Addr())
		}
		c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		c.Close()
	}
	if env.Hosts[0].Port == env.Hosts[1].Port {
		t.Fatal("hosts share a port")
	}
}

// TestFallbackWhenNamespacesUnavailable hides ip(8) so namespaces cannot
// be built, and checks the fallback is taken and visible (outside CI).
func TestFallbackWhenNamespacesUnavailable(t *testing.T) {
	t.Setenv("CI", "false")
	t.Setenv("PATH", t.TempDir())
	env := Start(t, Options{Hosts: 1})
	if env.Namespaced {
		t.Fatal("namespaces built without ip(8)?")
	}
}
