package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/bot"
	"github.com/mcloud/mcloud/config"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("mcloud serve", "mcloud serve [-c FILE] [--check-config] [--database-url URL] [--listen ADDR]", `
Run the bot: the Slack endpoints (Socket Mode, or HTTP on --listen), the
job workers, the schedules, and /healthz and /readyz on --listen.

Start from examples/mcloud.yaml; secrets are ${ENV} references only.
"mcloud serve --check-config -c FILE" reports every mistake in FILE and
every secret the environment lacks, then exits.`, stderr)
	cfgPath := fs.String("c", "mcloud.yaml", "configuration `file`")
	check := fs.Bool("check-config", false, "validate the configuration (and that its secrets are set), then exit")
	dbURL := fs.String("database-url", defaultDatabase(), "SQLite file, or postgres://... URL")
	listen := fs.String("listen", ":8080", "address for the HTTP endpoints (/slack/..., /healthz, /readyz)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := configPresent(fs, *cfgPath); err != nil {
		return err
	}
	if *check {
		cfg, err := checkConfig(*cfgPath)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is valid: %s, %s, %s; Slack over %s.\n", *cfgPath,
			mcloud.Count(len(cfg.Customers), "customer", "customers"), mcloud.Count(len(cfg.Team.Users), "team member", "team members"),
			mcloud.Count(len(cfg.Team.Channels)+len(cfg.Customers), "channel", "channels"), modeName(cfg.SlackMode()))
		return nil
	}
	// Refuse a configuration serve cannot run with before opening anything.
	if _, err := checkConfig(*cfgPath); err != nil {
		return err
	}
	log := newLogger(stderr, slog.LevelInfo)
	a, err := openApp(ctx, *cfgPath, *dbURL, false, log)
	if err != nil {
		return err
	}
	defer a.close()
	// A delivery claimed by a process that died is taken over as a job
	// would be (jobs.rescue_after), but within 30 s: its caller is waiting.
	sl, err := bot.NewSlack(a.svc, a.db, bot.SlackOptions{Logger: log, HTTPClient: slackHTTPClient(a.metrics),
		Lease: min(a.svc.Config().Jobs.RescueAfter.Std(), 30*time.Second)})
	if err != nil {
		return err
	}
	a.svc.Deps.DM = sl // before start: a resumed job may send one
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	stopMetrics, err := a.serveMetrics()
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
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

	mux := serveMux(sl, sl.Mode())
	mux.Handle("GET /metrics", a.metricsOnMain())
	mountAlerts(mux, a, sl.Wake)
	fallback, err := mailFallback(a, sl.UnreachableSince)
	if err != nil {
		stopSlack()
		<-slackDone
		ln.Close()
		return err
	}
	mailDone := make(chan struct{})
	go func() {
		defer close(mailDone)
		if fallback != nil {
			fallback.Run(slackCtx)
		}
	}()
	srv := newServer(mux)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("mcloud serving", "listen", ln.Addr().String(), "slack", sl.Mode(), "database", string(a.db.Dialect()), "version", version, "metrics", a.metricsMode())
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
	<-mailDone
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

// configPresent explains how to start when there is no configuration file,
// rather than leaving a new operator with "no such file".
func configPresent(fs *flag.FlagSet, path string) error {
	if _, err := os.Stat(path); !errors.Is(err, iofs.ErrNotExist) {
		return nil // there is a file, or loading it will say what is wrong
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "c" })
	what := fmt.Sprintf("%s does not exist", path)
	if !explicit {
		what = "no configuration: there is no mcloud.yaml here and -c names no other file"
	}
	return fmt.Errorf("%s. To start, copy examples/mcloud.yaml from the mcloud repository to %s and edit it, "+
		"check it with \"mcloud serve --check-config -c %[2]s\", then run \"mcloud serve -c %[2]s\" "+
		"(or try mcloud first without Slack or AWS: \"mcloud shell --sandbox\")", what, path)
}

// serveProblems is everything serve needs of the configuration and the
// environment before it starts.
func serveProblems(cfg *config.Config) []string {
	return append(append(append(cfg.CheckSecrets(true), cfg.CheckSlack()...), metricsProblems(cfg)...), alertProblems(cfg)...)
}

func modeName(mode string) string {
	if mode == config.SlackSocket {
		return "Socket Mode"
	}
	return "HTTP (signed requests to /slack/...)"
}
