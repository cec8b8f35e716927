package sshsandbox

import (
	"context"
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
	"sort"
	"strings"
	"sync"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Host is one scripted in-process host. Its state can be inspected and
// changed while the sandbox runs.
type Host struct {
	Name    string
	Address string

	sb       *Sandbox
	spec     HostSpec
	keyMu    sync.Mutex
	key      xssh.Signer // changed by Rekey
	httpSrv  *http.Server
	httpLn   *chanListener
	httpPort int

	mu        sync.Mutex
	services  map[string]bool // name -> active
	files     map[string]hostFile
	applied   []string
	unhealthy bool
	log       []string
	conns     map[net.Conn]struct{} // live SSH connections, ended by close
	closed    bool
}

type hostFile struct {
	data []byte
	mode uint32
}

func newHost(sb *Sandbox, spec HostSpec) (*Host, error) {
	if spec.Name == "" {
		return nil, errors.New("sshsandbox: host without a name")
	}
	h := &Host{
		Name:      spec.Name,
		Address:   spec.Address,
		sb:        sb,
		spec:      spec,
		services:  map[string]bool{},
		files:     map[string]hostFile{},
		unhealthy: spec.Unhealthy,
		httpPort:  spec.HTTPPort,
	}
	if h.Address == "" {
		h.Address = spec.Name + ".sandbox:22"
	}
	if _, _, err := net.SplitHostPort(h.Address); err != nil {
		h.Address = net.JoinHostPort(h.Address, "22")
	}
	if h.httpPort == 0 {
		h.httpPort = 8080
	}
	if h.spec.HealthPath == "" {
		h.spec.HealthPath = "/health"
	}
	for _, svc := range spec.Services {
		h.services[svc] = true
	}
	var err error
	if h.key, _, err = newKey("sandbox-" + spec.Name); err != nil {
		return nil, err
	}
	handler := spec.HTTP
	if handler == nil {
		handler = http.HandlerFunc(h.serveHealth)
	}
	h.httpLn = newChanListener()
	h.httpSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	var ln net.Listener = h.httpLn
	if spec.TLS {
		cert, err := selfSignedCert()
		if err != nil {
			return nil, err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	go h.httpSrv.Serve(ln)
	return h, nil
}

// KnownHostsLine is this host's known_hosts entry.
func (h *Host) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(h.Address)}, h.hostKey().PublicKey())
}

// AuthorizedKey is the host key this host presents, as an authorized_keys
// line (what cloud-init prints to the console).
func (h *Host) AuthorizedKey() string {
	return strings.TrimSpace(string(xssh.MarshalAuthorizedKey(h.hostKey().PublicKey())))
}

// Rekey gives the host a new host key, as a machine swapped behind its
// address would have; connections from then on see the new one.
func (h *Host) Rekey() error {
	k, _, err := newKey("sandbox-" + h.Name)
	if err != nil {
		return err
	}
	h.keyMu.Lock()
	h.key = k
	h.keyMu.Unlock()
	return nil
}

func (h *Host) hostKey() xssh.Signer {
	h.keyMu.Lock()
	defer h.keyMu.Unlock()
	return h.key
}

// SetHealthy changes what the health endpoint and healthcheck report.
func (h *Host) SetHealthy(ok bool) {
	h.mu.Lock()
	h.unhealthy = !ok
	h.mu.Unlock()
}

// ServiceActive reports whether the named service is running.
func (h *Host) ServiceActive(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.services[name]
}

// File returns a file's content as written by a client.
func (h *Host) File(path string) ([]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.files[path]
	return append([]byte(nil), f.data...), ok
}

// FileMode returns the permission bits of a file set by chmod.
func (h *Host) FileMode(path string) (uint32, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.files[path]
	return f.mode, ok
}

// Applied lists the patch files apply-patch succeeded on, in order.
func (h *Host) Applied() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.applied...)
}

// Log lists the command lines clients ran on this host, in order.
func (h *Host) Log() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.log...)
}

// Services lists known services, sorted.
func (h *Host) Services() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var names []string
	for n := range h.services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (h *Host) healthy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.unhealthy {
		return false
	}
	for _, active := range h.services {
		if !active {
			return false
		}
	}
	return true
}

func (h *Host) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != h.spec.HealthPath {
		http.NotFound(w, r)
		return
	}
	if !h.healthy() {
		http.Error(w, "unhealthy", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

// close stops the host as a replaced machine stops: its health endpoint
// and every SSH connection to it end.
func (h *Host) close() {
	h.httpSrv.Close()
	h.mu.Lock()
	h.closed = true
	conns := h.conns
	h.conns = nil
	h.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// serveSSH runs the host's SSH server on a channel forwarded by the bastion.
func (h *Host) serveSSH(nc net.Conn) {
	defer nc.Close()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	if h.conns == nil {
		h.conns = map[net.Conn]struct{}{}
	}
	h.conns[nc] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, nc)
		h.mu.Unlock()
	}()
	sc, chans, reqs, err := xssh.NewServerConn(nc, h.sb.serverConfig(h.hostKey()))
	if err != nil {
		return
	}
	defer sc.Close()
	go xssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.serveSession(ch, creqs)
			}()
		case "direct-tcpip":
			var req directTCPIP
			if err := xssh.Unmarshal(nch.ExtraData(), &req); err != nil {
				nch.Reject(xssh.ConnectionFailed, "bad request")
				continue
			}
			local := req.Host == "127.0.0.1" || req.Host == "localhost" || req.Host == "::1"
			if !local || int(req.Port) != h.httpPort {
				nch.Reject(xssh.ConnectionFailed, "Connection refused")
				continue
			}
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			go xssh.DiscardRequests(creqs)
			if !h.httpLn.push(&chanConn{Channel: ch}) {
				ch.Close()
			}
		default:
			nch.Reject(xssh.UnknownChannelType, "unsupported channel type")
		}
	}
}

// serveSession handles one session channel: a single exec, as the client
// package uses it.
func (h *Host) serveSession(ch xssh.Channel, reqs <-chan *xssh.Request) {
	defer ch.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	started := false
	done := make(chan struct{})
	var status int
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				// Channel closed by the client: abandon the command.
				cancel(errors.New("channel closed"))
				if started {
					<-done
				}
				return
			}
			switch req.Type {
			case "exec":
				if started {
					req.Reply(false, nil)
					continue
				}
				var p struct{ Command string }
				if err := xssh.Unmarshal(req.Payload, &p); err != nil {
					req.Reply(false, nil)
					continue
				}
				req.Reply(true, nil)
				started = true
				go func() {
					defer close(done)
					status = h.exec(ctx, cancel, p.Command, ch)
				}()
			case "signal":
				var p struct{ Signal string }
				xssh.Unmarshal(req.Payload, &p)
				cancel(signalError(p.Signal))
				if req.WantReply {
					req.Reply(true, nil)
				}
			case "env":
				req.Reply(true, nil)
			default:
				if req.WantReply {
					req.Reply(false, nil)
				}
			}
		case <-done:
			if sig, ok := context.Cause(ctx).(signalError); ok && ctx.Err() != nil {
				ch.SendRequest("exit-signal", false, xssh.Marshal(struct {
					Signal     string
					CoreDumped bool
					Error      string
					Lang       string
				}{Signal: string(sig)}))
			} else {
				ch.SendRequest("exit-status", false, xssh.Marshal(struct{ Status uint32 }{uint32(status)}))
			}
			ch.CloseWrite()
			return
		}
	}
}

type signalError string

func (s signalError) Error() string { return "signal " + string(s) }

// chanListener hands forwarded channels to an http.Server.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return sandboxAddr{} }

// selfSignedCert makes a certificate for 127.0.0.1 and localhost that no CA
// vouches for, like a freshly installed product's.
func selfSignedCert() (tls.Certificate, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, nil
}
