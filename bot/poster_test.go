package bot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/pgtest"
	"github.com/mcloud/mcloud/internal/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// postRig is a store, a fake Slack and posters between them.
type postRig struct {
	t   *testing.T
	db  *store.DB
	ws  *slackfake.Workspace
	cfg *config.Config
}

func newPostRig(t *testing.T, dsn string) *postRig {
	cfg := exampleConfig(t)
	ws := slackfake.New(t)
	cfg.Slack.APIURL = ws.APIURL()
	return &postRig{t: t, db: storetest.Open(t, dsn), ws: ws, cfg: cfg}
}

// start runs a poster as owner until the test ends; timeouts are short so
// an unanswered send is given up on quickly.
func (r *postRig) start(owner string) {
	client := &http.Client{Timeout: time.Second}
	api := slack.New(slackfake.BotToken, slack.OptionAPIURL(r.ws.APIURL()), slack.OptionHTTPClient(client))
	p := NewPoster(r.db, api, r.cfg, PosterOptions{Interval: 10 * time.Millisecond, Timeout: time.Second, Lease: 9 * time.Second,
		Poll: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Owner: owner, Logger: newTestLogger(r.t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	r.t.Cleanup(func() { cancel(); <-done })
}

func (r *postRig) request(channel string, by mcloud.Caller) int64 {
	r.t.Helper()
	now := r.db.Now()
	by.ChannelID = channel
	req := &mcloud.Request{Verb: "echo", Customer: "customer-x", Params: mcloud.Params{"text": "hi"},
		Plan: mcloud.Plan{Summary: "say hi", Steps: []string{"say"}}, Requester: by, Needed: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	noQueue := func(context.Context, *sql.Tx, mcloud.Job) error { return errors.New("no job expected") }
	if _, err := r.db.Submit(context.Background(), req, noQueue); err != nil {
		r.t.Fatal(err)
	}
	return req.ID
}

func (r *postRig) queue(it store.OutboxItem) int64 {
	r.t.Helper()
	id, err := r.db.QueueMessage(context.Background(), it)
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

func post(channel string, request int64, text string) store.OutboxItem {
	return store.OutboxItem{Post: mcloud.Post{ChannelID: channel, RequestID: request, Text: text}, Kind: store.KindPost}
}

func planItem(channel string, request int64) store.OutboxItem {
	return store.OutboxItem{Post: mcloud.Post{ChannelID: channel, RequestID: request, Text: "plan"}, Kind: store.KindPlan}
}

func (r *postRig) waitAllSent(limit time.Duration) []store.OutboxItem {
	r.t.Helper()
	var items []store.OutboxItem
	r.ws.WaitFor(r.t, limit, "every outbox message to be sent", func() bool {
		var err error
		items, err = r.db.OutboxItems(context.Background(), "")
		if err != nil {
			r.t.Fatal(err)
		}
		return !slices.ContainsFunc(items, func(it store.OutboxItem) bool { return it.SentAt.IsZero() })
	})
	return items
}

// checkDelivery asserts each outbox message is in Slack exactly once, in
// its request's thread, and that each thread and each channel has them in
// outbox order.
func checkDelivery(t *testing.T, items []store.OutboxItem, msgs []slackfake.Message) {
	t.Helper()
	byID := map[string][]slackfake.Message{}
	for _, m := range msgs {
		if m.OutboxID() == "" {
			t.Errorf("a message without an outbox id: %q", m.Text)
			continue
		}
		byID[m.OutboxID()] = append(byID[m.OutboxID()], m)
	}
	roots := map[int64]string{}
	for _, it := range items {
		if it.Kind == store.KindPlan {
			roots[it.RequestID] = it.TS
		}
	}
	type key struct{ channel, thread string }
	last := map[key]int{}
	lastID := map[key]int64{}
	posted := 0
	for _, it := range items {
		if it.Error != "" {
			t.Errorf("message %d ended with error %q", it.ID, it.Error)
		}
		if it.Kind == store.KindUpdate {
			continue
		}
		posted++
		got := byID[strconv.FormatInt(it.ID, 10)]
		if len(got) != 1 {
			t.Errorf("message %d (%q) is in Slack %d times, want exactly once", it.ID, it.Text, len(got))
			continue
		}
		m := got[0]
		if m.TS != it.TS || m.Channel != it.ChannelID {
			t.Errorf("message %d recorded as %s/%s, Slack has %s/%s", it.ID, it.ChannelID, it.TS, m.Channel, m.TS)
		}
		wantThread := ""
		if it.Kind == store.KindPost && it.RequestID != 0 {
			wantThread = roots[it.RequestID]
		}
		if m.ThreadTS != wantThread {
			t.Errorf("message %d (%q) is in thread %q, want %q", it.ID, it.Text, m.ThreadTS, wantThread)
		}
		k := key{m.Channel, m.ThreadTS}
		if m.Seq < last[k] {
			t.Errorf("message %d (%q) reached %v after message %d, which was queued later", it.ID, it.Text, k, lastID[k])
		}
		last[k], lastID[k] = m.Seq, it.ID
	}
	if len(msgs) != posted {
		t.Errorf("Slack has %d bot messages, the outbox %d", len(msgs), posted)
	}
}

func botOnly(msgs []slackfake.Message) []slackfake.Message {
	return slices.DeleteFunc(msgs, func(m slackfake.Message) bool { return m.OutboxID() == "" })
}

var (
	carolCaller = mcloud.Caller{UserID: "U0CAROL", TeamID: "T0CUSTX", Name: "carol", Role: mcloud.RoleCustomer, Customer: "customer-x"}
	aliceCaller = mcloud.Caller{UserID: "U0ALICE", TeamID: "T0DEVOPS", Name: "alice", Role: mcloud.RoleDevOps}
)

// TestPosterThroughRateLimitAndOutage: Slack answers 429 Retry-After: 2,
// then 500 for a while (having posted some of those messages anyway),
// then takes one message and never answers. Afterwards every message is
// in Slack exactly once, in its thread, in order.
func TestPosterThroughRateLimitAndOutage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		r := newPostRig(t, dsn)
		r1, r2 := r.request(customerX, carolCaller), r.request(customerX, carolCaller)
		r3 := r.request(devops, aliceCaller)
		r.queue(planItem(customerX, r1))
		r.queue(planItem(customerX, r2))
		r.queue(planItem(devops, r3))
		for i := 1; i <= 4; i++ {
			r.queue(post(customerX, r1, fmt.Sprintf("r1 step %d", i)))
			r.queue(post(customerX, r2, fmt.Sprintf("r2 step %d", i)))
			r.queue(post(devops, r3, fmt.Sprintf("r3 step %d", i)))
			r.queue(post(customerX, 0, fmt.Sprintf("channel note %d", i)))
		}
		r.queue(store.OutboxItem{Post: mcloud.Post{ChannelID: customerX, RequestID: r1, Text: "refresh"}, Kind: store.KindUpdate})

		r.ws.Faults(func(method string, n int) *slackfake.Fault {
			switch {
			case n == 1:
				return &slackfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2}
			case n >= 2 && n <= 7:
				return &slackfake.Fault{Status: http.StatusInternalServerError, Accept: n%2 == 1}
			case n == 10 && method == "chat.postMessage":
				return &slackfake.Fault{Hang: true}
			}
			return nil
		})
		r.start("replica-a")
		items := r.waitAllSent(2 * time.Minute)
		checkDelivery(t, items, botOnly(r.ws.Messages()))

		if after := nextCallAfter429(t, r.ws.Calls()); after < 2*time.Second {
			t.Errorf("after 429 Retry-After: 2 the poster called Slack for that channel again %v later", after)
		}
		looked := slices.ContainsFunc(r.ws.Calls(), func(c slackfake.Call) bool {
			return c.Method == "conversations.history" || c.Method == "conversations.replies"
		})
		if !looked {
			t.Error("no message was looked for in Slack before being sent again")
		}
		if m := rootMessage(r.ws.Messages(), items, r1); m.Updates != 1 {
			t.Errorf("plan message of request %d was updated %d times, want 1", r1, m.Updates)
		}
	})
}

// nextCallAfter429 is how long after the (one) 429 the next call about
// the same channel came. The poster records the 429 only after Slack's
// answer, so a poster that honours Retry-After never calls sooner.
func nextCallAfter429(t *testing.T, calls []slackfake.Call) time.Duration {
	t.Helper()
	for i, c := range calls {
		if c.Status != http.StatusTooManyRequests {
			continue
		}
		for _, next := range calls[i+1:] {
			if next.Form.Get("channel") == c.Form.Get("channel") {
				return next.At.Sub(c.At)
			}
		}
		t.Fatalf("no call about %s after the 429", c.Form.Get("channel"))
	}
	t.Fatal("Slack never answered 429")
	return 0
}

func rootMessage(msgs []slackfake.Message, items []store.OutboxItem, request int64) slackfake.Message {
	for _, it := range items {
		if it.Kind == store.KindPlan && it.RequestID == request {
			for _, m := range msgs {
				if m.TS == it.TS {
					return m
				}
			}
		}
	}
	return slackfake.Message{}
}

// TestPosterReplicas: two processes sending one PostgreSQL outbox post
// each message once, each channel in order.
func TestPosterReplicas(t *testing.T) {
	r := newPostRig(t, pgtest.URL(t))
	channels := []string{customerX, devops, "C0CUSTY"}
	for i := 1; i <= 8; i++ {
		for _, ch := range channels {
			r.queue(post(ch, 0, fmt.Sprintf("%s message %d", ch, i)))
		}
	}
	r.start("replica-a")
	r.start("replica-b")
	items := r.waitAllSent(2 * time.Minute)
	checkDelivery(t, items, botOnly(r.ws.Messages()))
}

// A job's progress can reach the outbox before the plan of its request
// (no approval needed: the job starts at once); the plan still goes first.
func TestPosterPlanBeforeItsThread(t *testing.T) {
	r := newPostRig(t, filepath.Join(t.TempDir(), "mcloud.db"))
	req := r.request(customerX, carolCaller)
	r.queue(post(customerX, req, "Job #1 started"))
	r.queue(post(customerX, 0, "something else"))
	r.queue(planItem(customerX, req))
	r.start("replica-a")
	r.waitAllSent(time.Minute)
	msgs := botOnly(r.ws.Messages())
	var order []string
	for _, m := range msgs {
		order = append(order, fmt.Sprintf("%s in thread %q", m.Text, m.ThreadTS))
	}
	if len(msgs) != 3 || !strings.HasPrefix(msgs[0].Text, "Plan for request #1:") || msgs[1].Text != "Job #1 started" || msgs[1].ThreadTS != msgs[0].TS ||
		msgs[2].Text != "something else" || msgs[2].ThreadTS != "" {
		t.Fatalf("sent %q; want the plan, its job's post in its thread, then the rest", order)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want outcome
		wait time.Duration
	}{
		{"429 with Retry-After", &slack.RateLimitedError{RetryAfter: 2 * time.Second}, outcomeRateLimited, 2 * time.Second},
		{"429 without Retry-After", slack.StatusCodeError{Code: 429}, outcomeRateLimited, time.Second},
		{"500", slack.StatusCodeError{Code: 500}, outcomeUncertain, 0},
		{"503", slack.StatusCodeError{Code: 503}, outcomeUncertain, 0},
		{"400", slack.StatusCodeError{Code: 400}, outcomeRefused, 0},
		{"ratelimited", slack.SlackErrorResponse{Err: "ratelimited"}, outcomeRateLimited, time.Second},
		{"internal_error", slack.SlackErrorResponse{Err: "internal_error"}, outcomeUncertain, 0},
		{"not_in_channel", slack.SlackErrorResponse{Err: "not_in_channel"}, outcomeRefused, 0},
		{"invalid_auth", slack.SlackErrorResponse{Err: "invalid_auth"}, outcomeRefused, 0},
		{"msg_too_long", slack.SlackErrorResponse{Err: "msg_too_long"}, outcomeDropped, 0},
		{"message_not_found", slack.SlackErrorResponse{Err: "message_not_found"}, outcomeDropped, 0},
		{"timeout", context.DeadlineExceeded, outcomeUncertain, 0},
		{"wrapped 500", fmt.Errorf("post: %w", slack.StatusCodeError{Code: 502}), outcomeUncertain, 0},
	}
	for _, c := range cases {
		if got, wait := classify(c.err); got != c.want || wait != c.wait {
			t.Errorf("%s: classify = %v, %v; want %v, %v", c.name, got, wait, c.want, c.wait)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		if got := backoff(n, time.Minute); got < want/2 || got > want {
			t.Errorf("backoff(%d) = %v, want between %v and %v", n, got, want/2, want)
		}
	}
	if got := backoff(40, time.Minute); got > time.Minute {
		t.Errorf("backoff(40) = %v, above the cap", got)
	}
}

// Slack refusing a message's blocks, or the thread it belongs to being
// deleted, still gets the message to the channel: as text, or at the top.
func TestPosterFallbacks(t *testing.T) {
	r := newPostRig(t, filepath.Join(t.TempDir(), "mcloud.db"))
	ctx := context.Background()
	req := r.request(customerX, carolCaller)
	gone, _ := r.db.QueueMessage(ctx, planItem(customerX, req))
	if err := r.db.Delivered(ctx, store.OutboxItem{Post: mcloud.Post{ID: gone, ChannelID: customerX, RequestID: req}, Kind: store.KindPlan}, "1600000000.000001"); err != nil {
		t.Fatal(err)
	}
	r.queue(post(customerX, req, "in a deleted thread"))
	msg := ReplyMessage(commands.Reply{Title: "with blocks Slack refuses"}, r.cfg, time.Now())
	blocks, _ := msg.BlocksJSON()
	r.queue(store.OutboxItem{Post: mcloud.Post{ChannelID: customerX, Text: msg.Text}, Blocks: blocks})
	r.ws.Faults(func(method string, n int) *slackfake.Fault {
		if method == "chat.postMessage" && n == 3 { // 1 and 2: the thread post, in the thread and then at the top
			return &slackfake.Fault{Error: "invalid_blocks"}
		}
		return nil
	})
	r.start("replica-a")
	r.waitAllSent(time.Minute)
	msgs := botOnly(r.ws.Messages())
	if len(msgs) != 2 || msgs[0].Text != "in a deleted thread" || msgs[0].ThreadTS != "" ||
		msgs[1].Text != "with blocks Slack refuses" || msgs[1].Blocks != nil {
		t.Fatalf("sent %+v; want the thread post at the top and the other as text alone", msgs)
	}
}

// A request that expires (or is denied elsewhere) tells its thread; the
// plan message then stops offering Approve and Deny.
func TestPosterRefreshesPlanOnExpiry(t *testing.T) {
	r := newPostRig(t, filepath.Join(t.TempDir(), "mcloud.db"))
	ctx := context.Background()
	now := time.Now()
	soon := &mcloud.Request{Verb: "echo", Customer: "customer-x", Plan: mcloud.Plan{Summary: "say hi"},
		Requester: mcloud.Caller{UserID: "U0CAROL", TeamID: "T0CUSTX", Name: "carol", ChannelID: customerX, Role: mcloud.RoleCustomer},
		Needed:    1, CreatedAt: now, ExpiresAt: now.Add(500 * time.Millisecond)}
	if _, err := r.db.Submit(ctx, soon, nil); err != nil {
		t.Fatal(err)
	}
	req := soon.ID
	r.queue(planItem(customerX, req))
	r.start("replica-a")
	r.waitAllSent(time.Minute)
	r.ws.WaitFor(t, time.Minute, "the request to expire", func() bool {
		expired, err := r.db.ExpirePending(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(expired) == 1
	})
	r.queue(post(customerX, req, "Request #1 expired without enough approvals; nothing ran."))
	r.ws.WaitFor(t, time.Minute, "the plan message to show the expiry", func() bool {
		items, _ := r.db.OutboxItems(ctx, "")
		m := rootMessage(r.ws.Messages(), items, req)
		return m.Updates == 1 && blocksHave(m, ":hourglass: Expired") && !blocksHave(m, "mcloud_approve")
	})
}
