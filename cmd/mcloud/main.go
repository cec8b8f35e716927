// Command mcloud is the ChatOps bot: `serve` runs it for Slack, `shell`
// drives it from a terminal, `migrate` prepares the database.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
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
  version   print the version

Run "mcloud <command> -h" for a command's flags.`

// Run is the whole program, callable in-process by tests. It returns the
// exit code.
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
		fmt.Fprintln(stdout, "mcloud", version)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
	default:
		fmt.Fprintf(stderr, "mcloud: unknown command %q.\n%s\n", args[0], usage)
		return 2
	}
	if err != nil {
		if err != errUsage {
			fmt.Fprintln(stderr, "mcloud:", err)
		}
		return 1
	}
	return 0
}
