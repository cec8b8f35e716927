package bot

// The way in: every Slack delivery, over HTTP or Socket Mode, is verified,
// stored with its dedupe key in one transaction, and only then
// acknowledged; workers on any replica claim stored deliveries and do
// their work. A process killed after the acknowledgement leaves the
// delivery in the database, claimed under a lease that runs out, and the
// next process (or another replica) finishes it. Working a delivery again
// must not repeat what the first run did: the request it created is found
// by the delivery's key (store.WithDelivery), and the messages it queues
// are queued in the transaction that marks it done.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/httpguard"
)

const (
	// defaultLease is how long a claimed delivery stays with its worker
	// without news from it; the worker renews it while working.
	defaultLease = 30 * time.Second
	// maxAttempts: a delivery whose work killed this many processes (or
	// panicked) is given up, with the reason in the log.
	maxAttempts = 5
)

// Delivery kinds, as stored.
const (
	kindCommand = "command" // a slash command or an app mention
	kindAction  = "action"  // a button click
)

// deliveryPayload is what is kept of a verified delivery: who, where, what
// they typed or clicked, and how to answer them.
type deliveryPayload struct {
	Kind        string          `json:"kind"`
	UserID      string          `json:"user_id"`
	TeamID      string          `json:"team_id"`
	Enterprise  string          `json:"enterprise_id,omitempty"`
	Name        string          `json:"name,omitempty"`
	Channel     string          `json:"channel"`
	Text        string          `json:"text,omitempty"`
	ResponseURL string          `json:"response_url,omitempty"`
	ThreadTS    string          `json:"thread_ts,omitempty"`
	EphemeralTS string          `json:"ephemeral_ts,omitempty"`
	At          time.Time       `json:"at"`
	Actions     []payloadAction `json:"actions,omitempty"`
}

type payloadAction struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

func commandPayload(in input) deliveryPayload {
	return deliveryPayload{Kind: kindCommand, UserID: in.id.UserID, TeamID: in.id.TeamID, Enterprise: in.id.EnterpriseID,
		Name: in.id.Name, Channel: in.channel, Text: in.text, ResponseURL: in.responseURL, ThreadTS: in.threadTS,
		EphemeralTS: in.ephemeralTS, At: in.at}
}

func actionPayload(acts []action) deliveryPayload {
	p := commandPayload(acts[0].input)
	p.Kind = kindAction
	for _, a := range acts {
		p.Actions = append(p.Actions, payloadAction{ID: a.actionID, Value: a.value})
	}
	return p
}

func (p deliveryPayload) input() input {
	return input{id: config.Identity{UserID: p.UserID, TeamID: p.TeamID, EnterpriseID: p.Enterprise, Name: p.Name},
		channel: p.Channel, text: p.Text, responseURL: p.ResponseURL, threadTS: p.ThreadTS, ephemeralTS: p.EphemeralTS, at: p.At}
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

// take stores a verified HTTP delivery and answers Slack: 200 once it is
// stored (or was already: a retry or a duplicate click); busy, with
// nothing stored, when the database does not answer in time.
func (s *Slack) take(w http.ResponseWriter, r *http.Request, key string, p deliveryPayload, busy func(w http.ResponseWriter)) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.keep(ctx, key, p, r.Header.Get("X-Slack-Retry-Num")); err != nil {
		s.log.Error("store Slack delivery", "key", key, "err", err)
		busy(w)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// keep stores a delivery to be worked, unless key was seen already. A
// delivery without a key (Slack always sends one) cannot be recognised
// when repeated, and is stored under a key of its own.
func (s *Slack) keep(ctx context.Context, key string, p deliveryPayload, retry string) error {
	if key == "" {
		b := make([]byte, 12)
		rand.Read(b)
		key = "slack:unkeyed:" + hex.EncodeToString(b)
	}
	js, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	first, err := s.db.TakeDelivery(ctx, key, string(js), dedupeTTL)
	if err != nil {
		return err
	}
	if !first {
		s.log.Info("duplicate Slack delivery dropped", "key", key, "retry", retry)
		return nil
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// dispatch claims stored deliveries and works them, up to s.workers at a
// time, until ctx ends; the deliveries being worked then are finished
// before it returns, the others stay stored for the next process.
func (s *Slack) dispatch(ctx context.Context) {
	slots := make(chan struct{}, s.workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	poll := time.NewTicker(min(time.Second, s.lease/2))
	defer poll.Stop()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		d, err := s.db.ClaimDelivery(ctx, s.owner, s.lease)
		if d != nil {
			wg.Go(func() {
				defer func() { <-slots }()
				s.work(ctx, d)
			})
			continue
		}
		<-slots
		if err != nil && ctx.Err() == nil {
			s.log.Warn("claim Slack deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-poll.C:
		}
	}
}

// work does a claimed delivery's work. It runs to the end even if ctx
// ends (Slack was told it was taken), then marks the delivery done
// together with the messages it queued.
func (s *Slack) work(ctx context.Context, d *store.Delivery) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), taskTimeout)
	defer cancel()
	renewed := make(chan struct{})
	go func() { defer close(renewed); s.keepLease(wctx, d.Key) }()
	defer func() {
		cancel()
		<-renewed
		if s.taskDone != nil {
			s.taskDone(d.Key)
		}
	}()
	col := &collector{}
	s.run(store.WithDelivery(withCollector(wctx, col), d.Key), d)
	mine, err := s.db.FinishDelivery(wctx, d.Key, s.owner, col.items)
	switch {
	case err != nil:
		s.log.Error("finish Slack delivery; it will be worked again", "key", d.Key, "err", err)
	case !mine:
		s.log.Warn("another process took this Slack delivery over; its answers are left to that one", "key", d.Key)
	case len(col.items) > 0:
		s.poster.Wake()
	}
}

// run works one delivery's payload.
func (s *Slack) run(ctx context.Context, d *store.Delivery) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("Slack delivery panicked", "key", d.Key, "panic", r)
		}
	}()
	if d.Attempts > maxAttempts {
		s.log.Error("Slack delivery given up: its work stopped the process or failed every time", "key", d.Key, "attempts", d.Attempts-1)
		return
	}
	if d.Attempts > 1 {
		s.log.Info("working a Slack delivery again (the process that took it stopped)", "key", d.Key, "attempt", d.Attempts)
	}
	var p deliveryPayload
	if err := json.Unmarshal([]byte(d.Payload), &p); err != nil {
		s.log.Error("stored Slack delivery unreadable; dropped", "key", d.Key, "err", err)
		return
	}
	switch p.Kind {
	case kindCommand:
		s.runCommand(ctx, p.input())
	case kindAction:
		in := p.input()
		for _, a := range p.Actions {
			s.runAction(ctx, action{input: in, actionID: a.ID, value: a.Value})
		}
	default:
		s.log.Error("stored Slack delivery of unknown kind; dropped", "key", d.Key, "kind", p.Kind)
	}
}

// keepLease renews the claim on key until ctx ends.
func (s *Slack) keepLease(ctx context.Context, key string) {
	t := time.NewTicker(s.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ok, err := s.db.RenewDelivery(ctx, key, s.owner, s.lease); err != nil && ctx.Err() == nil {
			s.log.Warn("renew lease on Slack delivery", "key", key, "err", err)
		} else if err == nil && !ok {
			return
		}
	}
}

// collector holds the messages a delivery's work queues, until the
// delivery is marked done with them.
type collector struct {
	mu    sync.Mutex
	items []store.OutboxItem
}

type collectorKey struct{}

func withCollector(ctx context.Context, c *collector) context.Context {
	return context.WithValue(ctx, collectorKey{}, c)
}

// collect keeps it for the delivery ctx works, if any; false means queue
// it now.
func collect(ctx context.Context, it store.OutboxItem) bool {
	c, _ := ctx.Value(collectorKey{}).(*collector)
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = append(c.items, it)
	return true
}

// newGuard is the adapter's body guard.
func newGuard(o SlackOptions) *httpguard.Guard {
	return httpguard.New(httpguard.Options{MaxBody: maxBody, Readers: o.Readers, Logger: o.Logger})
}
