package main

import (
	"context"
	"log/slog"

	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
)

// awsDeps builds the AWS integration for the commands: the real AWS (or
// aws.endpoint) normally, a seeded local emulator with sandbox. The returned
// func releases what it started. Placeholder until the AWS verbs land.
func awsDeps(ctx context.Context, cfg *config.Config, sandbox bool, log *slog.Logger) (commands.AWSAccounts, func(), error) {
	return nil, func() {}, nil
}
