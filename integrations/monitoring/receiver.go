// Package monitoring receives alerts from monitoring systems (Alertmanager's
// webhook, Icinga2's notification script, SNS) and decodes them to
// mcloud.Alert; its API clients acknowledge back (Icinga2, Alertmanager).
//
// The receivers are plain http.Handlers with their own small limits, so
// the listener can wrap them in a shared guard too.
package monitoring

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mcloud/mcloud"
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

// receiver is the part every source shares: authenticate before reading
// the body, read at most MaxBody, bound how many bodies are read at once
// (503 when full: a sender retries a 5xx, never a 4xx), decode, record.
type receiver struct {
	source string
	auth   func(r *http.Request) bool
	decode func(ctx context.Context, body []byte) ([]mcloud.Alert, error)
	sink   Sink
	slots  chan struct{}
	log    *slog.Logger
}

// Options tune a receiver; zero values take the defaults.
type Options struct {
	// Concurrent is how many requests are read and recorded at once
	// (default 32); one more is answered 503.
	Concurrent int
	Logger     *slog.Logger
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

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST alerts here", http.StatusMethodNotAllowed)
		return
	}
	if h.auth != nil && !h.auth(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mcloud alerts"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.ContentLength > MaxBody {
		http.Error(w, "body over 1 MiB", http.StatusRequestEntityTooLarge)
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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, "body over 1 MiB", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "could not read the body", http.StatusBadRequest)
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
			http.Error(w, "could not record the alert now; retry", http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "%s received\n", mcloud.Count(len(alerts), "alert", "alerts"))
}
