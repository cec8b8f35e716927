package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/mcloud/mcloud/bot"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/examples"
)

func runShell(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flagSet("mcloud shell", "mcloud shell [--sandbox] [-c FILE] [--user NAME] [--channel NAME] [--database-url URL] [--wait D] [--history FILE]", `
Each line you type is a message from --user in --channel: /mcloud <command>.
:user NAME and :channel NAME switch who and where; :help lists the rest.
On a terminal, lines can be edited, up and down recall earlier ones (kept in
--history across runs) and Tab completes commands, customers, environments,
users and channels.

With a script on stdin (mcloud shell < script) it runs every line, waits for
the jobs they start, and exits 0; ":expect TEXT" (or ":expect /REGEXP/")
checks the output of the line before it, and the shell exits 1 when one
does not hold.

Without -c the shell uses the built-in example configuration (the same as
examples/mcloud.yaml), and without --database-url a fresh database that is
deleted on exit, so a script always starts from request #1.`, stderr)
	cfgPath := fs.String("c", "", "configuration `file` (default: the built-in example)")
	user := fs.String("user", "alice", "act as this configured user")
	channel := fs.String("channel", "devops", "start in this channel")
	dbURL := fs.String("database-url", "", "SQLite file or postgres://... URL to keep (default: a fresh temporary database; never a serving bot's)")
	wait := fs.Duration("wait", 10*time.Minute, "how long a script waits for jobs after each line (0s: do not wait)")
	sandbox := fs.Bool("sandbox", false, "use local stand-ins for AWS and SSH, seeded with the configured customers")
	fire := fs.Bool("schedules", false, "let the configuration's schedules (backups, reports, retention) fire while the shell runs; off, only what you type happens")
	listen := fs.String("listen", "", "also serve the alert receivers (/alerts/...) on this loopback `address`, like 127.0.0.1:8081")
	history := fs.String("history", defaultHistory(), "`file` keeping the lines typed on a terminal across runs (\"\" keeps none)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *wait < 0 {
		fmt.Fprintf(stderr, "--wait must be 0s or more, not %s\n", *wait)
		fs.Usage()
		return errUsage
	}
	interactive := false
	if in, ok := stdin.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
		out, ok := stdout.(*os.File)
		interactive = ok && term.IsTerminal(int(out.Fd()))
	}
	var cfg *config.Config
	var err error
	if *cfgPath == "" {
		cfg, err = parseConfig(examples.ConfigName, examples.Config)
	} else {
		cfg, err = loadConfig(*cfgPath)
	}
	if err != nil {
		return err
	}
	if *dbURL == "" {
		// Not MCLOUD_DATABASE_URL: that names the serving bot's database,
		// whose outbox the shell would consume.
		dir, err := os.MkdirTemp("", "mcloud-shell-")
		if err != nil {
			return fmt.Errorf("create a temporary database: %w", err)
		}
		defer os.RemoveAll(dir)
		*dbURL = filepath.Join(dir, "mcloud.db")
	}
	log := newLogger(stderr, slog.LevelWarn)
	a, err := openAppConfig(ctx, cfg, *dbURL, *sandbox, log)
	if err != nil {
		return err
	}
	defer a.close()
	sh := &bot.Shell{Service: a.svc, Outbox: a.db, In: stdin, Out: stdout, Interactive: interactive,
		User: *user, Channel: *channel, Wait: *wait}
	if a.sandbox != nil {
		sh.Sandbox = a.sandbox.directive
	}
	a.svc.Deps.DM = sh // before start: a resumed job may send one
	a.quietSchedules = !*fire
	if err := a.start(ctx); err != nil {
		return err
	}
	if *listen != "" {
		stop, err := a.serveAlerts(*listen, stderr)
		if err != nil {
			return err
		}
		defer stop()
	}
	if interactive {
		fd := int(stdin.(*os.File).Fd())
		old, err := term.MakeRaw(fd)
		if err != nil {
			return fmt.Errorf("set up the terminal: %w", err)
		}
		defer term.Restore(fd, old)
		if w, _, err := term.GetSize(int(stdout.(*os.File).Fd())); err == nil {
			sh.Width = w
		}
		h, err := openHistory(*history, 1000)
		if err != nil {
			fmt.Fprintf(stderr, "mcloud: history is not kept across runs: %v\r\n", err)
		}
		defer h.Close()
		sh.History = h
	}
	err = sh.Run(ctx)
	var failed *bot.ExpectationsFailed
	if errors.As(err, &failed) {
		return fmt.Errorf("script: %w", err)
	}
	return err
}

// defaultHistory is $XDG_STATE_HOME/mcloud/history, else
// ~/.local/state/mcloud/history: state, not configuration.
func defaultHistory() string {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "mcloud", "history")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "mcloud", "history")
	}
	return ""
}

// fileHistory is the line editor's history, appended to a file as lines
// are typed so that it survives the next run (and a crash).
type fileHistory struct {
	entries []string // oldest first
	max     int
	f       *os.File
}

// openHistory reads the last max lines of path and appends new ones to it.
// An empty path keeps history for this run only.
func openHistory(path string, max int) (*fileHistory, error) {
	h := &fileHistory{max: max}
	if path == "" {
		return h, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return h, err
	}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if sc.Text() != "" {
				h.entries = append(h.entries, sc.Text())
			}
		}
		f.Close()
	}
	rewrite := len(h.entries) > 2*max // keep the file from growing for ever
	if len(h.entries) > max {
		h.entries = h.entries[len(h.entries)-max:]
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if rewrite {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return h, err
	}
	h.f = f
	if rewrite {
		for _, e := range h.entries {
			fmt.Fprintln(f, e)
		}
	}
	return h, nil
}

// Add keeps a typed line, except a blank one or a repeat of the last.
func (h *fileHistory) Add(entry string) {
	entry = strings.TrimSpace(entry)
	if entry == "" || (len(h.entries) > 0 && h.entries[len(h.entries)-1] == entry) {
		return
	}
	h.entries = append(h.entries, entry)
	if len(h.entries) > h.max {
		h.entries = h.entries[1:]
	}
	if h.f != nil {
		fmt.Fprintln(h.f, entry)
	}
}

func (h *fileHistory) Len() int { return len(h.entries) }

// At is the idx-th most recent line (0 is the last one typed).
func (h *fileHistory) At(idx int) string { return h.entries[len(h.entries)-1-idx] }

func (h *fileHistory) Close() error {
	if h.f == nil {
		return nil
	}
	return h.f.Close()
}
