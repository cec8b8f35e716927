// Package sshtest starts real OpenSSH sshd processes for tests: one bastion
// and any number of target hosts, each with its own host key, reachable only
// through the bastion when the machine allows network namespaces.
//
// Typical use:
//
//	env := sshtest.Start(t, sshtest.Options{Hosts: 3})
//	cfg := ssh.Config{
//		Bastion:    ssh.Bastion{Host: env.Bastion.Host, Port: env.Bastion.Port, User: env.User},
//		KnownHosts: env.KnownHosts(),
//		Auth:       ssh.Auth{KeyFile: env.KeyPath},
//	}
//	for _, h := range env.Hosts { targets = append(targets, ssh.Target{Name: h.Name, Address: h.Addr()}) }
//
// Every session on a host runs with $PATH starting at that host's BinDir
// (which holds a `hostname` script printing the host's Name) and with
// $MCLOUD_HOST and $MCLOUD_HOST_DIR set, so a test can fake the host's
// services by writing scripts there (Server.WriteScript). All servers share
// this machine's filesystem and users; the user's ~/.bashrc is not sourced.
package sshtest

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHDPath is the OpenSSH server binary used.
const SSHDPath = "/usr/sbin/sshd"

// Network selects where the servers listen.
type Network int

const (
	// NetworkAuto uses network namespaces when they can be created and
	// falls back to loopback otherwise (with a t.Log line and
	// Env.Namespaced false). When CI=true and running as root the
	// namespace variant is required, so CI cannot silently lose coverage.
	NetworkAuto Network = iota
	// NetworkLoopback puts every server on 127.0.0.1 with its own port.
	// Targets are then reachable directly too; only the client's behaviour
	// proves the jump.
	NetworkLoopback
	// NetworkNamespace requires namespaces and fails the test otherwise.
	NetworkNamespace
)

// Options configures Start.
type Options struct {
	Hosts   int // number of target hosts; 0 means 3
	Network Network
}

// Env is a running bastion plus targets.
type Env struct {
	Bastion *Server
	Hosts   []*Server
	// User is the login name every server accepts (the current user).
	User string
	// KeyPath is an unencrypted OpenSSH private key accepted everywhere;
	// AuthorizedKey is its public half in authorized_keys format.
	KeyPath       string
	AuthorizedKey string
	// Namespaced reports whether targets live in a network namespace that
	// only the bastion can reach.
	Namespaced bool
	// BastionNetNS and HostsNetNS name the namespaces (for `ip netns exec`)
	// when Namespaced; BastionSourceIP is the address targets see
	// connections from the bastion come from.
	BastionNetNS, HostsNetNS string
	BastionSourceIP          string
	Dir                      string

	t   testing.TB
	top *topology
}

// Server is one sshd.
type Server struct {
	Name        string
	Host        string
	Port        int
	Dir         string // scratch directory, $MCLOUD_HOST_DIR in sessions
	BinDir      string // first in $PATH of sessions
	HostKeyPath string
	LogPath     string
	// KnownHostsLine is the OpenSSH known_hosts line for the current host key.
	KnownHostsLine string

	env        *Env
	hostKey    xssh.PublicKey
	configPath string
	netns      string
	bastion    bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Start launches the servers and registers their cleanup with t. A missing
// sshd fails the test: these tests must not pass vacuously.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	if _, err := os.Stat(SSHDPath); err != nil {
		t.Fatalf("sshtest: OpenSSH server not found at %s (install Debian's openssh-server): %v", SSHDPath, err)
	}
	if opts.Hosts <= 0 {
		opts.Hosts = 3
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshtest: current user: %v", err)
	}
	if os.Geteuid() == 0 {
		// Debian's unit creates this at boot; in containers nobody did.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshtest: privilege separation directory: %v", err)
		}
	}
	env := &Env{User: u.Username, Dir: t.TempDir(), t: t}

	signer, pemBytes := newKey(t)
	env.KeyPath = filepath.Join(env.Dir, "id_ed25519")
	if err := os.WriteFile(env.KeyPath, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	env.AuthorizedKey = strings.TrimSpace(string(xssh.MarshalAuthorizedKey(signer.PublicKey())))
	if err := os.WriteFile(filepath.Join(env.Dir, "authorized_keys"), []byte(env.AuthorizedKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	mode := opts.Network
	if mode == NetworkAuto && os.Getenv("CI") == "true" && os.Geteuid() == 0 {
		mode = NetworkNamespace
	}
	if mode != NetworkLoopback {
		top, err := newTopology(t, opts.Hosts)
		switch {
		case err == nil:
			env.top = top
		case mode == NetworkNamespace:
			t.Fatalf("sshtest: network namespaces required but unavailable: %v", err)
		default:
			t.Logf("sshtest: network namespaces unavailable (%v); falling back to loopback, targets are reachable directly", err)
		}
	}
	if env.top != nil {
		env.Namespaced = true
		env.BastionNetNS, env.HostsNetNS = env.top.nsA, env.top.nsB
		env.BastionSourceIP = env.top.bastionInner
		t.Logf("sshtest: targets in network namespace %s, reachable only through bastion %s:2222 in %s",
			env.top.nsB, env.top.bastionOuter, env.top.nsA)
	}

	// Registered before anything starts so a failed start leaks nothing.
	t.Cleanup(func() {
		servers := env.Hosts
		if env.Bastion != nil {
			servers = append([]*Server{env.Bastion}, servers...)
		}
		for _, s := range servers {
			if t.Failed() {
				t.Logf("sshtest: log of %s (%s):\n%s", s.Name, s.Addr(), tail(s.Log(), 2000))
			}
			s.Stop()
		}
	})
	env.Bastion = env.newServer("bastion", true)
	if env.top != nil {
		env.Bastion.Host, env.Bastion.Port, env.Bastion.netns = env.top.bastionOuter, 2222, env.top.nsA
	}
	env.Bastion.start()
	for i := 0; i < opts.Hosts; i++ {
		s := env.newServer(fmt.Sprintf("host-%d", i+1), false)
		if env.top != nil {
			s.Host, s.Port, s.netns = env.top.hostIPs[i], 22, env.top.nsB
		}
		env.Hosts = append(env.Hosts, s)
	}
	// sshd startup is mostly waiting for exec and key loading: overlap it.
	var wg sync.WaitGroup
	errs := make([]error, len(env.Hosts))
	for i, s := range env.Hosts {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.tryStart() }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// KnownHosts returns the known_hosts lines of the bastion and all hosts.
func (e *Env) KnownHosts() []string {
	lines := []string{e.Bastion.KnownHostsLine}
	for _, h := range e.Hosts {
		lines = append(lines, h.KnownHostsLine)
	}
	return lines
}

// WriteKnownHosts writes KnownHosts to path, for OpenSSH clients.
func (e *Env) WriteKnownHosts(path string) error {
	return os.WriteFile(path, []byte(strings.Join(e.KnownHosts(), "\n")+"\n"), 0o600)
}

// Listen opens a listener in the targets' network (their namespace, or
// loopback), so a test can play a service that a host exposes only on its
// own addresses, e.g. a health endpoint on 127.0.0.1.
func (e *Env) Listen(network, addr string) (net.Listener, error) {
	if e.top == nil {
		return net.Listen(network, addr)
	}
	var ln net.Listener
	err := inNetNS(e.top.nsB, func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

func (e *Env) newServer(name string, bastion bool) *Server {
	dir := filepath.Join(e.Dir, name)
	s := &Server{
		Name:    name,
		Host:    "127.0.0.1",
		Dir:     dir,
		BinDir:  filepath.Join(dir, "bin"),
		LogPath: filepath.Join(dir, "sshd.log"),
		env:     e,
		bastion: bastion,
	}
	if err := os.MkdirAll(s.BinDir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := s.WriteScript("hostname", "#!/bin/sh\necho "+name+"\n"); err != nil {
		e.t.Fatal(err)
	}
	s.writeHostKey()
	return s
}

func (s *Server) writeHostKey() {
	signer, pemBytes := newKey(s.env.t)
	s.HostKeyPath = filepath.Join(s.Dir, "ssh_host_ed25519_key")
	if err := os.WriteFile(s.HostKeyPath, pemBytes, 0o600); err != nil {
		s.env.t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.KnownHostsLine = "" // filled in once the port is known
	s.hostKey = signer.PublicKey()
}

// WriteScript puts an executable script called name into BinDir, where
// sessions on this host find it before any system command.
func (s *Server) WriteScript(name, body string) error {
	if !strings.HasPrefix(body, "#!") {
		body = "#!/bin/sh\n" + body
	}
	return os.WriteFile(filepath.Join(s.BinDir, name), []byte(body), 0o755)
}

// Log returns what sshd has logged so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

func (s *Server) start() {
	s.env.t.Helper()
	if err := s.tryStart(); err != nil {
		s.env.t.Fatal(err)
	}
}

// tryStart starts sshd. On loopback a port picked as free may be taken by
// the time sshd binds it, so a bind failure is retried on another port.
func (s *Server) tryStart() error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if s.Port == 0 || (attempt > 0 && s.netns == "") {
			if s.Port, err = freePort(); err != nil {
				return err
			}
		}
		if err = s.launch(); err == nil {
			return nil
		}
		if s.netns != "" || !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	return fmt.Errorf("sshtest: start sshd %s: %w", s.Name, err)
}

func (s *Server) writeConfig() error {
	cfg := []string{
		"Port " + strconv.Itoa(s.Port),
		"ListenAddress " + s.Host,
		"HostKey " + s.HostKeyPath,
		"PidFile none",
		"AuthorizedKeysFile " + filepath.Join(s.env.Dir, "authorized_keys"),
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"StrictModes no",
		"UsePAM no",
		"UseDNS no",
		// The bastion forwards to the hosts; the hosts forward to their
		// own loopback for tunnelled health checks.
		"AllowTcpForwarding yes",
		"X11Forwarding no",
		"PrintMotd no",
		"PrintLastLog no",
		"MaxStartups 200",
		"MaxSessions 100",
		"LogLevel VERBOSE",
		"Subsystem sftp internal-sftp",
		// SHLVL=1 stops bash from sourcing ~/.bashrc for ssh commands:
		// on developer machines root's .bashrc may initialise pyenv and
		// the like (0.3 s per command here), which would swamp timings
		// and could shadow BinDir in PATH.
		fmt.Sprintf(`SetEnv "PATH=%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "MCLOUD_HOST=%s" "MCLOUD_HOST_DIR=%s" SHLVL=1`,
			s.BinDir, s.Name, s.Dir),
	}
	s.configPath = filepath.Join(s.Dir, "sshd_config")
	return os.WriteFile(s.configPath, []byte(strings.Join(cfg, "\n")+"\n"), 0o600)
}

func (s *Server) launch() error {
	if err := s.writeConfig(); err != nil {
		return err
	}
	s.mu.Lock()
	s.KnownHostsLine = knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.hostKey)
	s.mu.Unlock()

	args := []string{SSHDPath, "-D", "-e", "-f", s.configPath}
	if s.netns != "" {
		args = append([]string{"ip", "netns", "exec", s.netns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return err
	}
	cmd.Stdout = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if !signalled && strings.Contains(sc.Text(), "Server listening on") {
				signalled = true
				close(ready)
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case <-ready:
	case <-done:
		return fmt.Errorf("sshd exited during startup: %s", tail(s.Log(), 1000))
	case <-time.After(15 * time.Second):
		killTree(cmd.Process.Pid)
		<-done
		return fmt.Errorf("sshd did not report listening within 15s: %s", tail(s.Log(), 1000))
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// Stop kills sshd and every session it spawned, so established connections
// drop as they would if the machine went away. Stopping twice is harmless.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	killTree(cmd.Process.Pid)
	<-done
}

// Restart stops and starts sshd on the same address with the same key.
func (s *Server) Restart() {
	s.env.t.Helper()
	s.Stop()
	s.start()
}

// RotateHostKey gives the server a new host key (as a rebuilt machine would
// have) and restarts it. KnownHostsLine changes accordingly; lines handed
// out before keep the old key.
func (s *Server) RotateHostKey() {
	s.env.t.Helper()
	s.Stop()
	s.writeHostKey()
	s.start()
}

// Running reports whether sshd is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

func newKey(t testing.TB) (xssh.Signer, []byte) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := xssh.MarshalPrivateKey(priv, "sshtest")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// killTree stops pid and all its descendants. sshd's per-connection
// children start new sessions (setsid), so a process group kill would miss
// them; they are found through /proc instead. Everything is stopped before
// anything is killed so nothing can fork or be reparented in between.
func killTree(pid int) {
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	var all []int
	for round := 0; round < 3; round++ {
		desc := descendants(pid)
		for _, d := range desc {
			_ = syscall.Kill(d, syscall.SIGSTOP)
		}
		all = desc
	}
	for _, d := range all {
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name may contain spaces; fields resume after ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
