package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/mcloud/mcloud/bot"
)

func runShell(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mcloud shell", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "examples/mcloud.yaml", "configuration `file`")
	user := fs.String("user", "alice", "act as this configured user")
	channel := fs.String("channel", "devops", "start in this channel")
	dbURL := fs.String("database-url", defaultDatabase(), "SQLite file, or postgres://... URL")
	wait := fs.Duration("wait", 10*time.Minute, "how long a script waits for jobs after each line")
	sandbox := fs.Bool("sandbox", false, "use local stand-ins for AWS and SSH, seeded with the example customers' data")
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: mcloud shell [-c FILE] [--user NAME] [--channel NAME] [--database-url URL] [--sandbox]\n\n"+
			"Each line you type is a message from --user in --channel: /mcloud <command>.\n"+
			":user NAME and :channel NAME switch who and where; :help lists the rest.\n"+
			"With a script on stdin (mcloud shell < script) it runs every line, waits for\n"+
			"the jobs they start, and exits 0.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	interactive := false
	if f, ok := stdin.(*os.File); ok {
		interactive = term.IsTerminal(int(f.Fd()))
	}
	log := newLogger(stderr, slog.LevelWarn)
	a, err := openApp(ctx, *cfgPath, *dbURL, *sandbox, log)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.start(ctx); err != nil {
		return err
	}
	sh := &bot.Shell{Service: a.svc, Outbox: a.db, In: stdin, Out: stdout, Interactive: interactive,
		User: *user, Channel: *channel, Wait: *wait}
	return sh.Run(ctx)
}
