package main

import (
	"context"
	"log/slog"

	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
)

// sshDeps builds the SSH integration for the commands: real bastions from
// the configuration normally, in-process stand-ins with sandbox. The
// returned func releases what it started. Placeholder until patch and run land.
func sshDeps(ctx context.Context, cfg *config.Config, sandbox bool, log *slog.Logger) (commands.SSHConnector, func(), error) {
	return nil, func() {}, nil
}
