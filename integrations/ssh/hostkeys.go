package ssh

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeys verifies host keys against the configured known_hosts lines.
type hostKeys struct {
	check xssh.HostKeyCallback
	// probe is a key no host has; asking the database about it reveals
	// which keys are on record for an address (see algorithms).
	probe xssh.PublicKey
}

func newHostKeys(lines []string) (*hostKeys, error) {
	if len(lines) == 0 {
		return nil, errors.New("ssh config: no known_hosts lines; host keys must be verifiable")
	}
	// knownhosts only reads files. The temporary file holds public data
	// only and lives for the duration of this call.
	f, err := os.CreateTemp("", "mcloud-known_hosts-*")
	if err != nil {
		return nil, fmt.Errorf("stage known_hosts: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.WriteString(strings.Join(lines, "\n") + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("stage known_hosts: %w", werr)
	}
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		// Parse errors name the temp file; point at the line instead.
		return nil, fmt.Errorf("ssh config: known_hosts: %s", strings.ReplaceAll(err.Error(), f.Name()+":", "line "))
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	probe, err := xssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return &hostKeys{check: cb, probe: probe}, nil
}

var zeroTCPAddr = &net.TCPAddr{IP: net.IPv4zero}

// known returns the keys on record for addr.
func (h *hostKeys) known(addr string) []knownhosts.KnownKey {
	var ke *knownhosts.KeyError
	if err := h.check(addr, zeroTCPAddr, h.probe); errors.As(err, &ke) {
		return ke.Want
	}
	return nil
}

// algorithms returns the host key algorithms to offer for addr. Putting
// the algorithms of keys we have on record first avoids a spurious mismatch
// when a host has several keys and would otherwise pick one we don't know
// (OpenSSH's client does the same). The rest still follow, so a host whose
// key type really changed yields a mismatch naming its new key rather than
// an opaque "no common algorithm". Nil means the library default.
func (h *hostKeys) algorithms(addr string) []string {
	known := h.known(addr)
	if len(known) == 0 {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			algos = append(algos, a)
		}
	}
	for _, k := range known {
		for _, a := range algorithmsFor(k.Key.Type()) {
			add(a)
		}
	}
	for _, a := range xssh.SupportedAlgorithms().HostKeys {
		add(a)
	}
	return algos
}

func algorithmsFor(keyType string) []string {
	if keyType == xssh.KeyAlgoRSA {
		return []string{xssh.KeyAlgoRSASHA512, xssh.KeyAlgoRSASHA256, xssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// callback returns a HostKeyCallback that reports failures for display
// name host as *HostKeyError.
func (h *hostKeys) callback(host string) xssh.HostKeyCallback {
	return func(addr string, remote net.Addr, key xssh.PublicKey) error {
		err := h.check(addr, remote, key)
		if err == nil {
			return nil
		}
		hk := &HostKeyError{
			Host:        host,
			Addr:        addr,
			KeyType:     key.Type(),
			Fingerprint: xssh.FingerprintSHA256(key),
		}
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			hk.Revoked = true
		case errors.As(err, &ke):
			for _, w := range ke.Want {
				hk.Known = append(hk.Known, fmt.Sprintf("%s %s (known_hosts line %d)",
					w.Key.Type(), xssh.FingerprintSHA256(w.Key), w.Line))
			}
		default:
			return fmt.Errorf("verify host key of %s (%s): %w", host, addr, err)
		}
		return hk
	}
}

// KnownHostsLine pins key, written "<type> <base64>" as in the first two
// fields of a host's /etc/ssh/ssh_host_*_key.pub, for addr (host, or
// host:port), in the form Config.KnownHosts takes. It fails on a key that
// does not parse, so a typo is caught before any connection is attempted.
func KnownHostsLine(addr, key string) (string, error) {
	pub, _, _, _, err := xssh.ParseAuthorizedKey([]byte(key))
	if err != nil {
		return "", fmt.Errorf("parse host key for %s: %w", addr, err)
	}
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, pub), nil
}
