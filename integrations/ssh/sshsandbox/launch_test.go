package sshsandbox_test

import (
	"context"
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
