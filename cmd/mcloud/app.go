package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/metrics"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/jobs"
	"github.com/mcloud/mcloud/schedules"
)

// errUsage means the flag package already printed what was wrong; errHelp
// that the usage was asked for and printed (exit 0).
var (
	errUsage = errors.New("usage")
	errHelp  = errors.New("help")
)

// app is everything a running mcloud holds.
type app struct {
	cfg   *config.Config
	db    *store.DB
	svc   *commands.Service
	queue *jobs.Queue
	log   *slog.Logger
	stop  context.CancelFunc
	wg    sync.WaitGroup
	// release frees what the integrations started (sandbox servers).
	release []func()
	// metrics is fed by every part; serve exposes it (see metrics.go).
	metrics *metrics.Metrics
	// quietSchedules keeps the configuration's schedules from firing: the
	// shell runs only what is typed unless asked (--schedules).
	quietSchedules bool
}

// defaultDatabase is MCLOUD_DATABASE_URL or a SQLite file in the working
// directory.
func defaultDatabase() string {
	if u := os.Getenv("MCLOUD_DATABASE_URL"); u != "" {
		return u
	}
	return store.DefaultPath
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	if s := os.Getenv("MCLOUD_LOG_LEVEL"); s != "" {
		level.UnmarshalText([]byte(s))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// loadConfig loads the file and checks the approval rules against the
// registered commands, so every config error surfaces before anything runs.
func loadConfig(path string) (*config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parseConfig(path, data)
}

// parseConfig is loadConfig for a configuration already read; name says
// where it came from.
func parseConfig(name string, data []byte) (*config.Config, error) {
	cfg, err := config.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s:\n%w", name, err)
	}
	if _, err := commands.New(cfg, nil); err != nil {
		return nil, fmt.Errorf("%s:\n%w", name, err)
	}
	return cfg, nil
}

// openApp opens everything; sandbox swaps AWS and SSH for local stand-ins
// seeded with the example customers.
func openApp(ctx context.Context, cfgPath, dbURL string, sandbox bool, log *slog.Logger) (*app, error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	return openAppConfig(ctx, cfg, dbURL, sandbox, log)
}

// openAppConfig is openApp with the configuration already loaded.
func openAppConfig(ctx context.Context, cfg *config.Config, dbURL string, sandbox bool, log *slog.Logger) (*app, error) {
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	svc, err := commands.New(cfg, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	svc.Log = log
	m := newMetrics(db, log)
	svc.Observe = m.Request
	a := &app{cfg: cfg, db: db, svc: svc, log: log, metrics: m}
	// In the sandbox, machines the AWS emulator launches answer as SSH hosts.
	machines := newSandboxMachines(cfg)
	awsAccounts, releaseAWS, err := awsDeps(ctx, cfg, sandbox, log, m.AWSCall, machines)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("set up AWS: %w", err)
	}
	a.release = append(a.release, releaseAWS)
	sshConnector, releaseSSH, err := sshDeps(ctx, cfg, sandbox, log, m, machines)
	if err != nil {
		a.closeAll()
		return nil, fmt.Errorf("set up SSH: %w", err)
	}
	a.release = append(a.release, releaseSSH)
	urls, releaseWeb, err := webDeps(cfg, sandbox)
	if err != nil {
		a.closeAll()
		return nil, err
	}
	a.release = append(a.release, releaseWeb)
	svc.Deps = commands.Deps{AWS: awsAccounts, SSH: sshConnector, URLs: urls}
	q, err := jobs.New(db, svc, jobs.Options{Workers: cfg.Jobs.Workers, RescueAfter: cfg.Jobs.RescueAfter.Std(), Logger: log,
		Finished: func(verb string, status mcloud.JobStatus, took time.Duration) {
			m.JobFinished(verb, string(status), took)
		}})
	if err != nil {
		a.closeAll()
		return nil, err
	}
	svc.SetQueue(q.Enqueue)
	a.queue = q
	return a, nil
}

func (a *app) closeAll() {
	for i := len(a.release) - 1; i >= 0; i-- {
		a.release[i]()
	}
	a.db.Close()
}

// start runs the job workers, the request-expiry sweep and the outbox's
// retention until ctx ends.
func (a *app) start(ctx context.Context) error {
	ctx, a.stop = context.WithCancel(ctx)
	if err := a.queue.Start(ctx); err != nil {
		return err
	}
	if work := a.cfg.ScheduledWork(); len(work) > 0 && !a.quietSchedules {
		// Every replica runs the schedules: claims in the store make each
		// fire time run once however many do, with no leader to lose.
		r := &schedules.Runner{Schedules: work, Store: a.db, Service: a.svc, CatchUp: a.cfg.Scheduler.CatchUpWindow(), Log: a.log}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			r.Run(ctx, a.cfg.Scheduler.TickEvery())
		}()
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		var forgot time.Time
		for {
			if err := a.svc.ExpireRequests(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("expire requests", "err", err)
			}
			// Hourly is often enough for a retention counted in days.
			if now := time.Now(); now.Sub(forgot) >= time.Hour {
				forgot = now
				n, err := a.db.ForgetDelivered(ctx, now.Add(-a.cfg.Outbox.Retention.Std()))
				switch {
				case err != nil && ctx.Err() == nil:
					a.log.Warn("erase old outbox messages", "err", err)
				case n > 0:
					a.log.Info("erased the text of old delivered messages", "messages", n, "retention", a.cfg.Outbox.Retention.Std())
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// close stops everything start began and waits for it before closing the
// database, so nothing outlives the program's Run.
func (a *app) close() {
	if a.stop != nil {
		a.stop()
	}
	// Long enough for a patch to finish the host it is changing (it will
	// not start another); everything else stops at once.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := a.queue.Stop(ctx); err != nil {
		a.log.Warn("stop job queue", "err", err)
	}
	a.wg.Wait()
	a.closeAll()
}

// parseFlags parses args with fs, refusing stray words. -h and --help
// print the usage to stdout and end in errHelp; a bad flag prints what is
// wrong and the usage to the flag set's output (stderr).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	stderr := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		io.Copy(stdout, &buf)
		return errHelp
	case err != nil:
		io.Copy(stderr, &buf)
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return errUsage
	}
	return nil
}

// flagSet is a subcommand's flag set whose usage is synopsis and about,
// then the flags.
func flagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n\nFlags:\n", synopsis, strings.TrimSpace(about))
		fs.PrintDefaults()
	}
	return fs
}
