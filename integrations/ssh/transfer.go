package ssh

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// CopyFile writes data to path on target, replacing it atomically: the bytes
// go to a temporary file next to path, which is renamed only after the
// upload finished cleanly, so a service never reads a half-written file and
// an interrupted copy leaves the old one in place.
func (c *Client) CopyFile(ctx context.Context, target Target, path string, data []byte, mode fs.FileMode) error {
	tmp := path + ".mcloud-tmp"
	steps := []struct{ op, cmd string }{
		// An upload cut short also ends in EOF, and cat exits 0 then; but
		// only a complete upload comes back with an exit status, which is
		// why the rename is a separate step.
		{fmt.Sprintf("upload %d bytes to %s on", len(data), path), "cat > " + ShellQuote(tmp)},
		{fmt.Sprintf("install %s on", path), fmt.Sprintf("chmod %04o %s && mv -f %s %s",
			mode.Perm(), ShellQuote(tmp), ShellQuote(tmp), ShellQuote(path))},
	}
	for i, st := range steps {
		var stdin io.Reader = bytes.NewReader(data)
		cmd := st.cmd
		if i > 0 {
			stdin, cmd = nil, guardCommand(cmd)
		}
		res, err := c.run(ctx, target, cmd, stdin, st.op)
		if err != nil {
			return err
		}
		if res.ExitStatus != 0 {
			t, _ := c.cfg.normalizeTarget(target)
			return newError(st.op, t.display(), t.Address, "",
				fmt.Errorf("exit status %d: %s", res.ExitStatus, strings.TrimSpace(string(res.Stderr))))
		}
	}
	return nil
}

// ShellQuote quotes s for a POSIX shell.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// HTTPResponse is the outcome of HTTPGet.
type HTTPResponse struct {
	StatusCode int
	Header     http.Header
	Body       []byte // at most Config.MaxOutput bytes
	Truncated  bool
}

// HTTPGet fetches url as seen from target: the TCP connection to the URL's
// host:port is opened by the target's sshd (direct-tcpip over the target
// connection), so http://127.0.0.1:8080/health is the target's own
// loopback. This reaches health endpoints that are deliberately not exposed
// beyond the host. Redirects are followed through the same tunnel.
func (c *Client) HTTPGet(ctx context.Context, target Target, url string) (_ *HTTPResponse, err error) {
	defer func(start time.Time) { c.observe("http_get", start, err) }(time.Now())
	t, err := c.cfg.normalizeTarget(target)
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.commandContext(ctx)
	defer cancel()
	op := fmt.Sprintf("GET %s on", url)
	cn, err := c.target(ctx, t)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		// Proxy stays nil: a proxy from the bot's environment would
		// defeat the point of asking from the host itself.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return cn.DialContext(ctx, "tcp", addr)
		},
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := cn.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			host, _, _ := net.SplitHostPort(addr)
			tc := tls.Client(nc, tunnelTLSConfig(host))
			if err := tc.HandshakeContext(ctx); err != nil {
				nc.Close()
				return nil, err
			}
			return tc, nil
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, newError(op, t.display(), t.Address, "", err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = fmt.Errorf("%w (%v)", cause, err)
		}
		return nil, newError(op, t.display(), t.Address, "", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(c.cfg.MaxOutput)+1))
	if err != nil {
		return nil, newError(op, t.display(), t.Address, "", fmt.Errorf("read body: %w", err))
	}
	out := &HTTPResponse{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
	if len(body) > c.cfg.MaxOutput {
		out.Body, out.Truncated = body[:c.cfg.MaxOutput], true
	}
	return out, nil
}

// tunnelTLSConfig is the TLS configuration for an https URL fetched from a
// target. A service's own loopback endpoint (WSO2 products answer on
// https://127.0.0.1:9443 with a self-signed certificate by default) cannot
// be verified against any CA, and verifying it would prove nothing the SSH
// session has not: the TCP connection is opened by the target's sshd, whose
// host key was checked, to the target's own loopback, so the bytes never
// leave that machine outside the encrypted SSH channel. Any other host's
// certificate is verified as usual.
func tunnelTLSConfig(host string) *tls.Config {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if isLoopback(host) {
		cfg.InsecureSkipVerify = true
	}
	return cfg
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// DialViaBastion opens a TCP connection to addr from the bastion itself
// (direct-tcpip over the job's bastion connection, whose host key was
// checked), so what answers is what the customer's network sees, whether
// or not the bot could reach addr. No command runs on the bastion: it
// needs no curl.
func (c *Client) DialViaBastion(ctx context.Context, network, addr string) (_ net.Conn, err error) {
	defer func(start time.Time) { c.observe("dial_via_bastion", start, err) }(time.Now())
	b, err := c.bastion(ctx)
	if err != nil {
		return nil, err
	}
	nc, err := b.DialContext(ctx, "tcp", addr)
	var refused *xssh.OpenChannelError
	if errors.As(err, &refused) {
		// The bastion is fine, addr is not: say so the way a local dial
		// would, so callers tell it apart from an unreachable bastion.
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("from the bastion: %s", refused.Message)}
	}
	if err != nil {
		return nil, newError("dial "+addr+" from", bastionName, c.bastAddr, "", err)
	}
	return nc, nil
}
