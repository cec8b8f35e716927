package ssh_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	mssh "github.com/mcloud/mcloud/integrations/ssh"
	"github.com/mcloud/mcloud/integrations/ssh/sshtest"
)

// A product's management port on the host's own loopback answers with a
// self-signed certificate (WSO2's default); the health check must still
// get through, because the SSH session already authenticates the host.
func TestHTTPGetSelfSignedOnHostLoopback(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 1})
	c := newClient(t, config(env))
	ln, err := env.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "version 4.2.0 over "+tls.VersionName(r.TLS.Version))
	})}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}))
	t.Cleanup(func() { srv.Close() })

	resp, err := c.HTTPGet(ctxTimeout(t, 30*time.Second), targetsOf(env)[0], "https://"+ln.Addr().String()+"/services/Version")
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(string(resp.Body), "version 4.2.0 over TLS") {
		t.Fatalf("https health on loopback: %+v %v", resp, err)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}
}

func TestKnownHostsLine(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq1aVzR2m0pYc6bX8bYF1tJ9C3m1rjJ6lH6lO8lXbQX"
	for _, tt := range []struct{ addr, want string }{
		{"10.0.0.5", "10.0.0.5 " + key},
		{"10.0.0.5:22", "10.0.0.5 " + key},
		{"bastion.example.net:2222", "[bastion.example.net]:2222 " + key},
	} {
		got, err := mssh.KnownHostsLine(tt.addr, key+" comment")
		if err != nil || got != tt.want {
			t.Errorf("KnownHostsLine(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
	if _, err := mssh.KnownHostsLine("10.0.0.5", "ssh-ed25519 AAAAnotakey"); err == nil {
		t.Error("a key that does not parse must be refused")
	}
}

func TestUnreached(t *testing.T) {
	env := sshtest.Start(t, sshtest.Options{Hosts: 1})
	c := newClient(t, config(env))
	ctx := ctxTimeout(t, 30*time.Second)
	tg := targetsOf(env)[0]

	// The command ran and failed: the host was reached.
	r, err := c.Run(ctx, tg, "exit 4")
	if err != nil || r.ExitStatus != 4 || mssh.Unreached(err) {
		t.Fatalf("exit 4: %+v %v", r, err)
	}
	// A host key nobody pinned: refused before anything ran.
	cfg := config(env)
	cfg.KnownHosts = cfg.KnownHosts[:1]
	_, err = newClient(t, cfg).Run(ctx, tg, "true")
	if !mssh.Unreached(err) {
		t.Fatalf("unknown host key must count as unreached: %v", err)
	}
	// The bastion is gone: nothing behind it was reached.
	env.Bastion.Stop()
	_, err = newClient(t, config(env)).Run(ctx, tg, "true")
	if !mssh.Unreached(err) || mssh.Unreached(errors.New("plain")) {
		t.Fatalf("stopped bastion must count as unreached: %v", err)
	}
}
