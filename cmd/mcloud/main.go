// Command mcloud is the ChatOps bot: `serve` runs it for Slack, `shell`
// drives it from a terminal, `migrate` prepares the database.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/mcloud/mcloud/internal/suggest"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `Usage: mcloud <command> [flags]

Commands:
  serve     run the bot (Slack endpoints, job workers, schedules)
  shell     drive the bot from a terminal, as any configured user
  migrate   create or upgrade the database schema
  version   print the version and the commit it was built from

Run "mcloud <command> --help" for a command's flags.`

var subcommands = []string{"serve", "shell", "migrate", "version", "help"}

// Run is the whole program, callable in-process by tests. It returns the
// exit code: 0; 1 when the command failed or a flag was wrong; 2 for an
// unknown command.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "shell":
		err = runShell(ctx, args[1:], stdin, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		info, _ := debug.ReadBuildInfo()
		fmt.Fprintln(stdout, versionText(version, info))
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
	default:
		msg := fmt.Sprintf("unknown command %q", args[0])
		if near := suggest.Nearest(args[0], subcommands); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		}
		fmt.Fprintf(stderr, "mcloud: %s\n\n%s\n", msg, usage)
		return 2
	}
	switch {
	case err == errHelp:
		return 0
	case err == errUsage:
		return 1
	case err != nil:
		fmt.Fprintln(stderr, "mcloud:", err)
		return 1
	}
	return 0
}

// versionText is what `mcloud version` prints: the release (the -X
// version, else the module version `go install` recorded) and, when the
// binary was built from a checkout, the commit, its time and whether the
// tree had uncommitted changes, so a bug report names exactly what ran.
func versionText(version string, info *debug.BuildInfo) string {
	if info == nil {
		return "mcloud " + version
	}
	if version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	var rev, at, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	out := "mcloud " + version
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += ", commit " + rev
		if at != "" {
			out += " (" + at + ")"
		}
		if modified == "true" {
			out += " with uncommitted changes"
		}
	} else {
		out += ", commit unknown (built without version control information)"
	}
	if info.GoVersion != "" {
		out += ", " + info.GoVersion
	}
	return out
}
