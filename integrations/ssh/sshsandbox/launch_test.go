package sshsandbox_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	mssh "github.com/mcloud/mcloud/integrations/ssh"
	"github.com/mcloud/mcloud/integrations/ssh/sshsandbox"
)

// A host added while the sandbox runs (as a DR rebuild's instance) is
// reached through the bastion under its own key, pinned from AuthorizedKey,
// and answers its health endpoint; an endpoint added for a database
// accepts connections; any other address is refused.
func TestAddHostAndEndpointWhileRunning(t *testing.T) {
	sb, _ := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old, err := sb.AddHost(sshsandbox.HostSpec{Name: "dr-web-1", Address: "10.9.1.4:22"})
	if err != nil {
		t.Fatal(err)
	}
	// A machine rebuilt at the same address replaces the old one, with a
	// new host key.
	h, err := sb.AddHost(sshsandbox.HostSpec{Name: "dr-web-1", Address: "10.9.1.4:22", HTTPPort: 9443, HealthPath: "/ping"})
	if err != nil {
		t.Fatal(err)
	}
	if h.AuthorizedKey() == old.AuthorizedKey() {
		t.Error("the rebuilt machine kept the old one's host key")
	}
	if err := sb.AddEndpoint("db.dr.example:5432"); err != nil {
		t.Fatal(err)
	}
	cfg := sb.Config("deploy")
	line, err := mssh.KnownHostsLine("10.9.1.4", h.AuthorizedKey())
	if err != nil {
		t.Fatal(err)
	}
	cfg.KnownHosts = append(cfg.KnownHosts[:1], line) // the bastion's, and the new host's only
	c, err := mssh.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tg := mssh.Target{Name: "dr-web-1", Address: "10.9.1.4"}
	if r, err := c.Run(ctx, tg, "hostname"); err != nil || strings.TrimSpace(string(r.Stdout)) != "dr-web-1" {
		t.Fatalf("hostname: %q %v", r.Stdout, err)
	}
	if resp, err := c.HTTPGet(ctx, tg, "http://127.0.0.1:9443/ping"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %+v %v", resp, err)
	}
	nc, err := c.DialViaBastion(ctx, "tcp", "db.dr.example:5432")
	if err != nil {
		t.Fatalf("database endpoint: %v", err)
	}
	nc.Close()
	if _, err := c.DialViaBastion(ctx, "tcp", "db.dr.example:5433"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("an address nothing answers at: %v", err)
	}
}

// A host re-provisioned at a new address replaces the one of the same
// name: Host(name) is the new machine, the old address refuses, and a
// command still running on the old machine ends with it.
func TestAddHostByNameAtNewAddress(t *testing.T) {
	sb, _ := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old, err := sb.AddHost(sshsandbox.HostSpec{Name: "app-1", Address: "10.0.2.14:22"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sb.Config("deploy")
	cfg.KnownHosts = append(cfg.KnownHosts[:1:1], old.KnownHostsLine())
	c, err := mssh.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	oldTarget := mssh.Target{Name: "app-1", Address: "10.0.2.14"}
	ran := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, oldTarget, "sleep 60")
		ran <- err
	}()
	for !slices.Contains(old.Log(), "sleep 60") {
		select {
		case err := <-ran:
			t.Fatalf("sleep ended before the host was replaced: %v", err)
		case <-ctx.Done():
			t.Fatal("sleep never started on the old host")
		case <-time.After(10 * time.Millisecond):
		}
	}
	h, err := sb.AddHost(sshsandbox.HostSpec{Name: "app-1", Address: "10.0.2.99:22"})
	if err != nil {
		t.Fatal(err)
	}
	if got := sb.Host("app-1"); got != h {
		t.Fatalf("Host(app-1) is at %s, want the new machine at %s", got.Address, h.Address)
	}
	select {
	case err := <-ran:
		if err == nil {
			t.Fatal("sleep 60 on the replaced machine succeeded")
		}
	case <-ctx.Done():
		t.Fatal("a session on the replaced machine outlived it")
	}
	if _, err := c.Run(ctx, oldTarget, "hostname"); err == nil {
		t.Fatal("the old address still answers after the host moved")
	}
	if n := len(sb.Targets()); n != 4 {
		t.Errorf("%d targets, want the 3 started and the moved one once", n)
	}
}
