package sshsandbox

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	xssh "golang.org/x/crypto/ssh"
)

// Machines launched while the sandbox runs: the hosts and databases an
// emulated cloud starts (a DR rebuild's instances, its restored
// databases), so that checks reaching them through the bastion find
// something answering.

// AddHost starts another host behind the bastion and returns it; its
// host key is new, as a freshly launched machine's is.
func (s *Sandbox) AddHost(spec HostSpec) (*Host, error) {
	h, err := newHost(s, spec)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		h.close()
		return nil, errors.New("sshsandbox: closed")
	}
	if s.byAddr[h.Address] != nil || s.endpoints[h.Address] {
		h.close()
		return nil, fmt.Errorf("sshsandbox: duplicate host address %s", h.Address)
	}
	s.hosts = append(s.hosts, h)
	s.byAddr[h.Address] = h
	return h, nil
}

// AddEndpoint makes the bastion accept forwarded connections to addr
// (host:port) and hold them until the client closes them, as a database
// port does for a check that only connects.
func (s *Sandbox) AddEndpoint(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("sshsandbox: endpoint %q: %w", addr, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endpoints == nil {
		s.endpoints = map[string]bool{}
	}
	s.endpoints[addr] = true
	return nil
}

// HostKeyText is the host's public key as "<type> <base64>", as a
// console output or a host_key setting shows it.
func (h *Host) HostKeyText() string {
	return strings.TrimSpace(string(xssh.MarshalAuthorizedKey(h.key.PublicKey())))
}

// forward is what the bastion does with a forwarded connection to addr:
// nil when nothing answers there.
func (s *Sandbox) forward(addr string) func(net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.byAddr[addr]; h != nil {
		return h.serveSSH
	}
	if s.endpoints[addr] {
		return func(c net.Conn) {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}
	return nil
}
