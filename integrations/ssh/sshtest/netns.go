package sshtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// topology is the network the namespace variant builds:
//
//	root ns (test process)  mcsshNr 198.18.N.1/30
//	   | veth
//	ns A (bastion sshd)      eth0 198.18.N.2/30    eth1 198.19.N.1/24
//	                                                  | veth
//	ns B (target sshds)                              eth0 198.19.N.10.../24
//
// 198.18.0.0/15 is reserved for benchmarking networks (RFC 2544), so it
// clashes with nothing real. The root namespace gets an "unreachable" route
// for 198.19.N.0/24: without it, a direct dial would follow the default
// route off the machine instead of failing here. Namespace A does not
// forward, and B has no route back to the root namespace either.
type topology struct {
	n                          int
	nsA, nsB, rootLink         string
	bastionOuter, bastionInner string
	hostIPs                    []string
	hostsNet                   string
}

const lockPath = "/tmp/mcloud-sshtest-netns.lock"

func newTopology(t testing.TB, hosts int) (*topology, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("not root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, errors.New("ip(8) not installed")
	}
	if hosts > 240 {
		return nil, fmt.Errorf("%d hosts do not fit in one /24", hosts)
	}
	// Concurrent test binaries (go test runs packages in parallel) must
	// not pick the same N; the lock spans choosing and claiming it.
	lf, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return nil, err
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)

	n, err := freeIndex()
	if err != nil {
		return nil, err
	}
	top := &topology{
		n:            n,
		nsA:          fmt.Sprintf("mcssh-%d-a", n),
		nsB:          fmt.Sprintf("mcssh-%d-b", n),
		rootLink:     fmt.Sprintf("mcssh%dr", n),
		bastionOuter: fmt.Sprintf("198.18.%d.2", n),
		bastionInner: fmt.Sprintf("198.19.%d.1", n),
		hostsNet:     fmt.Sprintf("198.19.%d.0/24", n),
	}
	for i := 0; i < hosts; i++ {
		top.hostIPs = append(top.hostIPs, fmt.Sprintf("198.19.%d.%d", n, 10+i))
	}
	t.Cleanup(top.teardown)

	steps := [][]string{
		{"netns", "add", top.nsA},
		{"netns", "add", top.nsB},
		{"route", "add", "unreachable", top.hostsNet},
		{"link", "add", top.rootLink, "type", "veth", "peer", "name", "eth0", "netns", top.nsA},
		{"addr", "add", fmt.Sprintf("198.18.%d.1/30", n), "dev", top.rootLink},
		{"link", "set", top.rootLink, "up"},
		{"-n", top.nsA, "link", "set", "lo", "up"},
		{"-n", top.nsA, "addr", "add", top.bastionOuter + "/30", "dev", "eth0"},
		{"-n", top.nsA, "link", "set", "eth0", "up"},
		{"-n", top.nsA, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", top.nsB},
		{"-n", top.nsA, "addr", "add", top.bastionInner + "/24", "dev", "eth1"},
		{"-n", top.nsA, "link", "set", "eth1", "up"},
		{"-n", top.nsB, "link", "set", "lo", "up"},
		{"-n", top.nsB, "link", "set", "eth0", "up"},
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, strings.TrimSpace(string(out)))
		}
	}
	var batch strings.Builder
	for _, ip := range top.hostIPs {
		fmt.Fprintf(&batch, "addr add %s/24 dev eth0\n", ip)
	}
	cmd := exec.Command("ip", "-n", top.nsB, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("add host addresses: %v: %s", err, out)
	}
	// New namespaces normally start with forwarding off; make sure, since
	// the whole point is that A does not route between root and B.
	fwd := exec.Command("ip", "netns", "exec", top.nsA, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward")
	if out, err := fwd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("disable forwarding in %s: %v: %s", top.nsA, err, out)
	}
	return top, nil
}

// freeIndex picks N such that nothing on the machine uses 198.18.N.x or
// 198.19.N.x yet (including leftovers of a crashed run).
func freeIndex() (int, error) {
	routes, err := exec.Command("ip", "-4", "route", "show", "table", "all").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ip route: %v: %s", err, routes)
	}
	addrs, _ := exec.Command("ip", "-4", "-o", "addr").CombinedOutput()
	nss, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	used := string(routes) + string(addrs) + string(nss)
	start := os.Getpid() % 250
	for k := 0; k < 250; k++ {
		n := 1 + (start+k)%250
		if !strings.Contains(used, fmt.Sprintf("198.18.%d.", n)) &&
			!strings.Contains(used, fmt.Sprintf("198.19.%d.", n)) &&
			!strings.Contains(used, fmt.Sprintf("mcssh-%d-", n)) {
			return n, nil
		}
	}
	return 0, errors.New("no free 198.18.N.0 index")
}

func (top *topology) teardown() {
	// Deleting the namespaces removes the veth pairs with them.
	_ = exec.Command("ip", "route", "del", "unreachable", top.hostsNet).Run()
	_ = exec.Command("ip", "link", "del", top.rootLink).Run()
	_ = exec.Command("ip", "netns", "del", top.nsA).Run()
	_ = exec.Command("ip", "netns", "del", top.nsB).Run()
}

// inNetNS runs fn on an OS thread switched into the named namespace.
// Sockets keep the namespace they were created in, so a listener made here
// serves the namespace while the rest of the process stays in its own.
func inNetNS(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread on failure to switch back: the goroutine then
		// ends with the thread locked, and Go discards the thread rather
		// than reuse it in the wrong namespace.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
