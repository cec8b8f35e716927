// Package mail sends plain-text mail through an SMTP submission server:
// the connection is upgraded with STARTTLS and authenticated (AUTH PLAIN)
// before anything is sent, or nothing is sent. It is the alerts' fallback
// while Slack is unreachable.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Client sends mail through one server. Safe for concurrent use: each
// Send is its own connection (the fallback sends a handful of mails in an
// outage, not a stream).
type Client struct {
	addr     string
	host     string
	from     string
	user     string
	password string
	roots    *x509.CertPool
	timeout  time.Duration
}

// Options say where and as whom to send.
type Options struct {
	// Addr is the server's host:port (submission, usually 587).
	Addr     string
	From     string
	User     string
	Password string
	// RootCAs verify the server's certificate (nil: the system roots).
	RootCAs *x509.CertPool
	// Timeout bounds one Send (default 30s).
	Timeout time.Duration
}

// New makes a Client.
func New(o Options) (*Client, error) {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("SMTP server %q: %w", o.Addr, err)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return &Client{addr: o.Addr, host: host, from: o.From, user: o.User, password: o.Password, roots: o.RootCAs, timeout: o.Timeout}, nil
}

// Message is one plain-text mail.
type Message struct {
	To      []string
	Subject string
	Body    string
}

// Send delivers m: STARTTLS (the certificate verified for the server's
// name), AUTH PLAIN, then the message. Its errors name the server and
// the step, never the password.
func (c *Client) Send(ctx context.Context, m Message) error {
	if len(m.To) == 0 {
		return errors.New("send mail: no recipients")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("send mail: connect to %s: %w", c.addr, err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	// The deadline bounds each step; closing on ctx ends a step early.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sc, err := smtp.NewClientStartTLS(conn, &tls.Config{ServerName: c.host, RootCAs: c.roots, MinVersion: tls.VersionTLS12})
	if err != nil {
		conn.Close()
		return fmt.Errorf("send mail: STARTTLS with %s: %w", c.addr, err)
	}
	defer sc.Close()
	if !sc.SupportsAuth(sasl.Plain) {
		return fmt.Errorf("send mail: %s offers no AUTH PLAIN after STARTTLS", c.addr)
	}
	if err := sc.Auth(sasl.NewPlainClient("", c.user, c.password)); err != nil {
		return fmt.Errorf("send mail: authenticate to %s as %s: %w", c.addr, c.user, err)
	}
	if err := sc.SendMail(c.from, m.To, bytes.NewReader(c.compose(m, time.Now()))); err != nil {
		return fmt.Errorf("send mail to %s through %s: %w", strings.Join(m.To, ", "), c.addr, err)
	}
	sc.Quit() // the server has taken the message (DATA was answered 250); a failed QUIT loses nothing
	return nil
}

// compose renders m as an RFC 5322 message, UTF-8 text, quoted-printable
// so any line length and character survives every relay.
func (c *Client) compose(m Message, now time.Time) []byte {
	var b bytes.Buffer
	id := make([]byte, 12)
	rand.Read(id)
	domain := c.from[strings.LastIndexByte(c.from, '@')+1:]
	fmt.Fprintf(&b, "From: %s\r\n", c.from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(m.To, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id), domain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\nAuto-Submitted: auto-generated\r\n\r\n")
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")))
	w.Close()
	return b.Bytes()
}
