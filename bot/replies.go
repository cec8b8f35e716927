package bot

// Replies: what the channel should see goes through the outbox (durable,
// in order, within Slack's rate); what only the caller should see goes
// through the response_url while it lasts, else chat.postEphemeral, and
// is retried briefly instead of kept.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// responseURLUses and responseURLLife are Slack's limits on one
// response_url.
const (
	responseURLUses = 5
	responseURLLife = 30 * time.Minute
)

// queue queues a message; the work of a delivery queues its messages
// when it is marked done (see collect).
func (s *Slack) queue(ctx context.Context, it store.OutboxItem) {
	if collect(ctx, it) {
		return
	}
	if _, err := s.db.QueueMessage(ctx, it); err != nil {
		s.log.Error("queue Slack message", "channel", it.ChannelID, "kind", it.Kind, "err", err)
		return
	}
	s.poster.Wake()
}

// queueUpdates refreshes every plan message of a request: the requester's
// and the approvers' copy show one decision.
func (s *Slack) queueUpdates(ctx context.Context, requestID int64) {
	channels, err := s.db.PlanChannels(ctx, requestID)
	if err != nil {
		s.log.Error("find the plan messages to update", "request", requestID, "err", err)
		return
	}
	for _, ch := range channels {
		s.queue(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: ch, RequestID: requestID,
			Text: fmt.Sprintf("(refresh the plan message of request #%d)", requestID)}, Kind: store.KindUpdate})
	}
}

// responder answers one command or click through its response_url, within
// Slack's limits on it.
type responder struct {
	url   string
	mu    sync.Mutex
	uses  int
	until time.Time
}

func newResponder(u string, at time.Time) *responder {
	return &responder{url: u, until: at.Add(responseURLLife)}
}

// use reports whether one more answer may go through the response_url.
func (r *responder) use(now time.Time) bool {
	if r == nil || r.url == "" {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.uses >= responseURLUses || !now.Before(r.until) {
		return false
	}
	r.uses++
	return true
}

// ephemeral shows msg to the caller alone: through the response_url while
// it lasts, else chat.postEphemeral. It is not kept in the outbox: it
// answers someone waiting now, and is retried briefly instead.
func (s *Slack) ephemeral(ctx context.Context, caller mcloud.Caller, in input, rs *responder, msg Message) {
	if rs.use(s.now()) {
		err := s.retry(ctx, func(ctx context.Context) error { return s.respond(ctx, rs.url, msg) })
		if err == nil {
			return
		}
		s.log.Warn("answer through response_url failed; trying chat.postEphemeral", "host", hostOf(rs.url), "err", redactURL(err, rs.url))
	}
	opts := textOpts(msg)
	if in.ephemeralTS != "" {
		opts = append(opts, slack.MsgOptionTS(in.ephemeralTS))
	}
	err := s.retry(ctx, func(ctx context.Context) error {
		_, err := s.api.PostEphemeralContext(ctx, caller.ChannelID, caller.UserID, opts...)
		return err
	})
	if err != nil {
		s.log.Error("could not show the caller their answer", "user", caller.UserID, "channel", caller.ChannelID, "err", err)
	}
}

// respond posts msg to a response_url. Only Slack's own hosts (and the
// configured API host, for proxies and tests) are trusted with it.
func (s *Slack) respond(ctx context.Context, responseURL string, msg Message) error {
	u, err := url.Parse(responseURL)
	if err != nil || !(u.Scheme == "https" && (u.Host == "slack.com" || strings.HasSuffix(u.Host, ".slack.com")) || u.Host == s.apiHost) {
		return errors.New("response_url is not a Slack URL")
	}
	_, _, err = s.api.PostMessageContext(ctx, "", append(textOpts(msg), slack.MsgOptionResponseURL(responseURL, slack.ResponseTypeEphemeral))...)
	return err
}

// retry makes a few quick attempts at an answer someone is waiting for.
func (s *Slack) retry(ctx context.Context, fn func(ctx context.Context) error) error {
	var err error
	timeout := s.http.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	for attempt := range 3 {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err = fn(cctx)
		cancel()
		if err == nil {
			return nil
		}
		o, wait := classify(err)
		if o == outcomeDropped || o == outcomeRefused {
			return err
		}
		if o != outcomeRateLimited {
			wait = backoff(attempt, 5*time.Second)
		}
		if sleep(ctx, wait) != nil {
			return err
		}
	}
	return err
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return "?"
}

// redactURL keeps a response_url, which lets anyone answer as the bot,
// out of logs.
func redactURL(err error, raw string) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), raw, "https://"+hostOf(raw)+"/…")
}
