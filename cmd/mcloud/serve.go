package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mcloud/mcloud/bot"
	"github.com/mcloud/mcloud/config"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mcloud serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "mcloud.yaml", "configuration `file`")
	check := fs.Bool("check-config", false, "validate the configuration (and that its secrets are set), then exit")
	dbURL := fs.String("database-url", defaultDatabase(), "SQLite file, or postgres://... URL")
	listen := fs.String("listen", ":8080", "address for the HTTP endpoints (/slack/..., /healthz, /readyz)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *check {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		if problems := serveProblems(cfg); len(problems) > 0 {
			return fmt.Errorf("%s:\n%s", *cfgPath, joinLines(problems))
		}
		fmt.Fprintf(stdout, "%s is valid: %d customer(s), %d team member(s), %d channel(s); Slack over %s.\n", *cfgPath,
			len(cfg.Customers), len(cfg.Team.Users), len(cfg.Team.Channels)+len(cfg.Customers), modeName(cfg.SlackMode()))
		return nil
	}
	// Refuse a configuration serve cannot run with before opening anything.
	if cfg, err := loadConfig(*cfgPath); err != nil {
		return err
	} else if problems := serveProblems(cfg); len(problems) > 0 {
		return fmt.Errorf("%s:\n%s", *cfgPath, joinLines(problems))
	}
	log := newLogger(stderr, slog.LevelInfo)
	a, err := openApp(ctx, *cfgPath, *dbURL, false, log)
	if err != nil {
		return err
	}
	defer a.close()
	// A delivery claimed by a process that died is taken over as a job
	// would be (jobs.rescue_after), but within 30 s: its caller is waiting.
	sl, err := bot.NewSlack(a.svc, a.db, bot.SlackOptions{Logger: log, Lease: min(a.svc.Config().Jobs.RescueAfter.Std(), 30*time.Second)})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	if err := a.start(ctx); err != nil {
		ln.Close()
		return err
	}

	slackCtx, stopSlack := context.WithCancel(ctx)
	defer stopSlack()
	slackDone := make(chan struct{})
	go func() {
		defer close(slackDone)
		sl.Run(slackCtx)
	}()

	srv := newServer(serveMux(sl, sl.Mode()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("mcloud serving", "listen", ln.Addr().String(), "slack", sl.Mode(), "database", string(a.db.Dialect()), "version", version)
	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve on %s: %w", *listen, err)
		}
	}
	// Stop taking requests, then let the Slack side finish what it has
	// acknowledged, then (deferred) stop the jobs and close the database.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("stop HTTP server", "err", err)
	}
	stopSlack()
	<-slackDone
	return serveErr
}

// newServer bounds what a client that never authenticates can hold: a
// connection that sends its request slowly is closed after ReadTimeout,
// an idle one after IdleTimeout (Slack's requests are small and answered
// within 3 s). The handlers bound bodies themselves (httpguard).
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10}
}

// serveMux routes the Slack endpoints (in HTTP mode, or in Socket Mode when
// a signing secret is set too) and the health checks.
func serveMux(sl *bot.Slack, mode string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/slack/", sl.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := sl.Ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}

// serveProblems is everything serve needs of the configuration and the
// environment before it starts.
func serveProblems(cfg *config.Config) []string {
	return append(cfg.CheckSecrets(true), cfg.CheckSlack()...)
}

func modeName(mode string) string {
	if mode == config.SlackSocket {
		return "Socket Mode"
	}
	return "HTTP (signed requests to /slack/...)"
}

func joinLines(lines []string) string {
	out := ""
	for i, l := range lines {
		if i > 0 {
			out += "\n"
		}
		out += l
	}
	return out
}
