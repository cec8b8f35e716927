package sshsandbox_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	mssh "github.com/mcloud/mcloud/integrations/ssh"
	"github.com/mcloud/mcloud/integrations/ssh/sshsandbox"
)

func start(t *testing.T) (*sshsandbox.Sandbox, *mssh.Client) {
	t.Helper()
	sb, err := sshsandbox.Start(sshsandbox.Options{
		KeyDir: t.TempDir(),
		User:   "deploy",
		Hosts: []sshsandbox.HostSpec{
			{Name: "web-1", Services: []string{"nginx"}},
			{Name: "web-2", Services: []string{"nginx"}, Unhealthy: true},
			{Name: "db-1", Address: "10.0.3.7:2200", Services: []string{"postgresql"}, FailApply: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	c, err := mssh.New(sb.Config("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return sb, c
}

// TestRealClientAgainstSandbox runs a miniature patch job with the real
// client, proving the sandbox speaks the same protocol as the hosts.
func TestRealClientAgainstSandbox(t *testing.T) {
	sb, c := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	targets := sb.Targets()

	for i, r := range c.RunAll(ctx, targets, "hostname") {
		if r.Err != nil || strings.TrimSpace(string(r.Stdout)) != targets[i].Name {
			t.Fatalf("hostname on %s: %q %v", targets[i].Name, r.Stdout, r.Err)
		}
	}

	patch := []byte("fix CVE-2099-0001\n")
	errs := c.ForEach(ctx, targets, func(ctx context.Context, i int, tg mssh.Target) error {
		svc := "nginx"
		if tg.Name == "db-1" {
			svc = "postgresql"
		}
		if r, err := c.Run(ctx, tg, "systemctl stop "+svc); err != nil || !r.OK() {
			return errors.Join(err, errors.New(string(r.Stderr)))
		}
		if err := c.CopyFile(ctx, tg, "/tmp/patch", patch, 0o600); err != nil {
			return err
		}
		r, err := c.Run(ctx, tg, "apply-patch /tmp/patch && systemctl start "+svc)
		if err != nil {
			return err
		}
		if !r.OK() {
			return errors.New(strings.TrimSpace(string(r.Stderr)))
		}
		resp, err := c.HTTPGet(ctx, tg, "http://127.0.0.1:8080/health")
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return errors.New("health: " + strings.TrimSpace(string(resp.Body)))
		}
		return nil
	})
	if errs[0] != nil {
		t.Errorf("web-1: %v", errs[0])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "unhealthy") {
		t.Errorf("web-2 health should fail: %v", errs[1])
	}
	if errs[2] == nil || !strings.Contains(errs[2].Error(), "dependency conflict") {
		t.Errorf("db-1 apply should fail: %v", errs[2])
	}

	web1 := sb.Host("web-1")
	if got, _ := web1.File("/tmp/patch"); string(got) != string(patch) {
		t.Errorf("patch content %q", got)
	}
	if mode, _ := web1.FileMode("/tmp/patch"); mode != 0o600 {
		t.Errorf("patch mode %o", mode)
	}
	if _, ok := web1.File("/tmp/patch.mcloud-tmp"); ok {
		t.Error("temporary upload file left behind")
	}
	if !web1.ServiceActive("nginx") || len(web1.Applied()) != 1 {
		t.Errorf("web-1 state: nginx=%v applied=%v", web1.ServiceActive("nginx"), web1.Applied())
	}
	if db := sb.Host("db-1"); db.ServiceActive("postgresql") {
		t.Error("db-1: failed apply must not start the service (&& chain)")
	}

	// Exit codes and stderr are reported like a real host's.
	r, err := c.Run(ctx, targets[0], "systemctl status nginx; systemctl is-active redis")
	if err != nil || r.ExitStatus != 3 || !strings.Contains(string(r.Stdout), "Active: active") {
		t.Errorf("status: %+v %v", r, err)
	}
	r, _ = c.Run(ctx, targets[0], "no-such-command")
	if r.ExitStatus != 127 {
		t.Errorf("unknown command exit %d", r.ExitStatus)
	}

	// A port nothing listens on is refused by the host, and says so.
	_, err = c.HTTPGet(ctx, targets[0], "http://127.0.0.1:9999/")
	if mssh.KindOf(err) != mssh.KindConnRefused {
		t.Errorf("closed port: %v", err)
	}
	// The bastion refuses unknown hosts.
	_, err = c.Run(ctx, mssh.Target{Name: "ghost", Address: "ghost.sandbox:22"}, "hostname")
	if mssh.KindOf(err) != mssh.KindConnRefused {
		t.Errorf("unknown host: %v", err)
	}
}

func TestSandboxCancelAndHostKeys(t *testing.T) {
	sb, c := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Run(ctx, sb.Targets()[0], "sleep 60")
	if mssh.KindOf(err) != mssh.KindCanceled || time.Since(start) > 5*time.Second {
		t.Fatalf("cancel: %v after %s", err, time.Since(start))
	}

	// Each host has its own key: web-2's line does not vouch for web-1.
	cfg := sb.Config("deploy")
	lines := sb.KnownHosts()
	cfg.KnownHosts = []string{lines[0], strings.Replace(lines[2], "web-2", "web-1", 1)}
	c2, err := mssh.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, err = c2.Run(context.Background(), sb.Targets()[0], "hostname")
	if mssh.KindOf(err) != mssh.KindHostKeyMismatch {
		t.Fatalf("want mismatch, got %v", err)
	}
}

// A product's health endpoint: TLS with a self-signed certificate on its
// own port and path, failing while the service is stopped.
func TestSandboxHealthEndpointFollowsService(t *testing.T) {
	sb, err := sshsandbox.Start(sshsandbox.Options{
		KeyDir: t.TempDir(),
		Hosts: []sshsandbox.HostSpec{{Name: "apim-1", Address: "10.10.1.11", Services: []string{"wso2am"},
			TLS: true, HTTPPort: 9443, HealthPath: "/services/Version"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	cfg := sb.Config("mcloud")
	cfg.KnownHosts = []string{
		mustLine(t, "bastion.customer-x.example.net:2222", sb.BastionKey()),
		sb.Host("apim-1").KnownHostsLine(),
	}
	// The bastion pinned under its configured name, reached at the sandbox.
	cfg.Bastion.Host, cfg.Bastion.Port = "bastion.customer-x.example.net", 2222
	cfg.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, sb.BastionAddr())
	}
	c, err := mssh.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tg := sb.Targets()[0]
	get := func() int {
		t.Helper()
		resp, err := c.HTTPGet(ctx, tg, "https://127.0.0.1:9443/services/Version")
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("running service: %d", code)
	}
	if r, err := c.Run(ctx, tg, "systemctl stop wso2am"); err != nil || !r.OK() {
		t.Fatal(err)
	}
	if code := get(); code != 503 {
		t.Fatalf("stopped service: %d, want 503", code)
	}
	if r, _ := c.Run(ctx, tg, "healthcheck"); r.ExitStatus != 1 {
		t.Fatalf("healthcheck with the service stopped exited %d", r.ExitStatus)
	}
}

func mustLine(t *testing.T, addr string, key xssh.PublicKey) string {
	t.Helper()
	line, err := mssh.KnownHostsLine(addr, string(xssh.MarshalAuthorizedKey(key)))
	if err != nil {
		t.Fatal(err)
	}
	return line
}

// A host added to a running sandbox (as a machine built later) is reached
// with the key it presents; one added again at the same address is a new
// machine with a new key, so the old pin is refused, as after Rekey.
func TestAddHostAndRekey(t *testing.T) {
	sb, _ := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := sb.AddHost(sshsandbox.HostSpec{Name: "app-1", Address: "10.0.2.14"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Address != "10.0.2.14:22" || !strings.HasPrefix(h.AuthorizedKey(), "ssh-ed25519 ") {
		t.Fatalf("added %s with key %q", h.Address, h.AuthorizedKey())
	}
	run := func(pins []string) error {
		t.Helper()
		cfg := sb.Config("deploy")
		cfg.KnownHosts = append(cfg.KnownHosts[:1:1], pins...)
		c, err := mssh.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r, err := c.Run(ctx, mssh.Target{Name: "app-1", Address: "10.0.2.14"}, "hostname")
		if err == nil && strings.TrimSpace(string(r.Stdout)) != "app-1" {
			t.Fatalf("hostname: %q", r.Stdout)
		}
		return err
	}
	pin := h.KnownHostsLine()
	if err := run([]string{pin}); err != nil {
		t.Fatalf("with the key it presents: %v", err)
	}
	var hk *mssh.HostKeyError
	if err := h.Rekey(); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{pin}); !errors.As(err, &hk) || hk.Kind() != mssh.KindHostKeyMismatch {
		t.Fatalf("after Rekey, the old pin: %v", err)
	}
	rebuilt, err := sb.AddHost(sshsandbox.HostSpec{Name: "app-1", Address: "10.0.2.14:22"})
	if err != nil {
		t.Fatal(err)
	}
	if err := run([]string{rebuilt.KnownHostsLine()}); err != nil {
		t.Fatalf("the rebuilt host with its own key: %v", err)
	}
	if n := strings.Count(strings.Join(sb.KnownHosts(), "\n"), "10.0.2.14"); n != 1 {
		t.Fatalf("%d known_hosts lines for the rebuilt address, want 1", n)
	}
}
