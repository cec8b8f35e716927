package ssh_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	mssh "github.com/mcloud/mcloud/integrations/ssh"
	"github.com/mcloud/mcloud/integrations/ssh/sshtest"
)

func config(env *sshtest.Env) mssh.Config {
	return mssh.Config{
		Bastion:    mssh.Bastion{Host: env.Bastion.Host, Port: env.Bastion.Port, User: env.User},
		KnownHosts: env.KnownHosts(),
		Auth:       mssh.Auth{KeyFile: env.KeyPath},
	}
}

func newClient(t *testing.T, cfg mssh.Config) *mssh.Client {
	t.Helper()
	c, err := mssh.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func targetsOf(env *sshtest.Env) []mssh.Target {
	var ts []mssh.Target
	for _, h := range env.Hosts {
		ts = append(ts, mssh.Target{Name: h.Name, Address: h.Addr()})
	}
	return ts
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestRunOnAllHostsThroughBastion(t *testing.T) {
	for _, mode := range []sshtest.Network{sshtest.NetworkAuto, sshtest.NetworkLoopback} {
		t.Run(map[sshtest.Network]string{sshtest.NetworkAuto: "auto", sshtest.NetworkLoopback: "loopback"}[mode], func(t *testing.T) {
			testRunOnAllHosts(t, sshtest.Start(t, sshtest.Options{Hosts: 3, Network: mode}))
		})
	}
}

func testRunOnAllHosts(t *testing.T, env *sshtest.Env) {
	c := newClient(t, config(env))
	ctx := ctxTimeout(t, 60*time.Second)

	results := c.RunAll(ctx, targetsOf(env), "hostname; echo oops >&2; exit 3")
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Target.Name, r.Err)
		}
		if want := env.Hosts[i].Name; r.Target.Name != want || strings.TrimSpace(string(r.Stdout)) != want {
			t.Errorf("result %d: target %q stdout %q, want %q", i, r.Target.Name, r.Stdout, want)
		}
		if string(r.Stderr) != "oops\n" || r.ExitStatus != 3 || r.OK() {
			t.Errorf("%s: stderr %q exit %d", r.Target.Name, r.Stderr, r.ExitStatus)
		}
	}
	// The per-host environment proves each command ran on its own sshd.
	r, err := c.Run(ctx, targetsOf(env)[1], `echo "$MCLOUD_HOST"`)
	if err != nil || strings.TrimSpace(string(r.Stdout)) != env.Hosts[1].Name || !r.OK() {
		t.Fatalf("Run: %+v %v", r, err)
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 3})
	cfg := config(env) // known_hosts as before the rebuild
	victim := env.Hosts[1]
	victim.RotateHostKey()
	newFP := fingerprintOf(t, victim.KnownHostsLine)

	c := newClient(t, cfg)
	results := c.RunAll(ctxTimeout(t, 60*time.Second), targetsOf(env), "hostname")
	for i, r := range results {
		if i != 1 {
			if r.Err != nil {
				t.Errorf("%s should be unaffected: %v", r.Target.Name, r.Err)
			}
			continue
		}
		var hk *mssh.HostKeyError
		if !errors.As(r.Err, &hk) || hk.Kind() != mssh.KindHostKeyMismatch {
			t.Fatalf("want host key mismatch, got %v", r.Err)
		}
		msg := r.Err.Error()
		for _, want := range []string{victim.Name, victim.Addr(), newFP, "mismatch"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not mention %q", msg, want)
			}
		}
		if mssh.KindOf(r.Err) != mssh.KindHostKeyMismatch {
			t.Errorf("KindOf = %v", mssh.KindOf(r.Err))
		}
		um := mssh.UserMessage(r.Err)
		if !strings.Contains(um, victim.Name) || !strings.Contains(um, newFP) || strings.Count(um, ". ") > 0 {
			t.Errorf("user message %q", um)
		}
		t.Logf("error: %v", r.Err)
		t.Logf("user message: %s", um)
		if len(r.Stdout) != 0 {
			t.Errorf("command must not run on a host with a bad key")
		}
	}
}

func TestUnknownHostKeyRefused(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 3})
	t.Run("target", func(t *testing.T) {
		cfg := config(env)
		cfg.KnownHosts = append([]string{env.Bastion.KnownHostsLine}, env.Hosts[0].KnownHostsLine, env.Hosts[1].KnownHostsLine)
		c := newClient(t, cfg)
		_, err := c.Run(ctxTimeout(t, 30*time.Second), targetsOf(env)[2], "hostname")
		var hk *mssh.HostKeyError
		if !errors.As(err, &hk) || hk.Kind() != mssh.KindHostKeyUnknown {
			t.Fatalf("want unknown host key, got %v", err)
		}
		fp := fingerprintOf(t, env.Hosts[2].KnownHostsLine)
		for _, want := range []string{env.Hosts[2].Name, fp, "unknown host key"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		if um := mssh.UserMessage(err); !strings.Contains(um, fp) {
			t.Errorf("user message %q", um)
		}
		t.Logf("error: %v", err)
	})
	t.Run("bastion", func(t *testing.T) {
		cfg := config(env)
		cfg.KnownHosts = cfg.KnownHosts[1:]
		c := newClient(t, cfg)
		res := c.RunAll(ctxTimeout(t, 30*time.Second), targetsOf(env), "hostname")
		fp := fingerprintOf(t, env.Bastion.KnownHostsLine)
		for _, r := range res {
			var hk *mssh.HostKeyError
			if !errors.As(r.Err, &hk) || hk.Host != "bastion" || hk.Fingerprint != fp {
				t.Fatalf("want unknown bastion key %s, got %v", fp, r.Err)
			}
		}
		t.Logf("error: %v", res[0].Err)
	})
}

func TestStoppedBastion(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 3})
	env.Bastion.Stop()
	c := newClient(t, config(env))
	start := time.Now()
	res := c.RunAll(ctxTimeout(t, 60*time.Second), targetsOf(env), "hostname")
	want := fmt.Sprintf("bastion %s unreachable: ", env.Bastion.Addr())
	for _, r := range res {
		if r.Err == nil || !strings.Contains(r.Err.Error(), want) || mssh.KindOf(r.Err) != mssh.KindBastionUnreachable {
			t.Fatalf("%s: want %q, got %v", r.Target.Name, want, r.Err)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s; a refused bastion should fail fast", d)
	}
	um := mssh.UserMessage(res[0].Err)
	if !strings.Contains(um, env.Bastion.Addr()) || !strings.Contains(um, "connection refused") {
		t.Errorf("user message %q", um)
	}
	t.Logf("error: %v", res[0].Err)
	t.Logf("user message: %s", um)
}

func TestBastionReconnectsOnce(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 2})
	c := newClient(t, config(env))
	ctx := ctxTimeout(t, 90*time.Second)
	ts := targetsOf(env)
	if r, err := c.Run(ctx, ts[0], "true"); err != nil || !r.OK() {
		t.Fatal(err)
	}

	// The bastion goes away and comes back: the next call re-establishes
	// the shared connection by itself.
	env.Bastion.Restart()
	for _, r := range c.RunAll(ctx, ts, "hostname") {
		if r.Err != nil {
			t.Fatalf("after bastion restart: %v", r.Err)
		}
	}

	// Gone for good: the one reconnect fails and says so.
	env.Bastion.Stop()
	res := c.RunAll(ctx, ts, "hostname")
	for _, r := range res {
		if r.Err == nil || !strings.Contains(r.Err.Error(), "bastion "+env.Bastion.Addr()+" unreachable") {
			t.Fatalf("want bastion unreachable, got %v", r.Err)
		}
	}
	t.Logf("error: %v", res[0].Err)
}

func TestCancelEndsRemoteCommand(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 1})
	c := newClient(t, config(env))
	// A unique duration makes the remote process identifiable in /proc
	// (all sshds run on this machine).
	marker := fmt.Sprintf("60.%d", time.Now().UnixNano()%100000)
	ctx, cancel := context.WithCancel(context.Background())
	canceledAt := make(chan time.Time, 1)
	go func() {
		// Cancel only once the remote command provably runs, so that
		// waitGone below cannot pass vacuously.
		deadline := time.Now().Add(20 * time.Second)
		for len(processesMatching("sleep "+marker)) == 0 {
			if time.Now().After(deadline) {
				canceledAt <- time.Time{}
				cancel()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		canceledAt <- time.Now()
		cancel()
	}()
	r, err := c.Run(ctx, targetsOf(env)[0], "echo started; sleep "+marker)
	at := <-canceledAt
	if at.IsZero() {
		t.Fatal("remote sleep never showed up")
	}
	elapsed := time.Since(at)
	if err == nil || mssh.KindOf(err) != mssh.KindCanceled {
		t.Fatalf("want canceled, got %v", err)
	}
	if elapsed > 5*time.Second {
		t.Fatalf("cancel took %s", elapsed)
	}
	if string(r.Stdout) != "started\n" {
		t.Errorf("partial output lost: %q", r.Stdout)
	}
	waitGone(t, "sleep "+marker)
	t.Logf("returned %s after cancel: %v", elapsed, err)
}

func TestCommandTimeout(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 1})
	cfg := config(env)
	cfg.CommandTimeout = 1500 * time.Millisecond
	c := newClient(t, cfg)
	marker := fmt.Sprintf("61.%d", time.Now().UnixNano()%100000)
	start := time.Now()
	_, err := c.Run(context.Background(), targetsOf(env)[0], "sleep "+marker)
	if mssh.KindOf(err) != mssh.KindTimeout || time.Since(start) > 6*time.Second {
		t.Fatalf("want timeout promptly, got %v after %s", err, time.Since(start))
	}
	waitGone(t, "sleep "+marker)
	um := mssh.UserMessage(err)
	if !strings.Contains(um, "did not finish within 1.5s") {
		t.Errorf("user message %q", um)
	}
	t.Logf("error: %v; user message: %s", err, um)
}

// waitGone fails unless no process whose command line is exactly pattern
// is left within a few seconds.
func waitGone(t *testing.T, pattern string) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(5 * time.Second)
	for {
		pids := processesMatching(pattern)
		if len(pids) == 0 {
			t.Logf("remote %q gone %s after the call returned", pattern, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("remote command %q still running: pids %v", pattern, pids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func processesMatching(pattern string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		// Compare whole command lines: the shells around the command carry
		// it as an argument and would match a substring search.
		if strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")) == pattern {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestOutputCap(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 1})
	cfg := config(env)
	cfg.MaxOutput = 1000
	c := newClient(t, cfg)
	ctx := ctxTimeout(t, 30*time.Second)
	tg := targetsOf(env)[0]

	r, err := c.Run(ctx, tg, "head -c 1000000 /dev/zero | tr '\\0' a; head -c 5000 /dev/zero >&2; echo done >&2")
	if err != nil || !r.OK() {
		t.Fatalf("%+v %v", r, err)
	}
	if len(r.Stdout) != 1000 || !r.StdoutTruncated || strings.Trim(string(r.Stdout), "a") != "" {
		t.Errorf("stdout: %d bytes, truncated=%v", len(r.Stdout), r.StdoutTruncated)
	}
	if len(r.Stderr) != 1000 || !r.StderrTruncated {
		t.Errorf("stderr: %d bytes, truncated=%v", len(r.Stderr), r.StderrTruncated)
	}
	r, err = c.Run(ctx, tg, "head -c 1000 /dev/zero | tr '\\0' b")
	if err != nil || len(r.Stdout) != 1000 || r.StdoutTruncated {
		t.Errorf("exactly at the cap: %d bytes, truncated=%v, %v", len(r.Stdout), r.StdoutTruncated, err)
	}
}

func TestFanOutRespectsBound(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 6})
	cfg := config(env)
	cfg.Parallelism = 2
	c := newClient(t, cfg)
	// Each host records when its command ran, on the host side: that is
	// the concurrency the hosts actually experienced.
	cmd := `date +%s%N > "$MCLOUD_HOST_DIR/start"; sleep 0.7; date +%s%N > "$MCLOUD_HOST_DIR/end"; hostname`
	res := c.RunAll(ctxTimeout(t, 60*time.Second), targetsOf(env), cmd)
	type ev struct {
		at    int64
		delta int
	}
	var evs []ev
	for i, r := range res {
		if r.Err != nil || strings.TrimSpace(string(r.Stdout)) != env.Hosts[i].Name {
			t.Fatalf("result %d out of order or failed: %q %v", i, r.Stdout, r.Err)
		}
		for name, d := range map[string]int{"start": 1, "end": -1} {
			b, err := os.ReadFile(filepath.Join(env.Hosts[i].Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			at, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			evs = append(evs, ev{at, d})
		}
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].delta < evs[j].delta
	})
	cur, peak := 0, 0
	for _, e := range evs {
		cur += e.delta
		peak = max(peak, cur)
	}
	if peak != 2 {
		t.Fatalf("peak concurrency on hosts = %d, want exactly the bound 2", peak)
	}
}

func TestCopyFileAndHTTPThroughTunnel(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 2})
	c := newClient(t, config(env))
	ctx := ctxTimeout(t, 30*time.Second)
	tg := targetsOf(env)[1]

	data := []byte("patch v2\n\x00binary\xff'quote\n")
	path := filepath.Join(env.Hosts[1].Dir, "it's a patch.bin")
	if err := c.CopyFile(ctx, tg, path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != string(data) {
		t.Fatalf("copied %q, %v", got, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	err = c.CopyFile(ctx, tg, "/nonexistent-dir/x", data, 0o644)
	if err == nil || !strings.Contains(err.Error(), "nonexistent-dir") {
		t.Errorf("copy to missing dir: %v", err)
	}

	// A health endpoint listening only on the hosts' own loopback.
	ln, err := env.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.Error(w, "degraded", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String()
	resp, err := c.HTTPGet(ctx, tg, url+"/health")
	if err != nil || resp.StatusCode != 200 || string(resp.Body) != "ok" {
		t.Fatalf("health: %+v %v", resp, err)
	}
	resp, err = c.HTTPGet(ctx, tg, url+"/other")
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("degraded: %+v %v", resp, err)
	}
	ln2, _ := env.Listen("tcp", "127.0.0.1:0")
	closed := ln2.Addr().String()
	ln2.Close()
	_, err = c.HTTPGet(ctx, tg, "http://"+closed+"/health")
	if err == nil || mssh.KindOf(err) != mssh.KindConnRefused {
		t.Fatalf("closed port: want connection refused, got %v (kind %v)", err, mssh.KindOf(err))
	}
	if um := mssh.UserMessage(err); !strings.Contains(um, "Nothing accepted the connection for http://"+closed) {
		t.Errorf("user message %q", um)
	}
	t.Logf("closed port: %v; user message: %s", err, mssh.UserMessage(err))
}

func TestAuthentication(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 1})
	ctx := ctxTimeout(t, 60*time.Second)
	tg := targetsOf(env)[0]
	dir := t.TempDir()

	t.Run("wrong key", func(t *testing.T) {
		cfg := config(env)
		cfg.Auth.KeyFile = writeKey(t, dir, "other", nil)
		c := newClient(t, cfg)
		_, err := c.Run(ctx, tg, "true")
		if mssh.KindOf(err) != mssh.KindAuthFailed {
			t.Fatalf("want auth failure, got %v", err)
		}
		// The bastion is the first to reject the key; say so.
		if um := mssh.UserMessage(err); !strings.Contains(um, "bastion "+env.Bastion.Addr()) {
			t.Errorf("user message %q", um)
		}
		t.Logf("error: %v; user message: %s", err, mssh.UserMessage(err))
	})
	t.Run("encrypted key", func(t *testing.T) {
		// Re-encrypt the harness key with a passphrase.
		raw, _ := os.ReadFile(env.KeyPath)
		k, err := xssh.ParseRawPrivateKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		block, err := xssh.MarshalPrivateKeyWithPassphrase(k, "", []byte("s3cret"))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "encrypted")
		os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
		cfg := config(env)
		cfg.Auth.KeyFile = path
		if _, err := mssh.New(cfg); err == nil || !strings.Contains(err.Error(), "no passphrase") {
			t.Fatalf("missing passphrase: %v", err)
		}
		cfg.Auth.Passphrase = []byte("s3cret")
		if r, err := newClient(t, cfg).Run(ctx, tg, "true"); err != nil || !r.OK() {
			t.Fatal(err)
		}
	})
	t.Run("agent", func(t *testing.T) {
		raw, _ := os.ReadFile(env.KeyPath)
		k, err := xssh.ParseRawPrivateKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		keyring := agent.NewKeyring()
		if err := keyring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
		sock := filepath.Join(dir, "agent.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { agent.ServeAgent(keyring, c); c.Close() }()
			}
		}()
		t.Setenv("SSH_AUTH_SOCK", sock)
		cfg := config(env)
		cfg.Auth = mssh.Auth{Agent: true}
		if r, err := newClient(t, cfg).Run(ctx, tg, "true"); err != nil || !r.OK() {
			t.Fatal(err)
		}
	})
}

func writeKey(t *testing.T, dir, name string, passphrase []byte) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := xssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func fingerprintOf(t *testing.T, knownHostsLine string) string {
	t.Helper()
	_, _, key, _, _, err := xssh.ParseKnownHosts([]byte(knownHostsLine))
	if err != nil {
		t.Fatal(err)
	}
	return xssh.FingerprintSHA256(key)
}

// TestKeepaliveDetectsSilentBastion freezes the path to the bastion (no
// FIN, no RST, just silence, as with a dead NAT or a powered-off machine)
// and expects the running command to fail after three missed keepalives
// rather than hang.
func TestKeepaliveDetectsSilentBastion(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 1})
	proxy := newFreezableProxy(t, env.Bastion.Addr())
	cfg := config(env)
	cfg.KeepaliveInterval = 200 * time.Millisecond
	// The proxy listens on another address than the bastion; resolve that
	// with Dial so the known_hosts name stays the bastion's.
	cfg.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, proxy.addr)
	}
	c := newClient(t, cfg)
	time.AfterFunc(1500*time.Millisecond, proxy.freeze)
	start := time.Now()
	_, err := c.Run(ctxTimeout(t, 30*time.Second), targetsOf(env)[0], "sleep 20")
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "keepalives unanswered") || mssh.KindOf(err) != mssh.KindConnLost {
		t.Fatalf("want keepalive failure, got %v (kind %v)", err, mssh.KindOf(err))
	}
	if elapsed > 5*time.Second {
		t.Fatalf("detected only after %s", elapsed)
	}
	t.Logf("after %s: %v", elapsed, err)
}

type freezableProxy struct {
	addr   string
	mu     sync.Mutex
	frozen bool
	wake   chan struct{}
}

func newFreezableProxy(t *testing.T, target string) *freezableProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezableProxy{addr: ln.Addr().String(), wake: make(chan struct{})}
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		close(p.wake)
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			go p.pipe(in, out)
			go p.pipe(out, in)
		}
	}()
	return p
}

func (p *freezableProxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

func (p *freezableProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		frozen := p.frozen
		p.mu.Unlock()
		if frozen {
			<-p.wake // swallow everything from now on, keep the sockets open
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
