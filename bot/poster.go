package bot

// The poster delivers the outbox to Slack. Everything the bot says in a
// channel is written to the outbox first (by the request flow and by jobs),
// so a Slack outage or a restart loses nothing; the poster sends each
// channel's messages in order, about one a second, honouring 429
// Retry-After and backing off on other failures.
//
// Exactly once: Slack has no idempotency key for chat.postMessage, so each
// message carries its outbox id in Slack message metadata. Before a send,
// the row is marked in flight; when Slack answers, the ts is recorded and
// the row marked sent in one transaction. A row still in flight when it
// comes up again (the process died waiting, or Slack answered 5xx or not
// at all) is first looked for in the channel or thread history by that
// metadata, and only posted if a look-up that went through the whole
// history found no copy; a look-up that failed in any way leaves the row
// in flight, to be looked for again later. Only the bot's own messages
// (its bot id or app id) count as copies: any app in a shared channel can
// put our metadata on its messages.
//
// A channel is sent by one process at a time under a lease in the store.
// The lease is renewed every third of its term while a message is being
// worked on (a look-up can page through a long history), the work stops
// when it cannot be renewed, and the send itself is fenced: the row is
// marked in flight only while the lease, named by its token, is still
// ours, and that renews it for longer than a send's timeout. So a replica
// that lost a channel never posts in it.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
)

// outboxEvent is the metadata event type that marks our messages.
const outboxEvent = "mcloud_outbox"

// PosterStore is what the poster needs of the store.
type PosterStore interface {
	OutboxChannels(ctx context.Context, owner string) ([]string, error)
	LeaseChannel(ctx context.Context, channelID, owner string, d time.Duration) (store.Lease, bool, error)
	RenewLease(ctx context.Context, l store.Lease) error
	ReleaseChannel(ctx context.Context, l store.Lease) error
	NextOutbox(ctx context.Context, channelID string) (*store.OutboxItem, error)
	PendingUpdates(ctx context.Context, requestID int64, channelID string) ([]int64, error)
	ThreadRoot(ctx context.Context, requestID int64, channelID string) (string, error)
	PlanChannels(ctx context.Context, requestID int64) ([]string, error)
	MarkInflight(ctx context.Context, it store.OutboxItem, l store.Lease) error
	Delivered(ctx context.Context, it store.OutboxItem, ts string, also ...int64) error
	Retry(ctx context.Context, l store.Lease, id int64, next time.Time, uncertain bool, reason string) error
	Abandon(ctx context.Context, l store.Lease, id int64, reason string) error
	QueueMessage(ctx context.Context, it store.OutboxItem) (int64, error)
	Request(ctx context.Context, id int64) (*mcloud.Request, error)
	Job(ctx context.Context, id int64) (*mcloud.Job, error)
	Problem(ctx context.Context, id int64) (mcloud.Problem, error)
}

// PosterOptions tune the poster; zero values take the defaults.
type PosterOptions struct {
	// Interval is the least time between two messages to one channel
	// (default 1s, Slack's chat.postMessage limit).
	Interval time.Duration
	// Timeout bounds one call to Slack (default 10s).
	Timeout time.Duration
	// Lease is how long a channel stays this process's after its last
	// renewal (default 20s); it must exceed Timeout. It is renewed every
	// third of it while a message is worked on.
	Lease time.Duration
	// Poll is how often the outbox is read when nothing wakes the poster
	// (default 1s): jobs write to it without telling us.
	Poll time.Duration
	// MaxBackoff caps the wait between retries of a failing message
	// (default 5m).
	MaxBackoff time.Duration
	// Owner names this process in leases (default host, pid and a random part).
	Owner  string
	Logger *slog.Logger
}

// Poster sends the outbox to Slack.
type Poster struct {
	db   PosterStore
	api  *slack.Client
	cfg  *config.Config
	opts PosterOptions
	log  *slog.Logger
	now  func() time.Time
	wake chan struct{}

	mu     sync.Mutex
	active map[string]bool
	me     identity
	// down is when sends began to fail for want of an answer from Slack
	// (no connection, a timeout, a 5xx), in Unix nanoseconds; 0 once
	// Slack takes a message again.
	down atomic.Int64
}

// UnreachableSince is when sends to Slack began to fail for want of an
// answer (no connection, a timeout, a 5xx), or zero while Slack answers.
// A refusal (rate limit, a channel the bot is not in) is an answer. It is
// known only from sending: with nothing to send, Slack counts as reachable.
func (p *Poster) UnreachableSince() time.Time {
	if n := p.down.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// reached records whether Slack answered a send.
func (p *Poster) reached(ok bool) {
	if ok {
		p.down.Store(0)
		return
	}
	p.down.CompareAndSwap(0, p.now().UnixNano())
}

// UnreachableSince is the poster's: see Poster.UnreachableSince.
func (s *Slack) UnreachableSince() time.Time { return s.poster.UnreachableSince() }

// identity is who the bot is in Slack. Only messages it posted itself
// are copies of an outbox message.
type identity struct {
	botID, appID string
}

// NewPoster makes a poster; Run starts it.
func NewPoster(db PosterStore, api *slack.Client, cfg *config.Config, opts PosterOptions) *Poster {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Lease <= opts.Timeout {
		opts.Lease = 2 * opts.Timeout
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.Owner == "" {
		opts.Owner = newOwner()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Poster{db: db, api: api, cfg: cfg, opts: opts, log: opts.Logger, now: time.Now,
		wake: make(chan struct{}, 1), active: map[string]bool{}}
}

func newOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Wake makes the poster look at the outbox now, after something was queued.
func (p *Poster) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends, then waits for its channel workers.
func (p *Poster) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(p.opts.Poll)
	defer t.Stop()
	for {
		channels, err := p.db.OutboxChannels(ctx, p.opts.Owner)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("read outbox", "err", err)
		}
		for _, ch := range channels {
			p.mu.Lock()
			busy := p.active[ch]
			p.active[ch] = true
			p.mu.Unlock()
			if busy {
				continue
			}
			wg.Go(func() {
				defer func() {
					p.mu.Lock()
					delete(p.active, ch)
					p.mu.Unlock()
				}()
				p.channel(ctx, ch)
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-t.C:
		}
	}
}

// channel sends channelID's messages while this process holds its lease
// and there is something to send.
func (p *Poster) channel(ctx context.Context, channelID string) {
	var lease store.Lease
	defer func() {
		if lease.Token == 0 {
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := p.db.ReleaseChannel(rctx, lease); err != nil {
			p.log.Warn("release outbox lease", "channel", channelID, "err", err)
		}
	}()
	var last time.Time
	for ctx.Err() == nil {
		l, ok, err := p.db.LeaseChannel(ctx, channelID, p.opts.Owner, p.opts.Lease)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("lease outbox channel", "channel", channelID, "err", err)
			sleep(ctx, p.opts.Poll)
			continue
		}
		if !ok {
			return // another process sends this channel
		}
		lease = l
		it, err := p.db.NextOutbox(ctx, channelID)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("read outbox", "channel", channelID, "err", err)
			sleep(ctx, p.opts.Poll)
			continue
		}
		if it == nil {
			return
		}
		now := p.now()
		if wait := it.NextAt.Sub(now); wait > 0 {
			sleep(ctx, min(wait, p.opts.Lease/3)) // then renew the lease and look again
			continue
		}
		if wait := last.Add(p.opts.Interval).Sub(now); wait > 0 {
			sleep(ctx, wait)
			continue
		}
		last = now
		if !p.underLease(ctx, lease, func(ctx context.Context) { p.deliver(ctx, lease, *it) }) {
			p.log.Warn("lost the outbox lease while sending; another process sends this channel now", "channel", channelID)
			lease = store.Lease{}
			return
		}
	}
}

// underLease runs work with a context that ends if l is lost: l is renewed
// every third of its term meanwhile, and work is stopped when it was taken
// over or could not be renewed for two thirds of its term (the store is
// unreachable; soon another replica may take it). It reports whether l
// was held throughout.
func (p *Poster) underLease(ctx context.Context, l store.Lease, work func(ctx context.Context)) bool {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(p.opts.Lease / 3)
		defer t.Stop()
		renewed := p.now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			err := p.db.RenewLease(wctx, l)
			switch {
			case err == nil:
				renewed = p.now()
			case errors.Is(err, store.ErrLeaseLost):
				cancel(store.ErrLeaseLost)
				return
			case wctx.Err() != nil:
				return
			default:
				p.log.Warn("renew outbox lease", "channel", l.ChannelID, "err", err)
				if p.now().Sub(renewed) >= p.opts.Lease*2/3 {
					cancel(store.ErrLeaseLost)
					return
				}
			}
		}
	})
	work(wctx)
	close(done)
	wg.Wait()
	return !errors.Is(context.Cause(wctx), store.ErrLeaseLost)
}

// deliver makes one attempt at it under lease and records the outcome.
func (p *Poster) deliver(ctx context.Context, lease store.Lease, it store.OutboxItem) {
	var err error
	switch it.Kind {
	case store.KindUpdate:
		err = p.update(ctx, lease, it)
	default:
		err = p.post(ctx, lease, it)
	}
	if err == nil || ctx.Err() != nil || errors.Is(err, store.ErrLeaseLost) || errors.Is(err, store.ErrNotPending) {
		// On shutdown, or once the lease is lost, the row keeps its state,
		// exactly as after a crash.
		return
	}
	p.failed(ctx, lease, it, err)
}

func (p *Poster) post(ctx context.Context, lease store.Lease, it store.OutboxItem) error {
	thread := it.ThreadTS
	if thread == "" && it.Kind == store.KindPost && it.RequestID != 0 {
		root, err := p.db.ThreadRoot(ctx, it.RequestID, it.ChannelID)
		if err != nil {
			return err
		}
		thread = root
	}
	if !it.InflightAt.IsZero() {
		ts, err := p.find(ctx, it, thread)
		switch afterLookup(ts, err) {
		case lookupFailed:
			return &lookupError{id: it.ID, err: err}
		case lookupFound:
			p.log.Info("message was already in Slack; not posting it again", "outbox", it.ID, "channel", it.ChannelID)
			return p.delivered(ctx, it, ts)
		}
	}
	msg, err := p.render(ctx, it)
	if err != nil {
		return err
	}
	if err := p.db.MarkInflight(ctx, it, lease); err != nil {
		return err
	}
	blocks := msg.Blocks
	cctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	for {
		opts := append(textOpts(Message{Text: msg.Text, Blocks: blocks}),
			slack.MsgOptionMetadata(slack.SlackMetadata{EventType: outboxEvent,
				EventPayload: map[string]any{"outbox_id": strconv.FormatInt(it.ID, 10)}}))
		if thread != "" {
			opts = append(opts, slack.MsgOptionTS(thread))
		}
		_, ts, sent, err := p.api.PostMessageWithResponseContext(cctx, it.ChannelID, opts...)
		switch {
		case err == nil:
			p.learn(sent)
			return p.delivered(ctx, it, ts)
		case slackError(err, "invalid_blocks", "invalid_blocks_format") && len(blocks) > 0:
			// The text says the same, without buttons: better than nothing.
			p.log.Error("Slack refused a message's blocks; sending its text alone", "outbox", it.ID, "err", err)
			blocks = nil
		case slackError(err, "thread_not_found") && thread != "":
			// Someone deleted the plan message; the thread is gone with it.
			p.log.Warn("thread is gone; posting in the channel", "outbox", it.ID, "channel", it.ChannelID)
			thread = ""
		default:
			return err
		}
	}
}

func (p *Poster) delivered(ctx context.Context, it store.OutboxItem, ts string) error {
	p.reached(true)
	// Record it even if ctx just ended: it is in Slack now.
	if err := p.db.Delivered(context.WithoutCancel(ctx), it, ts); err != nil {
		return err
	}
	p.followUp(ctx, it)
	return nil
}

// followUp refreshes a plan message when a post in its thread tells of an
// end the message should show too: the job's last word (the message then
// says how it ended and drops Cancel), or a request denied or expired
// (the message then drops Approve and Deny).
func (p *Poster) followUp(ctx context.Context, it store.OutboxItem) {
	if it.Kind != store.KindPost || it.RequestID == 0 {
		return
	}
	if it.JobID != 0 {
		if job, err := p.db.Job(ctx, it.JobID); err != nil || !job.Status.Done() {
			return
		}
	} else if req, err := p.db.Request(ctx, it.RequestID); err != nil || req.Status == mcloud.RequestPending || req.Status == mcloud.RequestApproved {
		return
	}
	// Every copy of the plan (the requester's, the approvers') shows the end.
	channels, err := p.db.PlanChannels(ctx, it.RequestID)
	if err != nil {
		p.log.Warn("find plan messages to refresh", "request", it.RequestID, "err", err)
		return
	}
	for _, ch := range channels {
		if root, err := p.db.ThreadRoot(ctx, it.RequestID, ch); err != nil || root == "" {
			continue
		}
		if pending, err := p.db.PendingUpdates(ctx, it.RequestID, ch); err != nil || len(pending) > 0 {
			continue // one is on its way
		}
		if _, err := p.db.QueueMessage(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: ch, RequestID: it.RequestID,
			JobID: it.JobID, Text: fmt.Sprintf("(refresh the plan message of request #%d)", it.RequestID)}, Kind: store.KindUpdate}); err != nil {
			p.log.Warn("queue plan message refresh", "request", it.RequestID, "err", err)
		}
	}
}

// update re-renders a request's plan message in place. Updates are
// idempotent, so one showing the newest state answers every pending one.
func (p *Poster) update(ctx context.Context, lease store.Lease, it store.OutboxItem) error {
	root, err := p.db.ThreadRoot(ctx, it.RequestID, it.ChannelID)
	if err != nil {
		return err
	}
	if root == "" {
		return p.db.Abandon(ctx, lease, it.ID, "the request's plan message was never posted in this channel")
	}
	ids, err := p.db.PendingUpdates(ctx, it.RequestID, it.ChannelID)
	if err != nil {
		return err
	}
	msg, err := p.render(ctx, it)
	if err != nil {
		return err
	}
	if err := p.db.MarkInflight(ctx, it, lease); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	if _, _, _, err := p.api.UpdateMessageContext(cctx, it.ChannelID, root, textOpts(msg)...); err != nil {
		return err
	}
	p.reached(true)
	return p.db.Delivered(context.WithoutCancel(ctx), it, root, ids...)
}

// render makes the message for it: a plan or update shows its request
// as it is now; an alert problem's message its text as recorded, with
// the Acknowledge button while the problem is as it now is; a post is
// what was queued.
func (p *Poster) render(ctx context.Context, it store.OutboxItem) (Message, error) {
	if it.Kind == store.KindPost || it.RequestID == 0 {
		return messageFromJSON(it.Text, it.Blocks)
	}
	if it.RequestID < 0 {
		pr, err := p.db.Problem(ctx, -it.RequestID)
		switch {
		case mcloud.ErrorCode(err) == mcloud.ENOTFOUND: // a storm summary: text only
			return messageFromJSON(it.Text, it.Blocks)
		case err != nil:
			return Message{}, err
		}
		return AlertMessage(it.Text, pr, p.cfg, p.now()), nil
	}
	req, err := p.db.Request(ctx, it.RequestID)
	if mcloud.ErrorCode(err) == mcloud.ENOTFOUND {
		return messageFromJSON(it.Text, it.Blocks)
	}
	if err != nil {
		return Message{}, err
	}
	var job *mcloud.Job
	if req.JobID != 0 {
		if job, err = p.db.Job(ctx, req.JobID); err != nil {
			return Message{}, err
		}
	}
	return PlanMessage(req, job, p.cfg, p.now()), nil
}

// find looks for the bot's own copy of it among the messages Slack has,
// by the outbox id in their metadata, since it was first sent, and
// returns its ts, or "" when the whole history since then has no copy.
// Any error means the look-up proves nothing.
func (p *Poster) find(ctx context.Context, it store.OutboxItem, thread string) (string, error) {
	me, err := p.whoAmI(ctx)
	if err != nil {
		return "", err
	}
	// Slack's clock and ours may differ; a wider window only costs a page.
	oldest := fmt.Sprintf("%d.000000", it.InflightAt.Add(-5*time.Minute).Unix())
	cursor := ""
	for range 50 {
		cctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
		var msgs []slack.Message
		var next string
		if thread != "" {
			msgs, _, next, err = p.api.GetConversationRepliesContext(cctx, &slack.GetConversationRepliesParameters{
				ChannelID: it.ChannelID, Timestamp: thread, Oldest: oldest, Cursor: cursor, Limit: 200, IncludeAllMetadata: true})
		} else {
			var resp *slack.GetConversationHistoryResponse
			resp, err = p.api.GetConversationHistoryContext(cctx, &slack.GetConversationHistoryParameters{
				ChannelID: it.ChannelID, Oldest: oldest, Cursor: cursor, Limit: 200, IncludeAllMetadata: true})
			if resp != nil {
				msgs, next = resp.Messages, resp.ResponseMetaData.NextCursor
			}
		}
		cancel()
		if slackError(err, "thread_not_found") && thread != "" && cursor == "" {
			// The plan message is gone, and its thread with it; a send
			// since then went to the top of the channel, so look there.
			thread = ""
			continue
		}
		if err != nil {
			return "", err
		}
		for _, m := range msgs {
			if isCopy(m, me, it.ID) {
				return m.Timestamp, nil
			}
		}
		if next == "" {
			return "", nil
		}
		cursor = next
	}
	return "", errors.New("too many messages since the first attempt to search them all")
}

// isCopy reports whether m is the bot's own post of outbox message id.
// The metadata alone proves nothing: another app in a shared channel can
// post a message with our event type and the next outbox id, and taking
// it for ours would leave the real message unsent and thread replies
// under the other app's.
func isCopy(m slack.Message, me identity, id int64) bool {
	if m.Metadata.EventType != outboxEvent || fmt.Sprint(m.Metadata.EventPayload["outbox_id"]) != strconv.FormatInt(id, 10) {
		return false
	}
	switch {
	case me.botID != "" && m.BotID != "":
		return m.BotID == me.botID
	case me.appID != "" && m.BotProfile != nil && m.BotProfile.AppID != "":
		return m.BotProfile.AppID == me.appID
	}
	return false // not a bot's message, or we cannot tell whose
}

// whoAmI is the bot's identity: from auth.test the first time it is
// needed, and from the answers to its own posts.
func (p *Poster) whoAmI(ctx context.Context) (identity, error) {
	p.mu.Lock()
	me := p.me
	p.mu.Unlock()
	if me.botID != "" {
		return me, nil
	}
	cctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	resp, err := p.api.AuthTestContext(cctx)
	if err != nil {
		return identity{}, fmt.Errorf("ask Slack which bot this is (auth.test): %w", err)
	}
	if resp.BotID == "" {
		return identity{}, errors.New("auth.test names no bot_id: slack.bot_token must be a bot token (xoxb-)")
	}
	p.learn(slack.Message{Msg: slack.Msg{BotID: resp.BotID}})
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.me, nil
}

// learn takes the bot's identity from a message it posted itself.
func (p *Poster) learn(m slack.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m.BotID != "" {
		p.me.botID = m.BotID
	}
	if m.BotProfile != nil && m.BotProfile.AppID != "" {
		p.me.appID = m.BotProfile.AppID
	}
}

// lookup is what a look-up for a message that may be in Slack allows.
type lookup int

const (
	lookupFailed   lookup = iota // it may be there or not: keep it in flight, look again later
	lookupFound                  // it is there: record it, do not send it
	lookupNotFound               // the whole history since the first try has no copy: send it
)

// afterLookup decides what a look-up's result allows. Only a look-up that
// went through and found nothing allows sending again: whatever a failed
// one said (a rate limit, a missing scope, a 5xx, a dropped connection),
// the message may already be in the channel.
func afterLookup(ts string, err error) lookup {
	switch {
	case err != nil:
		return lookupFailed
	case ts != "":
		return lookupFound
	}
	return lookupNotFound
}

// lookupError is a failed look-up for message id, which may be in Slack.
type lookupError struct {
	id  int64
	err error
}

func (e *lookupError) Error() string {
	return fmt.Sprintf("look for message %d in Slack: %v", e.id, e.err)
}

func (e *lookupError) Unwrap() error { return e.err }

// failed records a failed attempt under lease and when to try again.
func (p *Poster) failed(ctx context.Context, lease store.Lease, it store.OutboxItem, err error) {
	if unreachable(err) {
		p.reached(false)
	}
	v := judge(err)
	ctx = context.WithoutCancel(ctx)
	if v.drop {
		p.log.Error("Slack will never accept this message; giving up on it", "outbox", it.ID, "channel", it.ChannelID, "kind", it.Kind, "err", err)
		if aerr := p.db.Abandon(ctx, lease, it.ID, err.Error()); aerr != nil {
			p.log.Error("record abandoned message", "outbox", it.ID, "err", aerr)
		}
		return
	}
	wait := v.wait
	if wait == 0 {
		wait = backoff(it.Attempts, p.opts.MaxBackoff)
	}
	level := slog.LevelWarn
	if it.Attempts >= 5 {
		level = slog.LevelError
	}
	p.log.Log(ctx, level, "Slack send failed; will retry", "outbox", it.ID, "channel", it.ChannelID, "kind", it.Kind,
		"attempt", it.Attempts+1, "retry_in", wait.Round(time.Millisecond), "in_flight", v.uncertain, "err", err)
	if rerr := p.db.Retry(ctx, lease, it.ID, p.now().Add(wait), v.uncertain, err.Error()); rerr != nil {
		p.log.Error("record failed send", "outbox", it.ID, "err", rerr)
	}
}

// verdict is what a failed attempt means for its message.
type verdict struct {
	// drop: Slack will never accept it; give it up.
	drop bool
	// uncertain: it may be in Slack; keep it in flight, so it is looked
	// for before it is sent again.
	uncertain bool
	// wait before the next attempt; 0 means back off.
	wait time.Duration
}

// judge decides what a failed attempt means. A failed look-up leaves its
// message uncertain whatever Slack answered (see afterLookup) and never
// gives it up; a rate limit sets the wait either way.
func judge(err error) verdict {
	o, wait := classify(err)
	if o != outcomeRateLimited {
		wait = 0
	}
	var le *lookupError
	if errors.As(err, &le) {
		return verdict{uncertain: true, wait: wait}
	}
	return verdict{drop: o == outcomeDropped, uncertain: o == outcomeUncertain, wait: wait}
}

// unreachable reports whether err is Slack not answering: no connection
// or a timeout (the HTTP client's *url.Error), a 5xx, or Slack's own
// "try later" errors. Our store failing is not Slack's outage.
func unreachable(err error) bool {
	if o, _ := classify(err); o != outcomeUncertain {
		return false
	}
	var ue *url.Error
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	return errors.As(err, &ue) || errors.As(err, &sc) || errors.As(err, &se)
}

type outcome int

const (
	outcomeRateLimited outcome = iota // Slack said wait; nothing was posted
	outcomeRefused                    // Slack said no; nothing was posted; try later
	outcomeUncertain                  // no clear answer; it may have been posted
	outcomeDropped                    // Slack will never accept this message
)

// classify decides what a failed Slack call means for its message.
func classify(err error) (outcome, time.Duration) {
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		return outcomeRateLimited, max(rl.RetryAfter, time.Second)
	case errors.As(err, &sc):
		switch {
		case sc.Code == http.StatusTooManyRequests:
			return outcomeRateLimited, time.Second
		case sc.Code >= 500:
			return outcomeUncertain, 0
		}
		return outcomeRefused, 0
	case errors.As(err, &se):
		switch se.Err {
		case "ratelimited":
			return outcomeRateLimited, time.Second
		case "internal_error", "fatal_error", "request_timeout", "service_unavailable":
			return outcomeUncertain, 0
		case "msg_too_long", "no_text", "invalid_blocks", "invalid_blocks_format", "invalid_metadata_format",
			"invalid_metadata_schema", "metadata_too_large", "too_many_attachments", "message_not_found",
			"cant_update_message", "edit_window_closed", "thread_not_found":
			return outcomeDropped, 0
		}
		// channel_not_found, not_in_channel, invalid_auth and the like hold
		// the whole channel until someone fixes the app or invites the bot;
		// nothing is lost meanwhile.
		return outcomeRefused, 0
	}
	return outcomeUncertain, 0
}

// textOpts are msg's text, escaped so nothing in it becomes markup, and
// its blocks when it has any (an empty blocks list would erase them).
func textOpts(msg Message) []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(clip(msg.Text, maxText), true)}
	if len(msg.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(msg.Blocks...))
	}
	return opts
}

// slackError reports whether err is Slack answering ok:false with one of codes.
func slackError(err error, codes ...string) bool {
	var se slack.SlackErrorResponse
	return errors.As(err, &se) && slices.Contains(codes, se.Err)
}

// backoff is the wait before attempt n+1: 1s, 2s, 4s, ... capped, with
// jitter so replicas do not retry in step.
func backoff(attempts int, limit time.Duration) time.Duration {
	d := time.Duration(float64(time.Second) * math.Pow(2, float64(min(attempts, 20))))
	d = min(d, limit)
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}
