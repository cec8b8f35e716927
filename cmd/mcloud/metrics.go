package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/metrics"
	mssh "github.com/mcloud/mcloud/integrations/ssh"
	"github.com/mcloud/mcloud/integrations/store"
)

// newMetrics builds the process's registry; the gauges of what waits are
// read from db at each scrape.
func newMetrics(db *store.DB, log *slog.Logger) *metrics.Metrics {
	return metrics.New(metrics.Options{Logger: log, Source: func(ctx context.Context) (metrics.Snapshot, error) {
		st, err := db.Stats(ctx)
		if err != nil {
			return metrics.Snapshot{}, err
		}
		snap := metrics.Snapshot{ApprovalsWaiting: st.ApprovalsWaiting, OutboxDepth: st.OutboxDepth, OutboxOldest: st.OutboxOldest}
		for _, j := range st.Jobs {
			snap.Jobs = append(snap.Jobs, metrics.JobCount{Verb: j.Verb, State: string(j.Status), N: j.N})
		}
		return snap, nil
	}})
}

// slackHTTPClient is the client the bot calls Slack with, counted. Its
// timeout is the bot's own default (bot.PosterOptions.Timeout).
func slackHTTPClient(m *metrics.Metrics) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: m.SlackTransport(nil)}
}

// observeSSH makes adjust (nil for none) also report every SSH connect and
// command of the customer to m.
func observeSSH(adjust func(*config.Customer, *mssh.Config) error, m *metrics.Metrics) func(*config.Customer, *mssh.Config) error {
	if m == nil {
		return adjust
	}
	return func(cu *config.Customer, c *mssh.Config) error {
		name := cu.Name
		c.Observe = func(op string, took time.Duration, err error) { m.SSHCall(name, op, took, err) }
		if adjust == nil {
			return nil
		}
		return adjust(cu, c)
	}
}

// metricsProblems are the metrics settings serve cannot run with.
func metricsProblems(cfg *config.Config) []string {
	var p []string
	if s := cfg.Metrics.Token; s.Set() {
		if _, ok := s.Value(); !ok {
			p = append(p, fmt.Sprintf("metrics.token: environment variable %s is not set", s.Ref))
		}
	}
	if l := cfg.Metrics.Listen; l != "" {
		if _, _, err := net.SplitHostPort(l); err != nil {
			p = append(p, fmt.Sprintf("metrics.listen: %q is not a host:port address like 127.0.0.1:9464", l))
		}
	}
	return p
}

// metricsOnMain is what the Slack listener answers on GET /metrics: the
// exposition when a token guards it, else a refusal that says how to turn
// it on (the listener faces the internet; the series name customers). With
// metrics.listen set, /metrics is not on this listener at all.
func (a *app) metricsOnMain() http.Handler {
	token, _ := a.cfg.Metrics.Token.Value()
	switch {
	case a.cfg.Metrics.Listen != "":
		return http.NotFoundHandler()
	case token != "":
		return a.metrics.Handler(token)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "/metrics is off on this listener: set metrics.token (a bearer token) or metrics.listen (a private address) in the configuration", http.StatusForbidden)
	})
}

// serveMetrics serves /metrics on metrics.listen, when set; stop shuts it
// down and waits for it.
func (a *app) serveMetrics() (stop func(), err error) {
	addr := a.cfg.Metrics.Listen
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %s: %w", addr, err)
	}
	token, _ := a.cfg.Metrics.Token.Value()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.Handler(token))
	srv := newServer(mux)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metrics listener stopped", "listen", addr, "err", err)
		}
	}()
	a.log.Info("metrics serving", "listen", ln.Addr().String(), "token", token != "")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}

// metricsMode says in the start log where /metrics is.
func (a *app) metricsMode() string {
	token, _ := a.cfg.Metrics.Token.Value()
	switch {
	case a.cfg.Metrics.Listen != "":
		return "on metrics.listen"
	case token != "":
		return "on the Slack listener, bearer token"
	}
	return "off (set metrics.token or metrics.listen)"
}
