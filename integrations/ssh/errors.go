package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// Kind classifies failures so the bot can explain them to people and decide
// what is worth retrying.
type Kind int

const (
	KindOther              Kind = iota
	KindHostKeyMismatch         // the host presented a key other than the known one
	KindHostKeyUnknown          // known_hosts has no key for the host
	KindHostKeyRevoked          // the key is marked @revoked
	KindAuthFailed              // the host rejected our credentials
	KindConnRefused             // nothing listens on the port
	KindTimeout                 // a handshake, command or request ran out of time
	KindCanceled                // the caller gave up (context canceled)
	KindBastionUnreachable      // the bastion could not be (re)connected
	KindConnLost                // an established connection died (e.g. keepalives unanswered)
)

var kindNames = [...]string{
	KindOther:              "other",
	KindHostKeyMismatch:    "host key mismatch",
	KindHostKeyUnknown:     "unknown host key",
	KindHostKeyRevoked:     "revoked host key",
	KindAuthFailed:         "authentication failed",
	KindConnRefused:        "connection refused",
	KindTimeout:            "timeout",
	KindCanceled:           "canceled",
	KindBastionUnreachable: "bastion unreachable",
	KindConnLost:           "connection lost",
}

func (k Kind) String() string {
	if int(k) >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error records which host an operation failed on. The full chain (Error())
// is for logs; UserMessage turns it into one sentence for a Slack thread.
type Error struct {
	Op   string // what was being done: "connect", `run "uptime" on`, "copy /etc/x to", ...
	Host string // target name, or "bastion"
	Addr string // host:port that was dialed
	Via  string // bastion address when the host was reached through it
	Kind Kind
	Err  error
}

func (e *Error) Error() string {
	if e.Kind == KindBastionUnreachable && e.Host == bastionName {
		return fmt.Sprintf("bastion %s unreachable: %v", e.Addr, e.Err)
	}
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteByte(' ')
	b.WriteString(e.Host)
	if e.Addr != "" && e.Addr != e.Host {
		fmt.Fprintf(&b, " (%s)", e.Addr)
	}
	if e.Via != "" {
		fmt.Fprintf(&b, " via bastion %s", e.Via)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

const (
	bastionName = "bastion"
	opConnect   = "connect"
)

func newError(op, host, addr, via string, err error) *Error {
	return &Error{Op: op, Host: host, Addr: addr, Via: via, Kind: KindOf(err), Err: err}
}

// HostKeyError is returned when a host's key is not the one in known_hosts.
// It names the host and the key it presented so a person can compare the
// fingerprint with the one the host's console shows.
type HostKeyError struct {
	Host        string   // target name, or "bastion"
	Addr        string   // the address looked up in known_hosts
	KeyType     string   // type of the presented key, e.g. "ssh-ed25519"
	Fingerprint string   // SHA256:... of the presented key
	Known       []string // "ssh-ed25519 SHA256:... (known_hosts line 3)" for each key on record
	Revoked     bool
}

func (e *HostKeyError) Kind() Kind {
	switch {
	case e.Revoked:
		return KindHostKeyRevoked
	case len(e.Known) == 0:
		return KindHostKeyUnknown
	default:
		return KindHostKeyMismatch
	}
}

func (e *HostKeyError) Error() string {
	switch e.Kind() {
	case KindHostKeyRevoked:
		return fmt.Sprintf("revoked host key for %s (%s): %s %s is marked @revoked in known_hosts",
			e.Host, e.Addr, e.KeyType, e.Fingerprint)
	case KindHostKeyUnknown:
		return fmt.Sprintf("unknown host key for %s (%s): %s %s is not in known_hosts",
			e.Host, e.Addr, e.KeyType, e.Fingerprint)
	default:
		return fmt.Sprintf("host key mismatch for %s (%s): server presented %s %s, known_hosts has %s",
			e.Host, e.Addr, e.KeyType, e.Fingerprint, strings.Join(e.Known, ", "))
	}
}

// timeoutError is a deadline we imposed ourselves, kept distinct from the
// caller's own context deadline so messages can say which limit was hit.
type timeoutError struct {
	what  string // "handshake", "command"
	after time.Duration
}

func (e *timeoutError) Error() string   { return fmt.Sprintf("%s timed out after %s", e.what, e.after) }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// connLostError says why an established connection was torn down.
type connLostError struct {
	host   string
	reason error
}

func (e *connLostError) Error() string {
	return fmt.Sprintf("connection to %s lost: %v", e.host, e.reason)
}
func (e *connLostError) Unwrap() error { return e.reason }

// ErrClosed is returned by calls on a closed Client.
var ErrClosed = errors.New("ssh client closed")

// Unreached reports whether err means the target was never reached (the
// bastion or the target itself could not be connected to), so nothing ran
// there. Anything else, including a connection lost mid-command, may have
// left the target changed.
func Unreached(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Op == opConnect
}

// KindOf classifies err. The most specific classification in the chain wins,
// so a refused connection to the bastion reads as "bastion unreachable".
func KindOf(err error) Kind {
	if err == nil {
		return KindOther
	}
	var hk *HostKeyError
	if errors.As(err, &hk) {
		return hk.Kind()
	}
	if e := deepestError(err); e != nil && e.Kind != KindOther {
		return e.Kind
	}
	var lost *connLostError
	if errors.As(err, &lost) {
		return KindConnLost
	}
	if errors.Is(err, context.Canceled) {
		return KindCanceled
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return KindTimeout
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return KindConnRefused
	}
	var oce *xssh.OpenChannelError
	if errors.As(err, &oce) && oce.Reason == xssh.ConnectionFailed {
		msg := strings.ToLower(oce.Message)
		switch {
		case strings.Contains(msg, "refused"):
			return KindConnRefused
		case strings.Contains(msg, "timed out"):
			return KindTimeout
		}
	}
	if strings.Contains(err.Error(), "unable to authenticate") {
		return KindAuthFailed
	}
	return KindOther
}

// deepestError returns the innermost *Error in err's chain, which carries
// the most specific host and kind.
func deepestError(err error) *Error {
	var found *Error
	for err != nil {
		if e, ok := err.(*Error); ok {
			found = e
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if d := deepestError(e); d != nil {
					return d
				}
			}
			return found
		default:
			return found
		}
	}
	return found
}

// UserMessage turns err into one sentence suitable for a chat message. It
// never includes key material, only fingerprints.
func UserMessage(err error) string {
	if err == nil {
		return ""
	}
	var hk *HostKeyError
	if errors.As(err, &hk) {
		switch hk.Kind() {
		case KindHostKeyRevoked:
			return fmt.Sprintf("Refused to connect to %s: its host key %s is revoked in known_hosts.", hk.Host, hk.Fingerprint)
		case KindHostKeyUnknown:
			return fmt.Sprintf("Refused to connect to %s (%s): its host key %s is not in known_hosts, add it once you have verified it.", hk.Host, hk.Addr, hk.Fingerprint)
		default:
			return fmt.Sprintf("Refused to connect to %s (%s): its host key changed to %s, which may mean the host was rebuilt or someone is intercepting the connection; verify it before updating known_hosts.", hk.Host, hk.Addr, hk.Fingerprint)
		}
	}
	// Name the host where it actually went wrong: a rejected key while
	// connecting to web-1 was rejected by the bastion if that is where the
	// innermost error comes from.
	host, op := "the host", ""
	if d := deepestError(err); d != nil {
		op = d.Op
		switch {
		case d.Host == bastionName:
			host = "the bastion " + d.Addr
		case d.Addr != "" && d.Addr != d.Host:
			host = fmt.Sprintf("%s (%s)", d.Host, d.Addr)
		default:
			host = d.Host
		}
	}
	var te *timeoutError
	switch KindOf(err) {
	case KindBastionUnreachable:
		d := deepestError(err)
		return fmt.Sprintf("The bastion %s is unreachable (%s), so no host behind it could be contacted.", d.Addr, rootCause(err))
	case KindAuthFailed:
		return fmt.Sprintf("SSH login to %s was rejected; check that the bot's public key is in that user's authorized_keys.", host)
	case KindConnRefused:
		if url, ok := strings.CutPrefix(op, "GET "); ok {
			return fmt.Sprintf("Nothing accepted the connection for %s on %s (connection refused); the service may be down.",
				strings.TrimSuffix(url, " on"), host)
		}
		return fmt.Sprintf("%s refused the SSH connection; check that sshd is running and listening on that port.", capitalize(host))
	case KindTimeout:
		if errors.As(err, &te) && te.what == "command" {
			return fmt.Sprintf("The command on %s did not finish within %s and was stopped.", host, te.after)
		}
		return fmt.Sprintf("%s did not answer in time; the host or the network path to it may be down.", capitalize(host))
	case KindCanceled:
		return fmt.Sprintf("The operation on %s was canceled.", host)
	case KindConnLost:
		return fmt.Sprintf("The SSH connection to %s was lost (%s).", host, rootCause(err))
	}
	return fmt.Sprintf("SSH to %s failed: %s.", host, strings.TrimSuffix(rootCause(err), "."))
}

// rootCause is the innermost message: short enough for a chat line.
func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
