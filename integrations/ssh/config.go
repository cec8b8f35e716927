package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultHandshakeTimeout   = 15 * time.Second
	DefaultKeepaliveInterval  = 30 * time.Second
	DefaultKeepaliveMaxMissed = 3
	DefaultCommandTimeout     = 10 * time.Minute
	DefaultMaxOutput          = 64 << 10
	DefaultParallelism        = 10
)

// Bastion is the customer's jump host. Port is usually not 22.
type Bastion struct {
	Host string
	Port int // 0 means 22
	User string
}

// Addr is the bastion's host:port, as dialed and as looked up in known_hosts.
func (b Bastion) Addr() string {
	port := b.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(b.Host, strconv.Itoa(port))
}

// Target is a host behind the bastion.
type Target struct {
	// Name is what people call the host (e.g. "web-1"); it only appears in
	// messages and results. Empty means Address.
	Name string
	// Address is host:port as the bastion resolves and reaches it; it is
	// also the name the target's key is looked up under in known_hosts
	// ("10.0.1.5" for port 22, "[10.0.1.5]:2200" otherwise), as with ssh -J.
	// A missing port means 22.
	Address string
	// User to log in as on the target; empty means the bastion's user.
	User string
}

func (t Target) display() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Address
}

// Auth selects the credentials used for the bastion and every target.
// Key file and agent may be combined; keys are offered file first.
type Auth struct {
	// KeyFile is a private key in PEM or OpenSSH format.
	KeyFile string
	// Passphrase decrypts KeyFile when it is encrypted.
	Passphrase []byte
	// Agent offers the keys of the ssh-agent at AgentSocket, or at
	// $SSH_AUTH_SOCK when AgentSocket is empty.
	Agent       bool
	AgentSocket string
}

// Config describes how to reach one customer's hosts.
type Config struct {
	Bastion Bastion
	// KnownHosts holds OpenSSH known_hosts lines for the bastion and for
	// every target. There is deliberately no way to skip verification.
	KnownHosts []string
	Auth       Auth

	// HandshakeTimeout bounds connecting plus the SSH handshake, per hop.
	HandshakeTimeout time.Duration
	// KeepaliveInterval is how often keepalive@openssh.com is sent on every
	// connection; negative disables keepalives.
	KeepaliveInterval time.Duration
	// KeepaliveMaxMissed unanswered keepalives close the connection.
	KeepaliveMaxMissed int
	// CommandTimeout bounds each Run, CopyFile and HTTPGet, including the
	// time to connect; negative means only the caller's context applies.
	CommandTimeout time.Duration
	// MaxOutput caps stdout and stderr (each) kept per command, and the
	// body kept by HTTPGet.
	MaxOutput int
	// Parallelism bounds how many targets RunAll and ForEach work on at once.
	Parallelism int

	// Dial opens the TCP connection to the bastion. Nil means a plain
	// net.Dialer; tests and sandboxes may substitute their own.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Observe, when set, hears of each connect (to a host, through the
	// bastion, including the bastion's own handshake when it had none),
	// each command ("run") and each health check ("http_get"), with how
	// long it took and its error. A command that exits non-zero ran fine.
	Observe func(op string, took time.Duration, err error)
}

func (c *Config) setDefaults() error {
	if c.Bastion.Host == "" {
		return errors.New("ssh config: bastion host is empty")
	}
	if c.Bastion.Port < 0 || c.Bastion.Port > 65535 {
		return fmt.Errorf("ssh config: bastion port %d out of range", c.Bastion.Port)
	}
	if c.Bastion.User == "" {
		return errors.New("ssh config: bastion user is empty")
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.KeepaliveInterval == 0 {
		c.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if c.KeepaliveMaxMissed <= 0 {
		c.KeepaliveMaxMissed = DefaultKeepaliveMaxMissed
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = DefaultCommandTimeout
	}
	if c.MaxOutput <= 0 {
		c.MaxOutput = DefaultMaxOutput
	}
	if c.Parallelism <= 0 {
		c.Parallelism = DefaultParallelism
	}
	if c.Dial == nil {
		var d net.Dialer
		c.Dial = d.DialContext
	}
	return nil
}

// normalizeTarget fills the defaults a Target may leave out.
func (c *Config) normalizeTarget(t Target) (Target, error) {
	if t.Address == "" {
		return t, fmt.Errorf("target %q has no address", t.Name)
	}
	if _, _, err := net.SplitHostPort(t.Address); err != nil {
		// Accept a bare host (or bare IPv6 literal) and mean port 22.
		t.Address = net.JoinHostPort(strings.Trim(t.Address, "[]"), "22")
	}
	if t.User == "" {
		t.User = c.Bastion.User
	}
	return t, nil
}
