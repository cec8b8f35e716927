package sshsandbox

import (
	"fmt"
	"io"
	"net"
)

// Machines launched while the sandbox runs: the hosts and databases an
// emulated cloud starts (a DR rebuild's instances, its restored
// databases), so that checks reaching them through the bastion find
// something answering.

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
