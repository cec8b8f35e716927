// Package httpguard keeps unauthenticated clients from spending the
// server's memory, connections and time: an endpoint that must read a
// body before it can verify it (Slack's signed requests, alert webhooks)
// first checks what is cheap to check (the headers), then reads the body
// with a hard size limit, a deadline, and a bound on how many bodies are
// read at once. A client that fails is refused and its connection closed
// without the rest of its body being read.
package httpguard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Defaults for a Guard's zero fields.
const (
	DefaultMaxBody     = 1 << 20
	DefaultReaders     = 16
	DefaultBodyTimeout = 5 * time.Second
)

// Guard reads request bodies for the handlers it wraps. It is safe for
// concurrent use; share one across the endpoints that should share the
// bound on concurrent reads.
type Guard struct {
	maxBody     int64
	bodyTimeout time.Duration
	readers     chan struct{}
	log         *slog.Logger
}

// Options tune a Guard; zero values take the defaults.
type Options struct {
	// MaxBody is the largest body read, in bytes.
	MaxBody int64
	// Readers is how many bodies are read at once; more are refused with
	// 503 rather than queued.
	Readers int
	// BodyTimeout bounds reading one body.
	BodyTimeout time.Duration
	Logger      *slog.Logger
}

// New makes a Guard.
func New(o Options) *Guard {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Readers <= 0 {
		o.Readers = DefaultReaders
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Guard{maxBody: o.MaxBody, bodyTimeout: o.BodyTimeout, readers: make(chan struct{}, o.Readers), log: o.Logger}
}

// Check inspects a request's headers before its body is read; an error
// refuses it with 401, the error saying why (for the log only).
type Check func(h http.Header) error

// Verify authenticates a request from its headers and body (a signature,
// a token); an error refuses it with 401.
type Verify func(h http.Header, body []byte) error

// Wrap serves next with the request's body already read into memory (see
// Body), once check passed, the body was read within the limits, and
// verify passed. The bound on readers holds until verify is done, so what
// unauthenticated clients hold in memory at once is bounded too.
// Refusals: 401 (check or verify failed), 413 (body too large), 503 with
// Retry-After: 1 (too many bodies being read, or a body not read in time).
func (g *Guard) Wrap(check Check, verify Verify, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := check(r.Header); err != nil {
			g.refuse(w, r, http.StatusUnauthorized, err.Error())
			return
		}
		if r.ContentLength > g.maxBody {
			g.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes is larger than %d", r.ContentLength, g.maxBody))
			return
		}
		select {
		case g.readers <- struct{}{}:
		default:
			w.Header().Set("Retry-After", "1")
			g.refuse(w, r, http.StatusServiceUnavailable, "too many request bodies being read at once")
			return
		}
		body, err := g.read(w, r)
		if err != nil {
			<-g.readers
			status := http.StatusRequestEntityTooLarge
			var tooLarge *http.MaxBytesError
			if !errors.As(err, &tooLarge) {
				// Mostly a machine too busy to read it in time: senders
				// that drop an alert on a 4xx (Alertmanager, SNS) retry a
				// 503.
				status = http.StatusServiceUnavailable
				w.Header().Set("Retry-After", "1")
			}
			g.refuse(w, r, status, "body unreadable: "+err.Error())
			return
		}
		err = verify(r.Header, body)
		<-g.readers
		if err != nil {
			g.refuse(w, r, http.StatusUnauthorized, err.Error())
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, body))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		next.ServeHTTP(w, r)
	})
}

type bodyKey struct{}

// Body is the body Wrap read for r, without copying it; ok is false
// outside Wrap.
func Body(r *http.Request) (body []byte, ok bool) {
	body, ok = r.Context().Value(bodyKey{}).([]byte)
	return body, ok
}

func (g *Guard) read(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	// Not every ResponseWriter supports deadlines (httptest's recorder);
	// the server's ReadTimeout still bounds the read there. Once the body
	// is read the server clears the deadline itself (it then only watches
	// for the client going away).
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(g.bodyTimeout))
	// Sized once from the declared length (at most MaxBody, checked
	// before): growing by doubling would allocate four times a large body.
	// The bound on readers bounds what is allocated before bytes arrive.
	size := int64(4 << 10)
	if r.ContentLength > 0 {
		size = r.ContentLength
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, g.maxBody))
	return buf.Bytes(), err
}

// refuse answers status and closes the connection, so the server does not
// read (or wait for) the rest of a body nobody will use: without the
// expired read deadline it would drain up to 256 KiB of it, as slowly as
// the client sends it, to keep the connection.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	g.log.Warn("refused a request", "path", r.URL.Path, "remote", r.RemoteAddr, "status", status, "why", why)
	w.Header().Set("Connection", "close")
	http.Error(w, http.StatusText(status), status)
	rc := http.NewResponseController(w)
	rc.Flush()
	rc.SetReadDeadline(time.Now())
}
