// Package monitoring receives alerts from monitoring systems (Alertmanager's
// webhook, Icinga2's notification script, SNS) and decodes them to
// mcloud.Alert; its API clients acknowledge back (Icinga2, Alertmanager).
//
// The receivers read bodies through internal/httpguard, the one guard
// every endpoint that reads an unauthenticated body uses.
package monitoring

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/internal/httpguard"
)

// MaxBody is the largest body a receiver reads; more is refused (413).
const MaxBody = 1 << 20

// Sink records decoded alerts. An error is ours, not the sender's: the
// receiver answers 503 so the sender retries.
type Sink func(ctx context.Context, alerts []mcloud.Alert) error

// Auth is what a sender must present: a bearer token, or basic auth.
// The zero Auth lets nobody in.
type Auth struct {
	Token    string
	User     string
	Password string
}

func (a Auth) allows(r *http.Request) bool {
	if a.Token != "" {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
			subtle.ConstantTimeCompare([]byte(tok), []byte(a.Token)) == 1 {
			return true
		}
	}
	if a.User != "" && a.Password != "" {
		u, p, ok := r.BasicAuth()
		return ok && subtle.ConstantTimeCompare([]byte(u), []byte(a.User)) == 1 &&
			subtle.ConstantTimeCompare([]byte(p), []byte(a.Password)) == 1
	}
	return false
}

// badRequest is a sender's mistake: 4xx, nothing stored.
type badRequest struct {
	code int
	msg  string
}

func (e *badRequest) Error() string { return e.msg }

func refuse(code int, format string, args ...any) error {
	return &badRequest{code: code, msg: fmt.Sprintf(format, args...)}
}

// receiver is the part every source shares. The body is read by the
// HTTP guard (internal/httpguard), after the sender's credentials were
// checked from the headers alone, at most MaxBody of it (413), with the
// guard's bound on bodies read at once (503); the receiver bounds how
// many alerts are decoded and recorded at once (503 when full: a sender
// retries a 5xx, never a 4xx), decodes, records.
type receiver struct {
	source string
	auth   func(r *http.Request) bool
	decode func(ctx context.Context, body []byte) ([]mcloud.Alert, error)
	// headers, when set, refuses (with a *badRequest) a request whose
	// headers alone show it is not for us, before its body is read.
	headers func(h http.Header) error
	sink    Sink
	slots   chan struct{}
	log     *slog.Logger
}

// Options tune a receiver; zero values take the defaults.
type Options struct {
	// Guard reads the bodies; share one across the receivers so they
	// share its bound on bodies read at once. Nil: one of the receiver's
	// own, with MaxBody.
	Guard *httpguard.Guard
	// Concurrent is how many requests are decoded and recorded at once
	// (default 32); one more is answered 503.
	Concurrent int
	// Client fetches SNS signing certificates and subscription URLs
	// (default: a 10s timeout). The URLs' checks (https, on
	// sns.<region>.amazonaws.com) apply whatever the client.
	Client *http.Client
	Logger *slog.Logger
}

func newReceiver(source string, o Options, sink Sink) *receiver {
	if o.Concurrent <= 0 {
		o.Concurrent = 32
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &receiver{source: source, sink: sink, slots: make(chan struct{}, o.Concurrent), log: o.Logger}
}

// guarded is h behind o's guard: only POST, credentials checked before
// the body is read.
func (h *receiver) guarded(o Options) http.Handler {
	g := o.Guard
	if g == nil {
		g = httpguard.New(httpguard.Options{MaxBody: MaxBody, Logger: h.log})
	}
	// SNS signs the body: its signature is checked when decoding.
	check := func(http.Header) error { return nil }
	if h.auth != nil {
		check = func(hdr http.Header) error {
			if !h.auth(&http.Request{Header: hdr}) {
				return fmt.Errorf("%s alert without valid credentials", h.source)
			}
			return nil
		}
	}
	inner := g.Wrap(check, func(http.Header, []byte) error { return nil }, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST alerts here", http.StatusMethodNotAllowed)
			return
		}
		var bad *badRequest
		if h.headers != nil && errors.As(h.headers(r.Header), &bad) {
			h.log.Warn("alert refused", "source", h.source, "remote", r.RemoteAddr, "why", bad.msg)
			// Closed, so the server does not read the body nobody will use.
			w.Header().Set("Connection", "close")
			http.Error(w, bad.msg, bad.code)
			return
		}
		inner.ServeHTTP(w, r)
	})
}

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := httpguard.Body(r)
	if !ok {
		http.Error(w, "internal error", http.StatusInternalServerError) // only ever served through guarded
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy; retry", http.StatusServiceUnavailable)
		return
	}
	alerts, err := h.decode(r.Context(), body)
	var bad *badRequest
	switch {
	case errors.As(err, &bad):
		h.log.Warn("alert refused", "source", h.source, "remote", r.RemoteAddr, "why", bad.msg)
		http.Error(w, bad.msg, bad.code)
		return
	case err != nil:
		h.log.Error("alert could not be handled", "source", h.source, "err", err)
		http.Error(w, "could not handle the alert now; retry", http.StatusServiceUnavailable)
		return
	}
	if len(alerts) > 0 {
		if err := h.sink(r.Context(), alerts); err != nil {
			h.log.Error("alert could not be recorded", "source", h.source, "err", err)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "could not record the alert now; retry", http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "%s received\n", mcloud.Count(len(alerts), "alert", "alerts"))
}
