package bot

// The HTTP transport: Slack's signed requests to /slack/commands,
// /slack/interactivity and /slack/events. Headers are checked before a
// body is read, the signature before it is parsed; a request that fails
// either is answered 401 and goes no further.

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/httpguard"
)

const (
	// maxBody bounds a request body read before it is verified.
	maxBody = 1 << 20
	// maxSkew is how far a request's timestamp may be from our clock.
	maxSkew = 5 * time.Minute
)

// Handler serves the Slack endpoints: /slack/commands, /slack/interactivity
// and /slack/events. Every request is verified before it is parsed.
func (s *Slack) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /slack/commands", s.guarded(s.handleCommand))
	mux.Handle("POST /slack/interactivity", s.guarded(s.handleInteraction))
	mux.Handle("POST /slack/events", s.guarded(s.handleEvent))
	return mux
}

// newGuard is the adapter's body guard.
func newGuard(o SlackOptions) *httpguard.Guard {
	return httpguard.New(httpguard.Options{MaxBody: maxBody, Readers: o.Readers, Logger: o.Logger})
}

// guarded wraps a Slack endpoint: headers checked before the body is read,
// the body read within the guard's limits, its signature checked before
// the handler sees it.
func (s *Slack) guarded(h http.HandlerFunc) http.Handler {
	return s.guard.Wrap(func(hd http.Header) error {
		if s.secret == "" {
			return errors.New("no signing secret is configured")
		}
		return slackHeaders(hd, s.now())
	}, s.signature, h)
}

// slackHeaders checks, before a body is read, what Slack's signature
// needs: both headers present, the signature well-formed (v0= and 64 hex
// digits), the timestamp a number within maxSkew of now. The signature
// itself is checked over the body afterwards (signature).
func slackHeaders(h http.Header, now time.Time) error {
	sig, stamp := h.Get("X-Slack-Signature"), h.Get("X-Slack-Request-Timestamp")
	if sig == "" || stamp == "" {
		return errors.New("missing X-Slack-Signature or X-Slack-Request-Timestamp")
	}
	digest, ok := strings.CutPrefix(sig, "v0=")
	if _, err := hex.DecodeString(digest); !ok || len(digest) != 64 || err != nil {
		return errors.New("X-Slack-Signature is not v0= and 64 hex digits")
	}
	sec, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return errors.New("timestamp is not a number")
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > maxSkew || skew < -maxSkew {
		return errors.New("timestamp more than five minutes away (a replay, or a clock off)")
	}
	return nil
}

// signature checks Slack's signature over the body: v0=HMAC-SHA256 of
// "v0:timestamp:body" with the signing secret, compared in constant time.
func (s *Slack) signature(h http.Header, body []byte) error {
	sv, err := slack.NewSecretsVerifier(h, s.secret)
	if err == nil {
		sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		return errors.New("signature does not match")
	}
	return nil
}

// verify returns the body of a request the guard let through (see
// guarded): its headers checked before it was read, its signature after.
func (s *Slack) verify(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, ok := httpguard.Body(r)
	if !ok {
		s.reject(w, r, http.StatusInternalServerError, "endpoint not behind the body guard")
		return nil, false
	}
	return body, true
}

// verifiedForm verifies a request and parses its form body, answering the
// failure itself (401 or 400) when it returns false.
func (s *Slack) verifiedForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	body, ok := s.verify(w, r)
	if !ok {
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.badRequest(w, r, "body is not form-encoded")
		return nil, false
	}
	return form, true
}

func (s *Slack) reject(w http.ResponseWriter, r *http.Request, status int, why string) {
	s.log.Warn("refused a Slack request", "path", r.URL.Path, "remote", r.RemoteAddr, "status", status, "why", why)
	http.Error(w, http.StatusText(status), status)
}

func (s *Slack) badRequest(w http.ResponseWriter, r *http.Request, why string) {
	s.log.Warn("malformed Slack request", "path", r.URL.Path, "remote", r.RemoteAddr, "why", why)
	http.Error(w, "bad request: "+why, http.StatusBadRequest)
}

const busyText = "mcloud cannot take this on right now (too busy, or its database is not answering); nothing was done. Try again in a minute."

// maybeTakenText answers a delivery that was being stored when Slack's
// time ran out: the store finishes the commit, so it may well run, and
// asking again would run it twice.
const maybeTakenText = "mcloud is slow to answer and may have taken this on: it was being saved when Slack's time ran out, and may still run. " +
	"Look in this channel (and at `/mcloud pending`) in a minute before asking again."

// busyAnswer is what the caller is told when submit failed with err.
func busyAnswer(err error) string {
	if errors.Is(err, store.ErrMaybeAccepted) {
		return maybeTakenText
	}
	return busyText
}

// busyEphemeral answers a slash command in its acknowledgement.
func busyEphemeral(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"response_type": "ephemeral", "text": busyAnswer(err)})
}

// busyRetry makes Slack retry (events) or show an error (clicks). A retry
// has the same id, which dedupe recognises if the first was stored after all.
func busyRetry(w http.ResponseWriter, err error) {
	http.Error(w, busyAnswer(err), http.StatusServiceUnavailable)
}

func (s *Slack) handleCommand(w http.ResponseWriter, r *http.Request) {
	form, ok := s.verifiedForm(w, r)
	if !ok {
		return
	}
	d, err := commandDelivery(slashFromForm(form), s.now())
	if err != nil {
		s.badRequest(w, r, err.Error())
		return
	}
	s.accept(w, r, d, busyEphemeral)
}

func (s *Slack) handleInteraction(w http.ResponseWriter, r *http.Request) {
	form, ok := s.verifiedForm(w, r)
	if !ok {
		return
	}
	payload := form.Get("payload")
	if payload == "" {
		s.badRequest(w, r, "no payload")
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		s.badRequest(w, r, "payload is not valid JSON")
		return
	}
	d, err := interactionDelivery(cb, s.now())
	switch {
	case errors.Is(err, errIgnored):
		s.log.Info("ignored a Slack interaction", "type", cb.Type)
		w.WriteHeader(http.StatusOK)
	case err != nil:
		s.badRequest(w, r, err.Error())
	default:
		s.accept(w, r, d, busyRetry)
	}
}

func (s *Slack) handleEvent(w http.ResponseWriter, r *http.Request) {
	body, ok := s.verify(w, r)
	if !ok {
		return
	}
	var env eventEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		s.badRequest(w, r, "body is not valid JSON")
		return
	}
	switch env.Type {
	case "url_verification":
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, env.Challenge)
		return
	case "event_callback":
	default:
		w.WriteHeader(http.StatusOK)
		return
	}
	var ev mentionEvent
	if err := json.Unmarshal(env.Event, &ev); err != nil {
		s.badRequest(w, r, "event is not valid JSON")
		return
	}
	d, ok := mentionDelivery(env, ev, s.now())
	if !ok {
		w.WriteHeader(http.StatusOK)
		return
	}
	s.accept(w, r, d, busyRetry)
}

// accept submits a verified HTTP delivery and answers Slack: 200 once it is
// stored (or was already: a retry or a duplicate click); busy when the
// database does not answer in time.
func (s *Slack) accept(w http.ResponseWriter, r *http.Request, d delivery, busy func(w http.ResponseWriter, err error)) {
	if err := s.submit(r.Context(), d, r.Header.Get("X-Slack-Retry-Num")); err != nil {
		busy(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
