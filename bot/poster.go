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
// metadata, and only posted if it is not there. A channel is sent by one
// process at a time under a lease in the store, renewed before each send
// and longer than a send's timeout, so replicas never post the same
// channel's messages concurrently.

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
	"os"
	"slices"
	"strconv"
	"sync"
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
	LeaseChannel(ctx context.Context, channelID, owner string, d time.Duration) (bool, error)
	ReleaseChannel(ctx context.Context, channelID, owner string) error
	NextOutbox(ctx context.Context, channelID string) (*store.OutboxItem, error)
	PendingUpdates(ctx context.Context, requestID int64, channelID string) ([]int64, error)
	ThreadRoot(ctx context.Context, requestID int64, channelID string) (string, error)
	PlanChannels(ctx context.Context, requestID int64) ([]string, error)
	MarkInflight(ctx context.Context, it store.OutboxItem, owner string) error
	Delivered(ctx context.Context, it store.OutboxItem, ts string, also ...int64) error
	Retry(ctx context.Context, id int64, next time.Time, uncertain bool, reason string) error
	Abandon(ctx context.Context, id int64, reason string) error
	QueueMessage(ctx context.Context, it store.OutboxItem) (int64, error)
	Request(ctx context.Context, id int64) (*mcloud.Request, error)
	Job(ctx context.Context, id int64) (*mcloud.Job, error)
}

// PosterOptions tune the poster; zero values take the defaults.
type PosterOptions struct {
	// Interval is the least time between two messages to one channel
	// (default 1s, Slack's chat.postMessage limit).
	Interval time.Duration
	// Timeout bounds one call to Slack (default 10s).
	Timeout time.Duration
	// Lease is how long a channel stays this process's after its last
	// renewal (default 20s); it must exceed Timeout.
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
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := p.db.ReleaseChannel(rctx, channelID, p.opts.Owner); err != nil {
			p.log.Warn("release outbox lease", "channel", channelID, "err", err)
		}
	}()
	var last time.Time
	for ctx.Err() == nil {
		ok, err := p.db.LeaseChannel(ctx, channelID, p.opts.Owner, p.opts.Lease)
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
		p.deliver(ctx, *it)
	}
}

// deliver makes one attempt at it and records the outcome.
func (p *Poster) deliver(ctx context.Context, it store.OutboxItem) {
	var err error
	switch it.Kind {
	case store.KindUpdate:
		err = p.update(ctx, it)
	default:
		err = p.post(ctx, it)
	}
	if err == nil || ctx.Err() != nil || errors.Is(err, store.ErrLeaseLost) {
		// On shutdown the row keeps its state, exactly as after a crash.
		return
	}
	p.failed(ctx, it, err)
}

func (p *Poster) post(ctx context.Context, it store.OutboxItem) error {
	thread := it.ThreadTS
	if thread == "" && it.Kind == store.KindPost && it.RequestID != 0 {
		root, err := p.db.ThreadRoot(ctx, it.RequestID, it.ChannelID)
		if err != nil {
			return err
		}
		thread = root
	}
	if !it.InflightAt.IsZero() {
		ts, found, err := p.find(ctx, it, thread)
		if err != nil {
			return fmt.Errorf("look for message %d in Slack: %w", it.ID, err)
		}
		if found {
			p.log.Info("message was already in Slack; not posting it again", "outbox", it.ID, "channel", it.ChannelID)
			return p.delivered(ctx, it, ts)
		}
	}
	msg, err := p.render(ctx, it)
	if err != nil {
		return err
	}
	if err := p.db.MarkInflight(ctx, it, p.opts.Owner); err != nil {
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
		_, ts, err := p.api.PostMessageContext(cctx, it.ChannelID, opts...)
		switch {
		case err == nil:
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
func (p *Poster) update(ctx context.Context, it store.OutboxItem) error {
	root, err := p.db.ThreadRoot(ctx, it.RequestID, it.ChannelID)
	if err != nil {
		return err
	}
	if root == "" {
		return p.db.Abandon(ctx, it.ID, "the request's plan message was never posted in this channel")
	}
	ids, err := p.db.PendingUpdates(ctx, it.RequestID, it.ChannelID)
	if err != nil {
		return err
	}
	msg, err := p.render(ctx, it)
	if err != nil {
		return err
	}
	if err := p.db.MarkInflight(ctx, it, p.opts.Owner); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	if _, _, _, err := p.api.UpdateMessageContext(cctx, it.ChannelID, root, textOpts(msg)...); err != nil {
		return err
	}
	return p.db.Delivered(context.WithoutCancel(ctx), it, root, ids...)
}

// render makes the message for it: a plan or update shows its request
// as it is now; a post is what was queued.
func (p *Poster) render(ctx context.Context, it store.OutboxItem) (Message, error) {
	if it.Kind == store.KindPost || it.RequestID == 0 {
		return messageFromJSON(it.Text, it.Blocks)
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

// find looks for it among the messages Slack has, by the outbox id in
// their metadata, since it was first sent.
func (p *Poster) find(ctx context.Context, it store.OutboxItem, thread string) (ts string, found bool, err error) {
	// Slack's clock and ours may differ; a wider window only costs a page.
	oldest := fmt.Sprintf("%d.000000", it.InflightAt.Add(-5*time.Minute).Unix())
	want := strconv.FormatInt(it.ID, 10)
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
		if err != nil {
			return "", false, err
		}
		for _, m := range msgs {
			if m.Metadata.EventType == outboxEvent && fmt.Sprint(m.Metadata.EventPayload["outbox_id"]) == want {
				return m.Timestamp, true, nil
			}
		}
		if next == "" {
			return "", false, nil
		}
		cursor = next
	}
	return "", false, errors.New("too many messages since the first attempt to search them all")
}

// failed records a failed attempt and when to try again.
func (p *Poster) failed(ctx context.Context, it store.OutboxItem, err error) {
	o, wait := classify(err)
	ctx = context.WithoutCancel(ctx)
	if o == outcomeDropped {
		p.log.Error("Slack will never accept this message; giving up on it", "outbox", it.ID, "channel", it.ChannelID, "kind", it.Kind, "err", err)
		if aerr := p.db.Abandon(ctx, it.ID, err.Error()); aerr != nil {
			p.log.Error("record abandoned message", "outbox", it.ID, "err", aerr)
		}
		return
	}
	if o != outcomeRateLimited {
		wait = backoff(it.Attempts, p.opts.MaxBackoff)
	}
	level := slog.LevelWarn
	if it.Attempts >= 5 {
		level = slog.LevelError
	}
	p.log.Log(ctx, level, "Slack send failed; will retry", "outbox", it.ID, "channel", it.ChannelID, "kind", it.Kind,
		"attempt", it.Attempts+1, "retry_in", wait.Round(time.Millisecond), "err", err)
	if rerr := p.db.Retry(ctx, it.ID, p.now().Add(wait), o == outcomeUncertain, err.Error()); rerr != nil {
		p.log.Error("record failed send", "outbox", it.ID, "err", rerr)
	}
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
