package ssh_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	mssh "github.com/mcloud/mcloud/integrations/ssh"
)

// TestHandshakeDeadline: a bastion that accepts TCP but never speaks SSH
// (a wedged sshd, a half-open firewall) must not hang the job.
func TestHandshakeDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	c, err := mssh.New(mssh.Config{
		Bastion:          mssh.Bastion{Host: "127.0.0.1", Port: addr.Port, User: "root"},
		KnownHosts:       []string{"[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ"},
		Auth:             mssh.Auth{KeyFile: writeKey(t, t.TempDir(), "k", nil)},
		HandshakeTimeout: 700 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	res := c.RunAll(context.Background(), []mssh.Target{{Address: "web-1.internal:22"}, {Address: "web-2.internal:22"}}, "true")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}
	for _, r := range res {
		if mssh.KindOf(r.Err) != mssh.KindBastionUnreachable || !strings.Contains(r.Err.Error(), "timed out after 700ms") {
			t.Fatalf("want bastion handshake timeout, got %v", r.Err)
		}
	}
	t.Logf("error: %v; user message: %s", res[0].Err, mssh.UserMessage(res[0].Err))
}

func TestConfigValidation(t *testing.T) {
	key := writeKey(t, t.TempDir(), "k", nil)
	for name, cfg := range map[string]mssh.Config{
		"no known_hosts": {Bastion: mssh.Bastion{Host: "b", User: "u"}, Auth: mssh.Auth{KeyFile: key}},
		"bad known_hosts": {Bastion: mssh.Bastion{Host: "b", User: "u"}, Auth: mssh.Auth{KeyFile: key},
			KnownHosts: []string{"b ssh-ed25519 not-base64!"}},
		"no auth":       {Bastion: mssh.Bastion{Host: "b", User: "u"}, KnownHosts: []string{"# empty"}},
		"no agent sock": {Bastion: mssh.Bastion{Host: "b", User: "u"}, KnownHosts: []string{"# x"}, Auth: mssh.Auth{Agent: true, AgentSocket: "/nonexistent/sock"}},
		"no user":       {Bastion: mssh.Bastion{Host: "b"}, KnownHosts: []string{"# x"}, Auth: mssh.Auth{KeyFile: key}},
	} {
		if _, err := mssh.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
