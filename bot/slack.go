package bot

// The Slack adapter: signed HTTP requests (slash commands, button clicks,
// events) or Socket Mode envelopes in; commands run by the same service
// the shell uses; answers out through the outbox (what the channel sees)
// or response_url / chat.postEphemeral (what only the caller sees).
//
// Slack wants an answer within 3 seconds and retries events that get none,
// so every handler only verifies, parses and stores the delivery (see
// ingress.go); bounded workers do the rest.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/httpguard"
)

// SlashCommand is the app's one command.
const SlashCommand = "/mcloud"

const (
	// maxBody bounds a request body read before it is verified.
	maxBody = 1 << 20
	// maxSkew is how far a request's timestamp may be from our clock.
	maxSkew = 5 * time.Minute
	// dedupeTTL is how long a delivery is remembered; Slack retries for
	// minutes, 15 at most.
	dedupeTTL = time.Hour
	// responseURLUses and responseURLLife are Slack's limits on one
	// response_url.
	responseURLUses = 5
	responseURLLife = 30 * time.Minute
	// taskTimeout bounds one command's work.
	taskTimeout = 2 * time.Minute
)

// SlackStore is what the Slack adapter needs of the store.
type SlackStore interface {
	PosterStore
	TakeDelivery(ctx context.Context, key, payload string, ttl time.Duration) (bool, error)
	ClaimDelivery(ctx context.Context, owner string, lease time.Duration) (*store.Delivery, error)
	RenewDelivery(ctx context.Context, key, owner string, lease time.Duration) (bool, error)
	FinishDelivery(ctx context.Context, key, owner string, msgs []store.OutboxItem) (bool, error)
	PurgeDeliveries(ctx context.Context, before time.Time) (int64, error)
	Ping(ctx context.Context) error
}

var _ SlackStore = (*store.DB)(nil)

// SlackOptions tune the adapter; zero values take the defaults.
type SlackOptions struct {
	Logger *slog.Logger
	// Workers run commands at once (default 16); more wait in the
	// database: a waiting command is answered through its response_url,
	// which lasts 30 minutes, so waiting beats refusing.
	Workers int
	// Lease is how long a delivery claimed by a process that stopped
	// waits before another takes it over (default 30 s).
	Lease time.Duration
	// Readers bounds the request bodies read at once (default 16); more
	// are refused with 503.
	Readers int
	// Owner names this process in the deliveries it claims (default:
	// host, pid and a random suffix).
	Owner  string
	Poster PosterOptions
	// HTTPClient calls the Web API and response URLs (default: a client
	// with the poster's timeout).
	HTTPClient *http.Client
}

// Slack is the Slack adapter.
type Slack struct {
	svc      *commands.Service
	cfg      *config.Config
	db       SlackStore
	api      *slack.Client
	poster   *Poster
	log      *slog.Logger
	secret   string
	appToken string
	mode     string
	apiHost  string
	http     *http.Client
	guard    *httpguard.Guard
	workers  int
	lease    time.Duration
	owner    string
	// wake tells the dispatcher a delivery was stored.
	wake chan struct{}
	// connected is whether Slack is reachable: Socket Mode connected, or
	// in HTTP mode the bot token accepted by auth.test.
	connected atomic.Bool
	now       func() time.Time
	// taskDone, when set (tests), hears of each delivery worked.
	taskDone func(key string)
}

// NewSlack builds the adapter from the service's configuration; the
// secrets are read from the environment variables it names.
func NewSlack(svc *commands.Service, db SlackStore, opts SlackOptions) (*Slack, error) {
	cfg := svc.Config()
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	if opts.Lease <= 0 {
		opts.Lease = defaultLease
	}
	if opts.Owner == "" {
		opts.Owner = newOwner()
	}
	if opts.Poster.Logger == nil {
		opts.Poster.Logger = opts.Logger
	}
	token, ok := cfg.Slack.BotToken.Value()
	if !ok {
		return nil, fmt.Errorf("slack.bot_token: environment variable %s is not set", cfg.Slack.BotToken.Ref)
	}
	s := &Slack{svc: svc, cfg: cfg, db: db, log: opts.Logger, mode: cfg.SlackMode(), guard: newGuard(opts),
		workers: opts.Workers, lease: opts.Lease, owner: opts.Owner, wake: make(chan struct{}, 1), now: time.Now}
	switch s.mode {
	case config.SlackSocket:
		if s.appToken, ok = cfg.Slack.AppToken.Value(); !ok {
			return nil, fmt.Errorf("slack.app_token: Socket Mode needs it, and environment variable %s is not set", cfg.Slack.AppToken.Ref)
		}
	default:
		if s.secret, ok = cfg.Slack.SigningSecret.Value(); !ok {
			return nil, fmt.Errorf("slack.signing_secret: HTTP mode needs it, and environment variable %s is not set", cfg.Slack.SigningSecret.Ref)
		}
	}
	// A Socket Mode app may still take signed HTTP requests when it has a
	// signing secret (moving from one mode to the other).
	if s.secret == "" {
		s.secret, _ = cfg.Slack.SigningSecret.Value()
	}
	u, err := url.Parse(cfg.Slack.APIURL)
	if err != nil {
		return nil, fmt.Errorf("slack.api_url: %w", err)
	}
	s.apiHost = u.Host
	s.http = opts.HTTPClient
	if s.http == nil {
		timeout := opts.Poster.Timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		s.http = &http.Client{Timeout: timeout}
	}
	apiURL := cfg.Slack.APIURL
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	s.api = slack.New(token, slack.OptionAPIURL(apiURL), slack.OptionHTTPClient(s.http), slack.OptionAppLevelToken(s.appToken))
	s.poster = NewPoster(db, s.api, cfg, opts.Poster)
	return s, nil
}

// Mode is "socket" or "http".
func (s *Slack) Mode() string { return s.mode }

// Ready reports whether the store answers and Slack is connected.
func (s *Slack) Ready(ctx context.Context) error {
	if err := s.db.Ping(ctx); err != nil {
		// /readyz is unauthenticated: the detail goes to the log only.
		s.log.Warn("readiness: database unreachable", "err", err)
		return errors.New("database unreachable")
	}
	if !s.connected.Load() {
		if s.mode == config.SlackSocket {
			return errors.New("Slack Socket Mode not connected")
		}
		return errors.New("Slack Web API not reachable yet")
	}
	return nil
}

// Run works deliveries, delivers the outbox, and (in Socket Mode) keeps
// the connection to Slack, until ctx ends. Deliveries being worked are
// finished before it returns; the others stay stored for the next start.
func (s *Slack) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { s.dispatch(ctx) })
	wg.Go(func() { s.poster.Run(ctx) })
	wg.Go(func() { s.janitor(ctx) })
	if s.mode == config.SlackSocket {
		wg.Go(func() { s.runSocketMode(ctx) })
	} else {
		wg.Go(func() { s.checkAuth(ctx) })
	}
	wg.Wait()
	return nil
}

// janitor forgets old deliveries.
func (s *Slack) janitor(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		if _, err := s.db.PurgeDeliveries(ctx, s.now().Add(-dedupeTTL)); err != nil && ctx.Err() == nil {
			s.log.Warn("purge old Slack deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkAuth confirms the bot token with auth.test, retrying until Slack
// answers, for readiness in HTTP mode.
func (s *Slack) checkAuth(ctx context.Context) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := s.api.AuthTestContext(cctx)
		cancel()
		if err == nil {
			s.connected.Store(true)
			s.log.Info("connected to Slack", "mode", s.mode, "team", resp.TeamID, "bot_user", resp.UserID)
			return
		}
		wait := backoff(attempt, time.Minute)
		s.log.Warn("Slack Web API not reachable; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
		if sleep(ctx, wait) != nil {
			return
		}
	}
}

// Handler serves the Slack endpoints: /slack/commands, /slack/interactivity
// and /slack/events. Every request is verified before it is parsed.
func (s *Slack) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /slack/commands", s.guarded(s.handleCommand))
	mux.Handle("POST /slack/interactivity", s.guarded(s.handleInteraction))
	mux.Handle("POST /slack/events", s.guarded(s.handleEvent))
	return mux
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

func (s *Slack) reject(w http.ResponseWriter, r *http.Request, status int, why string) {
	s.log.Warn("refused a Slack request", "path", r.URL.Path, "remote", r.RemoteAddr, "status", status, "why", why)
	http.Error(w, http.StatusText(status), status)
}

func (s *Slack) badRequest(w http.ResponseWriter, r *http.Request, why string) {
	s.log.Warn("malformed Slack request", "path", r.URL.Path, "remote", r.RemoteAddr, "why", why)
	http.Error(w, "bad request: "+why, http.StatusBadRequest)
}

const busyText = "mcloud cannot take this on right now (too busy, or its database is not answering); nothing was done. Try again in a minute."

// busyEphemeral answers a slash command in its acknowledgement.
func busyEphemeral(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"response_type": "ephemeral", "text": busyText})
}

// busyRetry makes Slack retry (events) or show an error (clicks).
func busyRetry(w http.ResponseWriter) {
	http.Error(w, busyText, http.StatusServiceUnavailable)
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

func (s *Slack) handleCommand(w http.ResponseWriter, r *http.Request) {
	form, ok := s.verifiedForm(w, r)
	if !ok {
		return
	}
	cmd := slashFromForm(form)
	if cmd.Command != SlashCommand {
		s.badRequest(w, r, fmt.Sprintf("unknown command %q; this app has %s", cmd.Command, SlashCommand))
		return
	}
	if cmd.UserID == "" || cmd.TeamID == "" || cmd.ChannelID == "" {
		s.badRequest(w, r, "user_id, team_id and channel_id are required")
		return
	}
	s.take(w, r, commandKey(cmd), commandPayload(commandInput(cmd, s.now())), busyEphemeral)
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
	if cb.Type != slack.InteractionTypeBlockActions {
		s.log.Info("ignored a Slack interaction", "type", cb.Type)
		w.WriteHeader(http.StatusOK)
		return
	}
	acts, err := actionInputs(cb, s.now())
	if err != nil {
		s.badRequest(w, r, err.Error())
		return
	}
	s.take(w, r, actionKey(cb), actionPayload(acts), busyRetry)
}

// eventEnvelope is the outer Events API payload.
type eventEnvelope struct {
	Type         string          `json:"type"`
	Challenge    string          `json:"challenge"`
	TeamID       string          `json:"team_id"`
	EnterpriseID string          `json:"enterprise_id"`
	EventID      string          `json:"event_id"`
	Event        json.RawMessage `json:"event"`
}

type mentionEvent struct {
	Type     string `json:"type"`
	User     string `json:"user"`
	UserTeam string `json:"user_team"`
	Text     string `json:"text"`
	TS       string `json:"ts"`
	ThreadTS string `json:"thread_ts"`
	Channel  string `json:"channel"`
	BotID    string `json:"bot_id"`
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
	in, ok := mentionInput(env, ev, s.now())
	if !ok {
		w.WriteHeader(http.StatusOK)
		return
	}
	s.take(w, r, eventKey(env), commandPayload(in), busyRetry)
}

// The keys a delivery is remembered by: Slack retries carry the same
// event id, and a duplicated click or command the same trigger id.
func commandKey(c slack.SlashCommand) string {
	if c.TriggerID == "" {
		return ""
	}
	return "slack:command:" + c.TeamID + ":" + c.TriggerID
}

func actionKey(cb slack.InteractionCallback) string {
	if cb.TriggerID == "" {
		return ""
	}
	return "slack:action:" + cb.Team.ID + ":" + cb.TriggerID
}

func eventKey(env eventEnvelope) string {
	if env.EventID == "" {
		return ""
	}
	return "slack:event:" + env.TeamID + ":" + env.EventID
}

func slashFromForm(f url.Values) slack.SlashCommand {
	return slack.SlashCommand{TeamID: f.Get("team_id"), TeamDomain: f.Get("team_domain"), EnterpriseID: f.Get("enterprise_id"),
		ChannelID: f.Get("channel_id"), ChannelName: f.Get("channel_name"), UserID: f.Get("user_id"), UserName: f.Get("user_name"),
		Command: f.Get("command"), Text: f.Get("text"), ResponseURL: f.Get("response_url"), TriggerID: f.Get("trigger_id"),
		APIAppID: f.Get("api_app_id")}
}

// input is one command line from Slack with who sent it, where, and how to
// answer them; identities come from the verified payload only.
type input struct {
	id          config.Identity
	channel     string
	text        string
	responseURL string
	// threadTS is the thread public answers go to (a mention's).
	threadTS string
	// ephemeralTS is the thread an ephemeral answer shows in.
	ephemeralTS string
	at          time.Time
}

// action is one button click.
type action struct {
	input
	actionID, value string
}

func commandInput(c slack.SlashCommand, at time.Time) input {
	return input{id: config.Identity{UserID: c.UserID, TeamID: c.TeamID, EnterpriseID: c.EnterpriseID, Name: c.UserName},
		channel: c.ChannelID, text: c.Text, responseURL: c.ResponseURL, at: at}
}

// actionInputs reads the clicks of a block_actions payload. The user's own
// workspace is user.team_id (Slack Connect), else the payload's team.
func actionInputs(cb slack.InteractionCallback, at time.Time) ([]action, error) {
	team := cb.User.TeamID
	if team == "" {
		team = cb.Team.ID
	}
	if cb.User.ID == "" || team == "" || cb.Channel.ID == "" {
		return nil, errors.New("user.id, team and channel.id are required")
	}
	in := input{id: config.Identity{UserID: cb.User.ID, TeamID: team, EnterpriseID: cb.Enterprise.ID, Name: cb.User.Name},
		channel: cb.Channel.ID, responseURL: cb.ResponseURL, at: at}
	var out []action
	for _, a := range cb.ActionCallback.BlockActions {
		out = append(out, action{input: in, actionID: a.ActionID, value: a.Value})
	}
	if len(out) == 0 {
		return nil, errors.New("block_actions without actions")
	}
	return out, nil
}

var leadingMention = regexp.MustCompile(`^\s*<@[A-Z0-9]+(\|[^>]*)?>[\s:,]*`)

// mentionInput reads "@mcloud <command>" from an app_mention event; ok is
// false for events that are not one (another type, a bot's message).
func mentionInput(env eventEnvelope, ev mentionEvent, at time.Time) (input, bool) {
	if ev.Type != "app_mention" || ev.BotID != "" || ev.User == "" || ev.Channel == "" {
		return input{}, false
	}
	team := ev.UserTeam
	if team == "" {
		team = env.TeamID
	}
	thread := ev.ThreadTS
	if thread == "" {
		thread = ev.TS
	}
	return input{id: config.Identity{UserID: ev.User, TeamID: team, EnterpriseID: env.EnterpriseID},
		channel: ev.Channel, text: leadingMention.ReplaceAllString(ev.Text, ""), threadTS: thread, ephemeralTS: ev.ThreadTS, at: at}, true
}

// caller resolves a verified identity in a channel to a role (see
// config.Resolve). A configured user is shown by the configured name only
// when they come from the workspace the configuration places them in; a
// name from anywhere else is marked with its workspace, so nobody passes
// for a colleague in the bot's messages.
func (s *Slack) caller(id config.Identity, channel string) mcloud.Caller {
	id.Name = s.displayName(id)
	return s.cfg.Resolve(id, channel)
}

func (s *Slack) displayName(id config.Identity) string {
	devops := s.cfg.DevOpsWorkspace().Vouches(id.TeamID, id.EnterpriseID)
	for _, u := range s.cfg.Team.Users {
		if u.ID == id.UserID && devops {
			return u.Name
		}
	}
	for i := range s.cfg.Customers {
		cu := &s.cfg.Customers[i]
		for _, u := range cu.Users {
			if u.ID == id.UserID && cu.Workspace().Vouches(id.TeamID, id.EnterpriseID) {
				return u.Name
			}
		}
	}
	name := id.Name
	if name == "" {
		name = id.UserID
	}
	if !devops {
		name += " (" + id.TeamID + ")"
	}
	return name
}

// runCommand runs a typed command (slash or mention) and answers it.
func (s *Slack) runCommand(ctx context.Context, in input) {
	caller := s.caller(in.id, in.channel)
	rs := newResponder(in.responseURL, in.at)
	reply := s.svc.Handle(ctx, caller, in.text)
	switch {
	case reply.Error != "" || !mcloud.Public(caller, reply.Private):
		// Outside team and customer channels only the caller sees an
		// answer; a decision still refreshes its plan messages, which
		// live in the request's own channel and the approvals channel.
		s.ephemeral(ctx, caller, in, rs, ReplyMessage(reply, s.cfg, s.now()))
		if r := reply.Request; reply.Error == "" && !reply.Private && r != nil && r.ID != 0 {
			s.queueUpdates(ctx, r.ID)
		}
	case reply.Request != nil && reply.Title == "" && !reply.DryRun:
		// A new request: its plan message is the root of its thread,
		// rendered when sent so it shows the request as it is then.
		msg := ReplyMessage(reply, s.cfg, s.now())
		s.queue(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: caller.ChannelID, RequestID: reply.Request.ID, Text: msg.Text},
			Kind: store.KindPlan})
	default:
		msg := ReplyMessage(reply, s.cfg, s.now())
		blocks, err := msg.BlocksJSON()
		if err != nil {
			s.log.Error("render reply", "err", err)
		}
		s.queue(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: caller.ChannelID, Text: msg.Text}, Blocks: blocks, ThreadTS: in.threadTS})
		if r := reply.Request; r != nil && r.ID != 0 {
			s.queueUpdates(ctx, r.ID)
		}
	}
}

// runAction runs a button click as the command it stands for, through the
// same code as the typed command. On success the verbs have told the
// thread what the channel should know, and the plan message is updated to
// show the decision; only what went wrong is shown to the clicker alone.
func (s *Slack) runAction(ctx context.Context, a action) {
	caller := s.caller(a.id, a.channel)
	rs := newResponder(a.responseURL, a.at)
	verb := map[string]string{ActionApprove: "approve", ActionDeny: "deny", ActionCancel: "cancel"}[a.actionID]
	id, err := strconv.ParseInt(a.value, 10, 64)
	if verb == "" || err != nil || id <= 0 {
		s.log.Warn("unknown Slack button", "action_id", a.actionID, "value", a.value)
		s.ephemeral(ctx, caller, a.input, rs, ReplyMessage(commands.Reply{Error: "That button is not one mcloud knows; nothing was done.", Usage: "/mcloud help"}, s.cfg, s.now()))
		return
	}
	reply := s.svc.Handle(ctx, caller, fmt.Sprintf("%s %d", verb, id))
	if reply.Error != "" || reply.Private {
		s.ephemeral(ctx, caller, a.input, rs, ReplyMessage(reply, s.cfg, s.now()))
	}
	switch {
	case verb == "cancel":
		if job, err := s.db.Job(ctx, id); err == nil && job.RequestID != 0 {
			s.queueUpdates(ctx, job.RequestID)
		}
	case reply.Request != nil:
		s.queueUpdates(ctx, reply.Request.ID)
	case reply.Error != "":
		// The message may be stale (expired, decided elsewhere): refresh it
		// if the request is no longer pending.
		if r, err := s.db.Request(ctx, id); err == nil && (r.Status != mcloud.RequestPending || !s.now().Before(r.ExpiresAt)) {
			s.queueUpdates(ctx, r.ID)
		}
	case reply.Private:
		// "You already approved": when this is the click worked again after
		// a crash, its first run counted it but never refreshed the message.
		if r, err := s.db.Request(ctx, id); err == nil {
			s.queueUpdates(ctx, r.ID)
		}
	}
}

// Wake tells the poster that messages were queued by someone else (the
// alert receivers), so it sends them now rather than at its next poll.
func (s *Slack) Wake() { s.poster.Wake() }

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

// take reports whether one more answer may go through the response_url.
func (r *responder) take(now time.Time) bool {
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
	if rs.take(s.now()) {
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
