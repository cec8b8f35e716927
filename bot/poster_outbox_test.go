package bot

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
)

// startWith runs a poster as owner with opts (owner, logger and a client
// whose timeout is opts.Timeout filled in) until the test ends.
func (r *postRig) startWith(owner string, opts PosterOptions) {
	client := &http.Client{Timeout: opts.Timeout}
	api := slack.New(slackfake.BotToken, slack.OptionAPIURL(r.ws.APIURL()), slack.OptionHTTPClient(client))
	opts.Owner, opts.Logger = owner, newTestLogger(r.t)
	p := NewPoster(r.db, api, r.cfg, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	r.t.Cleanup(func() { cancel(); <-done })
}

// copies returns the messages in Slack that carry outbox id, and of
// those the ones mcloud's own bot posted.
func copies(msgs []slackfake.Message, id int64) (all, own []slackfake.Message) {
	for _, m := range msgs {
		if m.OutboxID() != strconv.FormatInt(id, 10) {
			continue
		}
		all = append(all, m)
		if m.BotID == slackfake.Bot.BotID {
			own = append(own, m)
		}
	}
	return all, own
}

func countCalls(calls []slackfake.Call, method string) int {
	n := 0
	for _, c := range calls {
		if c.Method == method {
			n++
		}
	}
	return n
}

// Slack takes a plan (with live Approve/Deny buttons) but answers 500, so
// the plan is in flight; the look-up before the retry then fails. Whatever
// the failure, the plan may be in Slack, so it must be looked for again
// rather than posted: in the end the channel has it exactly once.
func TestPosterLookupFailureKeepsMessageInFlight(t *testing.T) {
	modes := []struct {
		name  string
		fault slackfake.Fault
	}{
		{"429 Retry-After", slackfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 1}},
		{"ok false ratelimited", slackfake.Fault{Error: "ratelimited"}},
		{"missing_scope", slackfake.Fault{Error: "missing_scope"}},
		{"503", slackfake.Fault{Status: http.StatusServiceUnavailable}},
		{"connection reset", slackfake.Fault{Reset: true}},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, dsn string) {
				r := newPostRig(t, dsn)
				req := r.request(customerX, carolCaller)
				plan := r.queue(planItem(customerX, req))
				posts, lookups := 0, 0
				r.ws.Faults(func(method string, n int) *slackfake.Fault {
					switch method {
					case "chat.postMessage":
						if posts++; posts == 1 {
							return &slackfake.Fault{Status: http.StatusInternalServerError, Accept: true}
						}
					case "conversations.history":
						if lookups++; lookups == 1 {
							f := mode.fault
							return &f
						}
					}
					return nil
				})
				r.start("replica-a")
				items := r.waitAllSent(time.Minute)

				all, own := copies(r.ws.Messages(), plan)
				if len(all) != 1 || len(own) != 1 {
					t.Fatalf("after a look-up failing with %s the plan is in the channel %d times, want exactly once", mode.name, len(all))
				}
				if items[0].TS != own[0].TS || items[0].Error != "" {
					t.Errorf("the plan was recorded as %q (error %q), Slack has it as %q", items[0].TS, items[0].Error, own[0].TS)
				}
				if n := countCalls(r.ws.Calls(), "conversations.history"); n < 2 {
					t.Errorf("the failed look-up was not tried again (%d look-ups)", n)
				}
			})
		})
	}
}

// Another app in a shared channel posts a message carrying mcloud's
// metadata and the outbox id of a plan that is in flight. It is not the
// bot's message: the real plan is still posted, and the job's progress
// goes into the real plan's thread, never under the impostor's link.
func TestPosterIgnoresAnotherAppsMetadata(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		r := newPostRig(t, dsn)
		req := r.request(customerX, carolCaller)
		plan := r.queue(planItem(customerX, req))
		progress := r.queue(post(customerX, req, "Job #1 started"))

		// The first send gets a 500 and posts nothing, so the plan is in
		// flight; look-ups fail until the impostor has posted.
		var impostorPosted atomic.Bool
		posts := 0
		r.ws.Faults(func(method string, n int) *slackfake.Fault {
			switch {
			case method == "chat.postMessage":
				if posts++; posts == 1 {
					return &slackfake.Fault{Status: http.StatusInternalServerError}
				}
			case method == "conversations.history" && !impostorPosted.Load():
				return &slackfake.Fault{Status: http.StatusServiceUnavailable}
			}
			return nil
		})
		r.start("replica-a")
		r.ws.WaitFor(t, time.Minute, "the first attempt at the plan", func() bool {
			return countCalls(r.ws.Calls(), "chat.postMessage") >= 1
		})
		other := slack.New(slackfake.OtherBotToken, slack.OptionAPIURL(r.ws.APIURL()))
		_, impostorTS, err := other.PostMessage(customerX, slack.MsgOptionText("approve at https://evil.example", false),
			slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "mcloud_outbox",
				EventPayload: map[string]any{"outbox_id": strconv.FormatInt(plan, 10)}}))
		if err != nil {
			t.Fatal(err)
		}
		impostorPosted.Store(true)
		items := r.waitAllSent(time.Minute)

		all, own := copies(r.ws.Messages(), plan)
		if len(own) != 1 || len(all) != 2 {
			t.Fatalf("the bot's own plan is in the channel %d times (%d messages carry its id), want once next to the impostor's", len(own), len(all))
		}
		byID := map[int64]store.OutboxItem{}
		for _, it := range items {
			byID[it.ID] = it
		}
		if got := byID[plan].TS; got != own[0].TS {
			t.Errorf("the plan was recorded as message %s, want the bot's own %s (the impostor's is %s)", got, own[0].TS, impostorTS)
		}
		msgs := r.ws.Messages()
		i := slices.IndexFunc(msgs, func(m slackfake.Message) bool { return m.TS == byID[progress].TS })
		if i < 0 || msgs[i].ThreadTS != own[0].TS {
			t.Errorf("the job's progress went to thread %q, want the real plan's %q (the impostor's is %q)", msgs[i].ThreadTS, own[0].TS, impostorTS)
		}
		for _, m := range msgs {
			if m.ThreadTS == impostorTS {
				t.Errorf("the bot replied under the impostor's message: %q", m.Text)
			}
		}
	})
}

// Two replicas share one outbox. A message is in flight and the channel is
// busy, so the look-up before the retry pages slowly through its history
// and the send is slow too: together longer than the channel lease. The
// replica doing the work must keep the channel; the other must not post
// the message again.
func TestPosterLeaseOutlivesSlowLookup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		r := newPostRig(t, dsn)
		for i := range 200 {
			r.ws.UserMessage(customerX, "U0CAROL", "chatter "+strconv.Itoa(i))
		}
		r.ws.PageSize(25) // 8 pages
		id := r.queue(post(customerX, 0, "backup of customer-x finished"))
		posts, pages := 0, 0
		r.ws.Faults(func(method string, n int) *slackfake.Fault {
			switch method {
			case "chat.postMessage":
				switch posts++; posts {
				case 1: // nothing posted: the message is in flight
					return &slackfake.Fault{Status: http.StatusInternalServerError}
				case 2: // after the look-up: slow, but within the send timeout
					return &slackfake.Fault{Delay: 1500 * time.Millisecond}
				}
			case "conversations.history":
				// The first look-up is slow: 8 pages, most of the lease.
				if pages++; pages <= 8 {
					return &slackfake.Fault{Delay: 300 * time.Millisecond}
				}
			}
			return nil
		})
		opts := PosterOptions{Interval: 10 * time.Millisecond, Timeout: 2 * time.Second, Lease: 3 * time.Second,
			Poll: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
		r.startWith("replica-a", opts)
		r.startWith("replica-b", opts)
		items := r.waitAllSent(2 * time.Minute)
		// A loser that is still in its look-up must not post afterwards.
		time.Sleep(opts.Lease)

		all, _ := copies(r.ws.Messages(), id)
		if len(all) != 1 {
			t.Fatalf("the message is in Slack %d times, want exactly once", len(all))
		}
		if items[0].TS != all[0].TS {
			t.Errorf("recorded as %q, Slack has %q", items[0].TS, all[0].TS)
		}
	})
}

func TestAfterLookup(t *testing.T) {
	cases := []struct {
		name string
		ts   string
		err  error
		want lookup
	}{
		{"found", "1700000000.000100", nil, lookupFound},
		{"whole history, no copy", "", nil, lookupNotFound},
		{"429", "", &slack.RateLimitedError{RetryAfter: time.Second}, lookupFailed},
		{"ratelimited", "", slack.SlackErrorResponse{Err: "ratelimited"}, lookupFailed},
		{"missing_scope", "", slack.SlackErrorResponse{Err: "missing_scope"}, lookupFailed},
		{"503", "", slack.StatusCodeError{Code: 503}, lookupFailed},
		{"connection reset", "", syscall.ECONNRESET, lookupFailed},
		{"too many pages", "", errors.New("too many messages"), lookupFailed},
	}
	for _, c := range cases {
		if got := afterLookup(c.ts, c.err); got != c.want {
			t.Errorf("%s: afterLookup = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestJudge(t *testing.T) {
	looking := func(err error) error { return &lookupError{id: 7, err: err} }
	cases := []struct {
		name string
		err  error
		want verdict
	}{
		// A failed look-up keeps the message in flight, whatever Slack said.
		{"look-up 429", looking(&slack.RateLimitedError{RetryAfter: 3 * time.Second}), verdict{uncertain: true, wait: 3 * time.Second}},
		{"look-up ratelimited", looking(slack.SlackErrorResponse{Err: "ratelimited"}), verdict{uncertain: true, wait: time.Second}},
		{"look-up missing_scope", looking(slack.SlackErrorResponse{Err: "missing_scope"}), verdict{uncertain: true}},
		{"look-up channel_not_found", looking(slack.SlackErrorResponse{Err: "channel_not_found"}), verdict{uncertain: true}},
		{"look-up thread_not_found", looking(slack.SlackErrorResponse{Err: "thread_not_found"}), verdict{uncertain: true}},
		{"look-up 503", looking(slack.StatusCodeError{Code: 503}), verdict{uncertain: true}},
		{"look-up 400", looking(slack.StatusCodeError{Code: 400}), verdict{uncertain: true}},
		{"look-up reset", looking(syscall.ECONNRESET), verdict{uncertain: true}},
		{"look-up no bot identity", looking(errors.New("auth.test names no bot_id")), verdict{uncertain: true}},
		// A send: what Slack said is what happened.
		{"send 429", &slack.RateLimitedError{RetryAfter: 2 * time.Second}, verdict{wait: 2 * time.Second}},
		{"send ratelimited", slack.SlackErrorResponse{Err: "ratelimited"}, verdict{wait: time.Second}},
		{"send 500", slack.StatusCodeError{Code: 500}, verdict{uncertain: true}},
		{"send timeout", context.DeadlineExceeded, verdict{uncertain: true}},
		{"send not_in_channel", slack.SlackErrorResponse{Err: "not_in_channel"}, verdict{}},
		{"send msg_too_long", slack.SlackErrorResponse{Err: "msg_too_long"}, verdict{drop: true}},
	}
	for _, c := range cases {
		if got := judge(c.err); got != c.want {
			t.Errorf("%s: judge = %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestIsCopy(t *testing.T) {
	me := identity{botID: "B0MCLOUD", appID: "A0MCLOUD"}
	meta := func(id string) slack.SlackMetadata {
		return slack.SlackMetadata{EventType: outboxEvent, EventPayload: map[string]any{"outbox_id": id}}
	}
	msg := func(botID, appID string, md slack.SlackMetadata) slack.Message {
		m := slack.Message{Msg: slack.Msg{BotID: botID, Metadata: md}}
		if appID != "" {
			m.BotProfile = &slack.BotProfile{AppID: appID}
		}
		return m
	}
	cases := []struct {
		name string
		m    slack.Message
		me   identity
		want bool
	}{
		{"ours", msg("B0MCLOUD", "A0MCLOUD", meta("7")), me, true},
		{"ours, known by app id only", msg("", "A0MCLOUD", meta("7")), me, true},
		{"ours, bot id learned only", msg("B0MCLOUD", "A0MCLOUD", meta("7")), identity{botID: "B0MCLOUD"}, true},
		{"another app with our metadata", msg("B0OTHER", "A0OTHER", meta("7")), me, false},
		{"another bot claiming our app id", msg("B0OTHER", "A0MCLOUD", meta("7")), me, false},
		{"a person's message with our metadata", msg("", "", meta("7")), me, false},
		{"ours, another outbox id", msg("B0MCLOUD", "A0MCLOUD", meta("8")), me, false},
		{"ours, other metadata", msg("B0MCLOUD", "A0MCLOUD", slack.SlackMetadata{EventType: "other", EventPayload: map[string]any{"outbox_id": "7"}}), me, false},
		{"identity unknown", msg("B0MCLOUD", "A0MCLOUD", meta("7")), identity{}, false},
	}
	for _, c := range cases {
		if got := isCopy(c.m, c.me, 7); got != c.want {
			t.Errorf("%s: isCopy = %v, want %v", c.name, got, c.want)
		}
	}
}

// A replica that lost its channel mid-look-up (it stalled; the other
// replica, whose clock is an hour ahead here, took the channel over) stops
// and does not post: the message is in Slack once, from the new holder.
func TestPosterLostLeaseDoesNotPost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		r := newPostRig(t, dsn)
		for i := range 100 {
			r.ws.UserMessage(customerX, "U0CAROL", "chatter "+strconv.Itoa(i))
		}
		r.ws.PageSize(10)
		id := r.queue(post(customerX, 0, "backup of customer-x finished"))
		posts, pages := 0, 0
		r.ws.Faults(func(method string, n int) *slackfake.Fault {
			switch method {
			case "chat.postMessage":
				if posts++; posts == 1 {
					return &slackfake.Fault{Status: http.StatusInternalServerError}
				}
			case "conversations.history":
				if pages++; pages <= 10 {
					return &slackfake.Fault{Delay: 400 * time.Millisecond}
				}
			}
			return nil
		})
		opts := PosterOptions{Interval: 10 * time.Millisecond, Timeout: time.Second, Lease: 1500 * time.Millisecond,
			Poll: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
		r.startWith("replica-a", opts)
		r.ws.WaitFor(t, time.Minute, "replica-a to look for the message", func() bool {
			return countCalls(r.ws.Calls(), "conversations.history") >= 1
		})
		ahead := storetest.Open(t, dsn)
		ahead.Now = func() time.Time { return time.Now().Add(time.Hour) }
		b := &postRig{t: t, db: ahead, ws: r.ws, cfg: r.cfg}
		b.startWith("replica-b", opts)
		items := r.waitAllSent(time.Minute)
		time.Sleep(opts.Lease) // room for a wrong post from replica-a

		all, _ := copies(r.ws.Messages(), id)
		if len(all) != 1 {
			t.Fatalf("the message is in Slack %d times, want exactly once", len(all))
		}
		if items[0].TS != all[0].TS {
			t.Errorf("recorded as %q, Slack has %q", items[0].TS, all[0].TS)
		}
	})
}
