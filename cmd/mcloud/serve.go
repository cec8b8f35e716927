package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mcloud serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "mcloud.yaml", "configuration `file`")
	check := fs.Bool("check-config", false, "validate the configuration (and that its secrets are set), then exit")
	dbURL := fs.String("database-url", defaultDatabase(), "SQLite file, or postgres://... URL")
	listen := fs.String("listen", ":8080", "address for the HTTP endpoints (/healthz, /readyz)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *check {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		if problems := cfg.CheckSecrets(true); len(problems) > 0 {
			return fmt.Errorf("%s:\n%s", *cfgPath, joinLines(problems))
		}
		fmt.Fprintf(stdout, "%s is valid: %d customer(s), %d team member(s), %d channel(s).\n", *cfgPath,
			len(cfg.Customers), len(cfg.Team.Users), len(cfg.Team.Channels)+len(cfg.Customers))
		return nil
	}
	log := newLogger(stderr, slog.LevelInfo)
	a, err := openApp(ctx, *cfgPath, *dbURL, false, log)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.start(ctx); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.db.Ping(pctx); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("mcloud serving", "listen", *listen, "database", string(a.db.Dialect()), "version", version)
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("listen on %s: %w", *listen, err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
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
