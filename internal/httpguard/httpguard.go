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
	DefaultReaders     = 64
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

// Wrap serves next with the request's body already read into memory, once
// check passed and the body was read within the limits. Refusals: 401
// (check failed), 413 (body too large), 503 (too many bodies being read;
// Retry-After: 1), 408 (body not sent in time).
func (g *Guard) Wrap(check Check, next http.Handler) http.Handler {
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
		<-g.readers
		if err != nil {
			status := http.StatusRequestEntityTooLarge
			var tooLarge *http.MaxBytesError
			if !errors.As(err, &tooLarge) {
				status = http.StatusRequestTimeout
			}
			g.refuse(w, r, status, "body unreadable: "+err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		next.ServeHTTP(w, r)
	})
}

func (g *Guard) read(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rc := http.NewResponseController(w)
	// Not every ResponseWriter supports deadlines (httptest's recorder);
	// the server's ReadTimeout still bounds the read there.
	if err := rc.SetReadDeadline(time.Now().Add(g.bodyTimeout)); err == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	// The declared length is the client's word: it sizes the buffer only
	// up to a little, the rest grows as bytes actually arrive.
	size := min(max(r.ContentLength, 512), 64<<10)
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, g.maxBody))
	return buf.Bytes(), err
}

// refuse answers status and closes the connection, so the server does not
// read (or wait for) the rest of a body nobody will use.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	g.log.Warn("refused a request", "path", r.URL.Path, "remote", r.RemoteAddr, "status", status, "why", why)
	w.Header().Set("Connection", "close")
	http.Error(w, http.StatusText(status), status)
}
