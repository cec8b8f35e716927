// Package sshsandbox is an in-process stand-in for a customer environment,
// for the bot's demo mode and for tests: a bastion SSH server on a real
// loopback port that forwards direct-tcpip channels to in-process hosts (no
// TCP, no real machines), each with its own host key and a small scripted
// command set. The ssh package's Client talks to it unmodified: the
// sandbox only supplies a Config pointing at it.
//
// Host commands understood by default: hostname, echo, true, false, exit,
// sleep, cat (with > redirection for uploads), chmod, mv, rm,
// systemctl start|stop|restart|status|is-active, apply-patch FILE,
// healthcheck, curl URL; chained with && || ;. Everything else exits 127.
// HostSpec.Commands adds or overrides commands per host.
package sshsandbox

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	mssh "github.com/mcloud/mcloud/integrations/ssh"
)

// CommandFunc implements one host command. It returns the exit status.
// ctx ends when the client cancels (signal, stdin closed, channel closed).
type CommandFunc func(ctx context.Context, h *Host, args []string, stdin io.Reader, stdout, stderr io.Writer) int

// HostSpec scripts one host.
type HostSpec struct {
	Name     string // what `hostname` prints
	Address  string // host:port the bastion forwards to; default Name+".sandbox:22"
	Services []string
	// Unhealthy makes the health endpoint (and healthcheck) fail. They
	// also fail while any of Services is stopped, as a real one would.
	Unhealthy bool
	// FailApply makes apply-patch fail.
	FailApply bool
	// HTTP serves direct-tcpip connections to 127.0.0.1/localhost:HTTPPort
	// on this host (default: HealthPath answering from the health state).
	HTTP       http.Handler
	HTTPPort   int    // default 8080
	HealthPath string // default /health
	// TLS serves HTTPPort over TLS with a self-signed certificate, as
	// products like WSO2 do on their management port. The sandbox's own
	// curl speaks plain HTTP only.
	TLS      bool
	Commands map[string]CommandFunc
}

// Options configures Start.
type Options struct {
	Hosts []HostSpec
	// User, when set, is the only login name accepted.
	User string
	// AuthorizedKeys are the client keys accepted. When empty, a key is
	// generated and written to KeyDir (which must then be set).
	AuthorizedKeys []xssh.PublicKey
	KeyDir         string
	// Listen is the bastion's listen address; default 127.0.0.1:0.
	Listen string
}

// Sandbox is a running bastion with its hosts.
type Sandbox struct {
	BastionHost string
	BastionPort int
	// KeyPath is the generated client key, if Options.AuthorizedKeys was
	// empty.
	KeyPath string

	user       string
	authorized map[string]bool
	bastionKey xssh.Signer
	hosts      []*Host
	byAddr     map[string]*Host
	ln         net.Listener

	mu        sync.Mutex // guards hosts and byAddr too, since AddHost
	conns     map[io.Closer]struct{}
	endpoints map[string]bool // see AddEndpoint
	closed    bool
	wg        sync.WaitGroup
}

// Start starts the sandbox.
func Start(opts Options) (*Sandbox, error) {
	s := &Sandbox{
		user:       opts.User,
		authorized: map[string]bool{},
		byAddr:     map[string]*Host{},
		conns:      map[io.Closer]struct{}{},
	}
	for _, k := range opts.AuthorizedKeys {
		s.authorized[string(k.Marshal())] = true
	}
	if len(opts.AuthorizedKeys) == 0 {
		if opts.KeyDir == "" {
			return nil, errors.New("sshsandbox: need AuthorizedKeys or a KeyDir for a generated key")
		}
		signer, pemBytes, err := newKey("sandbox-client")
		if err != nil {
			return nil, err
		}
		s.KeyPath = filepath.Join(opts.KeyDir, "sandbox_id_ed25519")
		if err := os.WriteFile(s.KeyPath, pemBytes, 0o600); err != nil {
			return nil, err
		}
		s.authorized[string(signer.PublicKey().Marshal())] = true
	}
	var err error
	if s.bastionKey, _, err = newKey("sandbox-bastion"); err != nil {
		return nil, err
	}
	for _, spec := range opts.Hosts {
		h, err := newHost(s, spec)
		if err != nil {
			return nil, err
		}
		if s.byAddr[h.Address] != nil {
			return nil, fmt.Errorf("sshsandbox: duplicate host address %s", h.Address)
		}
		s.hosts = append(s.hosts, h)
		s.byAddr[h.Address] = h
	}
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if s.ln, err = net.Listen("tcp", listen); err != nil {
		return nil, err
	}
	addr := s.ln.Addr().(*net.TCPAddr)
	s.BastionHost, s.BastionPort = addr.IP.String(), addr.Port
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// BastionAddr is the bastion's host:port.
func (s *Sandbox) BastionAddr() string {
	return net.JoinHostPort(s.BastionHost, strconv.Itoa(s.BastionPort))
}

// KnownHosts returns known_hosts lines for the bastion and every host.
func (s *Sandbox) KnownHosts() []string {
	lines := []string{knownhosts.Line([]string{knownhosts.Normalize(s.BastionAddr())}, s.bastionKey.PublicKey())}
	for _, h := range s.hostList() {
		lines = append(lines, h.KnownHostsLine())
	}
	return lines
}

// AddHost starts another host behind the running bastion, as a machine
// built after the sandbox started (by the AWS emulator's stacks). A host
// with the same name or at the same address is replaced, as a rebuilt
// machine would be: the new one has a new host key, a machine
// re-provisioned at a new IP leaves nothing at the old one, and the old
// one's SSH sessions end.
func (s *Sandbox) AddHost(spec HostSpec) (*Host, error) {
	h, err := newHost(s, spec)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		h.close()
		return nil, errors.New("sshsandbox: closed")
	}
	var old []*Host
	kept := s.hosts[:0:0]
	for _, o := range s.hosts {
		if o.Name == h.Name || o.Address == h.Address {
			old = append(old, o)
			if s.byAddr[o.Address] == o {
				delete(s.byAddr, o.Address)
			}
			continue
		}
		kept = append(kept, o)
	}
	s.hosts = append(kept, h)
	s.byAddr[h.Address] = h
	s.mu.Unlock()
	for _, o := range old {
		o.close()
	}
	return h, nil
}

func (s *Sandbox) hostList() []*Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Host(nil), s.hosts...)
}

func (s *Sandbox) hostAt(addr string) *Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byAddr[addr]
}

// BastionKey is the bastion's public host key, for callers that pin it
// under another name than BastionAddr (e.g. the configured bastion's).
func (s *Sandbox) BastionKey() xssh.PublicKey { return s.bastionKey.PublicKey() }

// Config returns a client configuration for the sandbox, using the
// generated key (if any) and user.
func (s *Sandbox) Config(user string) mssh.Config {
	return mssh.Config{
		Bastion:    mssh.Bastion{Host: s.BastionHost, Port: s.BastionPort, User: user},
		KnownHosts: s.KnownHosts(),
		Auth:       mssh.Auth{KeyFile: s.KeyPath},
	}
}

// Targets lists the hosts as client targets.
func (s *Sandbox) Targets() []mssh.Target {
	var ts []mssh.Target
	for _, h := range s.hostList() {
		ts = append(ts, mssh.Target{Name: h.Name, Address: h.Address})
	}
	return ts
}

// Host returns the host called name, or nil.
func (s *Sandbox) Host(name string) *Host {
	for _, h := range s.hostList() {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Close stops the bastion and drops every connection.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	hosts := s.hosts
	s.mu.Unlock()
	for _, h := range hosts {
		h.close()
	}
	s.wg.Wait()
	return err
}

func (s *Sandbox) track(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Sandbox) untrack(c io.Closer) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Sandbox) serverConfig(hostKey xssh.Signer) *xssh.ServerConfig {
	cfg := &xssh.ServerConfig{
		PublicKeyCallback: func(md xssh.ConnMetadata, key xssh.PublicKey) (*xssh.Permissions, error) {
			if s.user != "" && md.User() != s.user {
				return nil, fmt.Errorf("user %q not allowed", md.User())
			}
			if !s.authorized[string(key.Marshal())] {
				return nil, errors.New("key not authorized")
			}
			return &xssh.Permissions{}, nil
		},
	}
	cfg.AddHostKey(hostKey)
	return cfg
}

func (s *Sandbox) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(nc) {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(nc)
			s.serveBastion(nc)
		}()
	}
}

// serveBastion is the jump host: it forwards to known host addresses and
// refuses everything else, as a locked-down bastion would.
func (s *Sandbox) serveBastion(nc net.Conn) {
	defer nc.Close()
	// Handshake deadline so a silent client cannot pin a goroutine.
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	sc, chans, reqs, err := xssh.NewServerConn(nc, s.serverConfig(s.bastionKey))
	if err != nil {
		return
	}
	nc.SetDeadline(time.Time{})
	defer sc.Close()
	go xssh.DiscardRequests(reqs) // answers keepalives (with "failure", like OpenSSH)
	for nch := range chans {
		if nch.ChannelType() != "direct-tcpip" {
			nch.Reject(xssh.Prohibited, "this bastion only forwards")
			continue
		}
		var req directTCPIP
		if err := xssh.Unmarshal(nch.ExtraData(), &req); err != nil {
			nch.Reject(xssh.ConnectionFailed, "bad request")
			continue
		}
		serve := s.forward(net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port))))
		if serve == nil {
			nch.Reject(xssh.ConnectionFailed, "Connection refused")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		go xssh.DiscardRequests(creqs)
		conn := &chanConn{Channel: ch}
		if !s.track(conn) {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(conn)
			serve(conn)
		}()
	}
}

// directTCPIP is the RFC 4254 7.2 payload.
type directTCPIP struct {
	Host     string
	Port     uint32
	OrigHost string
	OrigPort uint32
}

// chanConn makes an SSH channel usable where a net.Conn is expected.
type chanConn struct {
	xssh.Channel
}

type sandboxAddr struct{}

func (sandboxAddr) Network() string { return "sandbox" }
func (sandboxAddr) String() string  { return "sandbox" }

func (c *chanConn) LocalAddr() net.Addr                { return sandboxAddr{} }
func (c *chanConn) RemoteAddr() net.Addr               { return sandboxAddr{} }
func (c *chanConn) SetDeadline(t time.Time) error      { return nil }
func (c *chanConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *chanConn) SetWriteDeadline(t time.Time) error { return nil }

func newKey(comment string) (xssh.Signer, []byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := xssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, nil, err
	}
	signer, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return signer, pem.EncodeToMemory(block), nil
}
