package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// killGrace is how long a canceled command gets between SIGTERM and
// SIGKILL to clean up after itself.
const killGrace = 2 * time.Second

// Result is the outcome of one command on one target.
type Result struct {
	Target Target
	// Stdout and Stderr hold at most Config.MaxOutput bytes each; the
	// Truncated flags say whether more was produced (and discarded).
	Stdout, Stderr                   []byte
	StdoutTruncated, StderrTruncated bool
	// ExitStatus is the command's exit code, or -1 if it did not exit
	// normally (killed by a signal, connection lost, never started).
	ExitStatus int
	// Signal names the signal that killed the command ("TERM"), if any.
	Signal   string
	Duration time.Duration
	// Err is set when the command could not be run to completion. A
	// non-zero exit status alone is not an error.
	Err error
}

// OK reports whether the command ran and exited 0.
func (r Result) OK() bool { return r.Err == nil && r.ExitStatus == 0 }

// capBuffer keeps the first limit bytes written and counts the rest, so a
// chatty command can neither exhaust memory nor stall on a full pipe.
type capBuffer struct {
	mu        sync.Mutex
	buf       []byte
	limit     int
	truncated bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - len(b.buf); room < len(p) {
		b.truncated = true
		if room > 0 {
			b.buf = append(b.buf, p[:room]...)
		}
	} else {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

func (b *capBuffer) snapshot() ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...), b.truncated
}

// GuardName is $0 of the wrapper every Run command is executed in (see
// guardCommand); sshsandbox recognises commands by it.
const GuardName = "mcloud-guard"

// guardScript runs the command ($1) in the background with stdin from
// /dev/null, and watches the session's stdin, which the client keeps open
// for as long as it wants the command: on EOF (cancellation, timeout, or
// the connection to the bot dying) it sends SIGTERM, then SIGKILL, to the
// session's process group.
//
// This exists because the SSH "signal" request cannot be relied on:
// OpenSSH refuses it for root logins ("session signalling requires
// privilege separation") and older servers ignore it, while closing a
// non-pty channel leaves the command running. A pty would get it SIGHUP,
// but would merge stderr into stdout and mangle output.
const guardScript = `exec 3<&0
{ trap '' TERM; cat <&3 >/dev/null 2>&1; kill -s TERM 0; sleep 2; kill -s KILL 0; } >/dev/null 2>&1 &
w=$!
( eval "$1" ) 3<&- </dev/null &
wait $!
rc=$?
kill -s KILL $w 2>/dev/null
exit $rc`

// guardCommand wraps cmd so that it dies with its session (see guardScript).
func guardCommand(cmd string) string {
	return "exec /bin/sh -c " + ShellQuote(guardScript) + " " + GuardName + " " + ShellQuote(cmd)
}

// Run runs cmd on target through the bastion. The command is interpreted
// by /bin/sh on the target, with stdin from /dev/null. When ctx is done or
// Config.CommandTimeout passes, the remote command's process group is sent
// SIGTERM, then SIGKILL, and the session is closed; whatever output arrived
// is returned. The command also dies if the connection to the bot is lost,
// so nothing keeps running unobserved; start long jobs that must survive
// that with systemd-run or nohup.
func (c *Client) Run(ctx context.Context, target Target, cmd string) (Result, error) {
	return c.run(ctx, target, guardCommand(cmd), nil, fmt.Sprintf("run %q on", cmd))
}

// run executes the remote command line cmd as is. With stdin nil the
// session's stdin stays open until the command ends or is abandoned (see
// guardScript); otherwise stdin is sent followed by EOF.
func (c *Client) run(ctx context.Context, target Target, cmd string, stdin io.Reader, op string) (res Result, err error) {
	start := time.Now()
	defer func() { c.observe("run", start, err) }()
	res = Result{Target: target, ExitStatus: -1}
	fail := func(err error) (Result, error) {
		res.Duration = time.Since(start)
		res.Err = err
		return res, err
	}
	t, err := c.cfg.normalizeTarget(target)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := c.commandContext(ctx)
	defer cancel()

	cn, err := c.target(ctx, t)
	if err != nil {
		return fail(err)
	}
	sess, err := cn.NewSession()
	if err != nil {
		// A cached connection died since its last use, possibly with the
		// bastion under it before either noticed (the failure then looks
		// like a protocol error, not a closed connection): one fresh try,
		// which reports the bastion if that is what is gone.
		c.forget(t, cn)
		if cn, err = c.target(ctx, t); err != nil {
			return fail(err)
		}
		sess, err = cn.NewSession()
	}
	if err != nil {
		return fail(newError(op, t.display(), t.Address, "", fmt.Errorf("open session: %w", err)))
	}
	defer sess.Close()

	stdout := &capBuffer{limit: c.cfg.MaxOutput}
	stderr := &capBuffer{limit: c.cfg.MaxOutput}
	sess.Stdout, sess.Stderr = stdout, stderr
	var hold io.Closer = nopCloser{}
	if stdin != nil {
		sess.Stdin = stdin
	} else {
		w, err := sess.StdinPipe()
		if err != nil {
			return fail(newError(op, t.display(), t.Address, "", err))
		}
		hold = w
	}
	defer hold.Close()
	collect := func() {
		res.Stdout, res.StdoutTruncated = stdout.snapshot()
		res.Stderr, res.StderrTruncated = stderr.snapshot()
		res.Duration = time.Since(start)
	}

	if err := sess.Start(cmd); err != nil {
		return fail(newError(op, t.display(), t.Address, "", fmt.Errorf("start: %w", err)))
	}
	waitc := make(chan error, 1)
	go func() { waitc <- sess.Wait() }()

	var werr error
	select {
	case werr = <-waitc:
	case <-ctx.Done():
		hold.Close()
		stopRemote(sess, waitc)
		collect()
		res.Err = newError(op, t.display(), t.Address, "", context.Cause(ctx))
		return res, res.Err
	}
	collect()

	var exit *xssh.ExitError
	switch {
	case werr == nil:
		res.ExitStatus = 0
	case errors.As(werr, &exit):
		if exit.Signal() != "" {
			res.Signal = exit.Signal()
		} else {
			res.ExitStatus = exit.ExitStatus()
		}
	default:
		// No exit status: the connection (ours or the bastion's) went away.
		res.Err = newError(op, t.display(), t.Address, "", c.explainLoss(cn, werr))
		if !cn.alive() {
			c.forget(t, cn)
		}
	}
	if res.Signal != "" && res.Err == nil {
		res.Err = newError(op, t.display(), t.Address, "", fmt.Errorf("killed by signal %s", res.Signal))
	}
	return res, res.Err
}

// explainLoss replaces the bare error of a session that ended without an
// exit status by the reason its connection died, preferring the bastion's
// (a dead bastion takes every target connection with it). The connections
// notice their end a moment after the session does, hence the short waits.
func (c *Client) explainLoss(cn *conn, err error) error {
	c.mu.Lock()
	b := c.bast
	c.mu.Unlock()
	if b != nil {
		select {
		case <-b.done:
		case <-time.After(200 * time.Millisecond):
		}
		if lost := b.lostError(); lost != nil {
			return lost
		}
	}
	select {
	case <-cn.done:
	case <-time.After(200 * time.Millisecond):
	}
	if lost := cn.lostError(); lost != nil {
		return lost
	}
	return err
}

// stopRemote ends a command whose caller gave up. The guard has already
// seen stdin close; the signals cover servers that honour them and commands
// run without the guard, and closing the channel covers the rest.
func stopRemote(sess *xssh.Session, waitc <-chan error) {
	_ = sess.Signal(xssh.SIGTERM)
	select {
	case <-waitc:
		return
	case <-time.After(killGrace):
	}
	_ = sess.Signal(xssh.SIGKILL)
	sess.Close()
	select {
	case <-waitc:
	case <-time.After(killGrace):
		// The server never acknowledged; the connection's keepalive will
		// deal with it. Don't hold the caller any longer.
	}
}

func (c *Client) commandContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.cfg.CommandTimeout < 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, c.cfg.CommandTimeout,
		&timeoutError{what: "command", after: c.cfg.CommandTimeout})
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
