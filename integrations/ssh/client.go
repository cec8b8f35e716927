package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// Client runs commands on targets behind one bastion. It is safe for
// concurrent use. Create one per job and Close it when the job ends.
type Client struct {
	cfg      Config
	keys     *hostKeys
	auth     xssh.AuthMethod
	agent    io.Closer
	bastAddr string

	// bastLock serializes (re)connecting the bastion. It is a channel so
	// that waiting for another goroutine's reconnect honours the context.
	bastLock   chan struct{}
	bast       *conn
	bastLost   error // why the previous bastion connection ended, if it did
	bastFailed error // sticky: a (re)connect failed, the bastion is down for this job

	mu      sync.Mutex
	closed  bool
	targets map[string]*targetSlot
}

// targetSlot holds the cached connection to one target; its lock lets
// concurrent callers for the same target share one handshake.
type targetSlot struct {
	lock chan struct{}
	c    *conn
}

// conn is one SSH connection plus the bookkeeping to know when and why it
// ended.
type conn struct {
	*xssh.Client
	name string
	done chan struct{} // closed when the transport is gone

	failed atomic.Bool
	mu     sync.Mutex
	reason error // why we closed it ourselves (keepalive), if we did
}

// New validates cfg and prepares credentials. It does not connect: the
// bastion is dialed by the first call that needs it.
func New(cfg Config) (*Client, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	keys, err := newHostKeys(cfg.KnownHosts)
	if err != nil {
		return nil, err
	}
	auth, closer, err := authMethod(cfg.Auth)
	if err != nil {
		return nil, err
	}
	return &Client{
		cfg:      cfg,
		keys:     keys,
		auth:     auth,
		agent:    closer,
		bastAddr: cfg.Bastion.Addr(),
		bastLock: make(chan struct{}, 1),
		targets:  map[string]*targetSlot{},
	}, nil
}

// Close tears down every connection. Commands still running fail.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	targets := c.targets
	c.targets = nil
	c.mu.Unlock()
	for _, s := range targets {
		if s.c != nil {
			s.c.Close()
		}
	}
	// Wait for an in-progress bastion dial so it cannot leak a connection.
	c.bastLock <- struct{}{}
	c.mu.Lock()
	b := c.bast
	c.bast = nil
	c.mu.Unlock()
	if b != nil {
		b.Close()
	}
	<-c.bastLock
	if c.agent != nil {
		c.agent.Close()
	}
	return nil
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func lock(ctx context.Context, l chan struct{}) error {
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (cn *conn) alive() bool {
	// failed is checked too: done closes only once the transport's reader
	// has noticed the close, and a caller that just failed the connection
	// must not be handed it back in between.
	if cn.failed.Load() {
		return false
	}
	select {
	case <-cn.done:
		return false
	default:
		return true
	}
}

// fail closes the connection and remembers why, so that operations that
// break because of it can say so.
func (cn *conn) fail(reason error) {
	cn.mu.Lock()
	if cn.reason == nil {
		cn.reason = reason
	}
	cn.mu.Unlock()
	cn.failed.Store(true)
	cn.Close()
}

// lostError explains a dead connection, or returns nil if it is alive.
func (cn *conn) lostError() error {
	if cn.alive() {
		return nil
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	reason := cn.reason
	if reason == nil {
		reason = errors.New("connection closed by peer")
	}
	return &connLostError{host: cn.name, reason: reason}
}

// bastion returns a live bastion connection. A lost connection is
// re-established once; if that fails, the failure is remembered so the rest
// of the job fails fast with the same clear error instead of every host
// waiting out its own handshake timeout.
func (c *Client) bastion(ctx context.Context) (*conn, error) {
	if err := lock(ctx, c.bastLock); err != nil {
		return nil, err
	}
	defer func() { <-c.bastLock }()
	if c.isClosed() {
		return nil, ErrClosed
	}
	if c.bastFailed != nil {
		return nil, c.bastFailed
	}
	if c.bast != nil {
		if c.bast.alive() {
			return c.bast, nil
		}
		c.bastLost = c.bast.lostError()
		c.mu.Lock()
		c.bast = nil
		c.mu.Unlock()
	}
	cn, err := c.dialBastion(ctx)
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about the bastion.
			return nil, err
		}
		if c.bastLost != nil {
			err = fmt.Errorf("reconnect after %v: %w", c.bastLost, err)
		}
		e := newError(opConnect, bastionName, c.bastAddr, "", err)
		if isNetworkFailure(e.Kind) {
			e.Kind = KindBastionUnreachable
		}
		c.bastFailed = e
		return nil, e
	}
	c.mu.Lock()
	c.bast, c.bastLost = cn, nil
	c.mu.Unlock()
	return cn, nil
}

func isNetworkFailure(k Kind) bool {
	switch k {
	case KindConnRefused, KindTimeout, KindConnLost, KindOther:
		return true
	}
	return false
}

func (c *Client) dialBastion(ctx context.Context) (*conn, error) {
	hctx, cancel := context.WithTimeoutCause(ctx, c.cfg.HandshakeTimeout,
		&timeoutError{what: "connect and handshake", after: c.cfg.HandshakeTimeout})
	defer cancel()
	nc, err := c.cfg.Dial(hctx, "tcp", c.bastAddr)
	if err != nil {
		if cause := context.Cause(hctx); cause != nil && ctx.Err() == nil {
			return nil, cause
		}
		return nil, err
	}
	return c.handshake(hctx, nc, bastionName, c.bastAddr, c.cfg.Bastion.User)
}

// handshake runs the SSH client handshake on nc, bounded by ctx. nc may be
// a TCP connection or a channel through the bastion; the latter has no
// deadlines, so expiry is enforced by closing nc.
func (c *Client) handshake(ctx context.Context, nc net.Conn, name, addr, user string) (*conn, error) {
	cfg := &xssh.ClientConfig{
		User:              user,
		Auth:              []xssh.AuthMethod{c.auth},
		HostKeyCallback:   c.keys.callback(name),
		HostKeyAlgorithms: c.keys.algorithms(addr),
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	sc, chans, reqs, err := xssh.NewClientConn(nc, addr, cfg)
	if !stop() {
		if sc != nil {
			sc.Close()
		}
		return nil, context.Cause(ctx)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	cn := &conn{Client: xssh.NewClient(sc, chans, reqs), name: name, done: make(chan struct{})}
	go func() {
		cn.Wait()
		close(cn.done)
	}()
	if c.cfg.KeepaliveInterval > 0 {
		go cn.keepalive(c.cfg.KeepaliveInterval, c.cfg.KeepaliveMaxMissed)
	}
	return cn, nil
}

// keepalive detects peers (or paths) that died silently, which TCP alone
// may take many minutes to notice. Only one request is outstanding at a
// time; every interval that passes without its reply counts as a miss.
func (cn *conn) keepalive(interval time.Duration, maxMissed int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	replies := make(chan error, 1)
	pending, missed := false, 0
	for {
		select {
		case <-cn.done:
			return
		case err := <-replies:
			pending = false
			if err != nil {
				return // transport gone; Wait reports it
			}
			missed = 0
		case <-t.C:
			if pending {
				missed++
				if missed >= maxMissed {
					cn.fail(fmt.Errorf("%d keepalives unanswered (interval %s)", missed, interval))
					return
				}
				continue
			}
			pending = true
			go func() {
				// OpenSSH answers unknown global requests with a failure
				// reply; any reply proves the peer is alive.
				_, _, err := cn.SendRequest("keepalive@openssh.com", true, nil)
				replies <- err
			}()
		}
	}
}

// probe reports whether cn still answers, within d.
func (cn *conn) probe(d time.Duration) bool {
	if !cn.alive() {
		return false
	}
	res := make(chan error, 1)
	go func() {
		_, _, err := cn.SendRequest("keepalive@openssh.com", true, nil)
		res <- err
	}()
	select {
	case err := <-res:
		return err == nil
	case <-time.After(d):
		return false
	}
}

// target returns a connection to t, reusing one from earlier calls of this
// job when it is still alive.
func (c *Client) target(ctx context.Context, t Target) (*conn, error) {
	key := t.User + "@" + t.Address
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	slot := c.targets[key]
	if slot == nil {
		slot = &targetSlot{lock: make(chan struct{}, 1)}
		c.targets[key] = slot
	}
	c.mu.Unlock()

	if err := lock(ctx, slot.lock); err != nil {
		return nil, err
	}
	defer func() { <-slot.lock }()
	if slot.c != nil && slot.c.alive() {
		return slot.c, nil
	}
	start := time.Now()
	cn, err := c.dialTarget(ctx, t)
	if err != nil {
		err = newError(opConnect, t.display(), t.Address, c.bastAddr, err)
	}
	c.observe(opConnect, start, err)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cn.Close()
		return nil, ErrClosed
	}
	slot.c = cn
	c.mu.Unlock()
	return cn, nil
}

// observe reports one operation to Config.Observe.
func (c *Client) observe(op string, start time.Time, err error) {
	if c.cfg.Observe != nil {
		c.cfg.Observe(op, time.Since(start), err)
	}
}

// forget drops a cached target connection that turned out to be dead.
func (c *Client) forget(t Target, cn *conn) {
	cn.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.targets[t.User+"@"+t.Address]; s != nil && s.c == cn {
		s.c = nil
	}
}

func (c *Client) dialTarget(ctx context.Context, t Target) (*conn, error) {
	b, err := c.bastion(ctx)
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeoutCause(ctx, c.cfg.HandshakeTimeout,
		&timeoutError{what: "connect and handshake", after: c.cfg.HandshakeTimeout})
	defer cancel()
	nc, err := b.DialContext(hctx, "tcp", t.Address)
	if err != nil && hctx.Err() == nil && c.bastionBroken(b, err) {
		// The shared bastion connection died under us (not merely a
		// refusal to forward): take the one reconnect and try again.
		b.fail(fmt.Errorf("forwarding failed: %v", err))
		if b, err = c.bastion(ctx); err != nil {
			return nil, err
		}
		nc, err = b.DialContext(hctx, "tcp", t.Address)
	}
	if err != nil {
		if cause := context.Cause(hctx); cause != nil && ctx.Err() == nil {
			return nil, cause
		}
		return nil, fmt.Errorf("open forwarding channel: %w", err)
	}
	return c.handshake(hctx, nc, t.display(), t.Address, t.User)
}

// bastionBroken tells a dead bastion connection apart from the bastion
// declining to forward (which arrives as an OpenChannelError and leaves the
// connection usable for other hosts).
func (c *Client) bastionBroken(b *conn, err error) bool {
	var oce *xssh.OpenChannelError
	if errors.As(err, &oce) {
		return false
	}
	return !b.probe(c.cfg.HandshakeTimeout / 3)
}
