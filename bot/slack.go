package bot

// The Slack adapter: signed HTTP requests (slash commands, button clicks,
// events) or Socket Mode envelopes in; commands run by the same service
// the shell uses; answers out through the outbox (what the channel sees)
// or response_url / chat.postEphemeral (what only the caller sees).
//
// Slack wants an answer within 3 seconds and retries events that get none,
// so every handler only verifies, maps and stores the delivery; bounded
// workers do the rest. Where each part lives:
//
//	slack.go       the adapter: construction, readiness, what runs while it serves
//	http.go        the HTTP endpoints and their signature verification
//	socketmode.go  the Socket Mode connection
//	payload.go     a verified payload mapped to what its work needs, and its key
//	ingress.go     the one way in for both: deduplicated, stored, then forgotten
//	workers.go     the pool that claims stored deliveries and works them
//	run.go         a delivery's work: the command or click, as its caller
//	replies.go     answers: the outbox for the channel, ephemerals for the caller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/httpguard"
)

// SlashCommand is the app's one command.
const SlashCommand = "/mcloud"

// SlackStore is what the Slack adapter needs of the store.
type SlackStore interface {
	PosterStore
	AcceptDelivery(ctx context.Context, key, payload string, ttl time.Duration) (bool, error)
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
	// taskTimeout bounds one delivery's work (taskTimeout; tests shorten it).
	taskTimeout time.Duration
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
		workers: opts.Workers, lease: opts.Lease, owner: opts.Owner, wake: make(chan struct{}, 1), now: time.Now,
		taskTimeout: taskTimeout}
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

// Wake tells the poster that messages were queued by someone else (the
// alert receivers), so it sends them now rather than at its next poll.
func (s *Slack) Wake() { s.poster.Wake() }
