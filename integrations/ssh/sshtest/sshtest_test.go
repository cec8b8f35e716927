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
