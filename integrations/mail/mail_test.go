package mail_test

import (
	"context"
	"crypto/x509"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/mcloud/mcloud/integrations/mail"
	"github.com/mcloud/mcloud/integrations/mail/mailtest"
)

// A mail goes through STARTTLS and AUTH PLAIN to a real SMTP server, with
// its subject and body intact.
func TestSendStartTLSAndAuth(t *testing.T) {
	srv := mailtest.Start(t)
	c, err := mail.New(mail.Options{Addr: srv.Addr, From: "mcloud@example.com", User: mailtest.User, Password: mailtest.Password, RootCAs: srv.Pool})
	if err != nil {
		t.Fatal(err)
	}
	body := "[CRITICAL] alert #1: DiskFull on x-prod-apim-1 (customer-x)\n" + strings.Repeat("a long line ", 20) + "\nnon-ASCII: Grüße"
	if err := c.Send(context.Background(), mail.Message{To: []string{"ops@x.example", "oncall@x.example"}, Subject: "[mcloud] CRITICAL DiskFull — customer-x", Body: body}); err != nil {
		t.Fatal(err)
	}
	ms := srv.Mails()
	if len(ms) != 1 {
		t.Fatalf("%d mails, want 1", len(ms))
	}
	m := ms[0]
	if !m.TLS || m.From != "mcloud@example.com" || strings.Join(m.To, ",") != "ops@x.example,oncall@x.example" {
		t.Errorf("mail: TLS %v, from %q, to %v", m.TLS, m.From, m.To)
	}
	if m.Subject != "[mcloud] CRITICAL DiskFull — customer-x" || strings.TrimSuffix(m.Body, "\n") != body {
		t.Errorf("subject %q\nbody %q\nwant %q", m.Subject, m.Body, body)
	}
}

// Nothing is sent to a server whose certificate is not trusted, or with
// the wrong password; the error never holds the password.
func TestSendRefusals(t *testing.T) {
	srv := mailtest.Start(t)
	send := func(o mail.Options) error {
		o.Addr, o.From = srv.Addr, "mcloud@example.com"
		c, err := mail.New(o)
		if err != nil {
			t.Fatal(err)
		}
		return c.Send(context.Background(), mail.Message{To: []string{"ops@x.example"}, Subject: "s", Body: "b"})
	}
	if err := send(mail.Options{User: mailtest.User, Password: mailtest.Password, RootCAs: x509.NewCertPool()}); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("untrusted certificate: %v", err)
	}
	err := send(mail.Options{User: mailtest.User, Password: "wrong-secret-pw", RootCAs: srv.Pool})
	if err == nil || !strings.Contains(err.Error(), "authenticate") || strings.Contains(err.Error(), "wrong-secret-pw") {
		t.Errorf("wrong password: %v", err)
	}
	if n := len(srv.Mails()); n != 0 {
		t.Errorf("%d mails accepted, want none", n)
	}
}

// A server that offers no STARTTLS gets no credentials and no mail.
func TestSendNeedsStartTLS(t *testing.T) {
	plain := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return nil, smtp.ErrAuthRequired }))
	plain.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go plain.Serve(ln)
	defer plain.Close()
	c, _ := mail.New(mail.Options{Addr: ln.Addr().String(), From: "mcloud@example.com", User: "u", Password: "p"})
	err = c.Send(context.Background(), mail.Message{To: []string{"ops@x.example"}, Subject: "s", Body: "b"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("plain-text server: %v, want a STARTTLS error", err)
	}
}
