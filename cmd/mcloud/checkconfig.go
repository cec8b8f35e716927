package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
)

// checkConfig is everything `serve` checks before it starts, in one run:
// the file's keys and values, the approval rules against the commands,
// the secrets the environment must provide and what the Slack mode needs.
// The error lists every problem in file order with its line number.
func checkConfig(path string) (*config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, found, err := config.Check(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var more []string
	if _, err := commands.New(cfg, nil); err != nil {
		var invalid *config.Invalid
		if !errors.As(err, &invalid) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		more = append(more, invalid.Problems...)
	}
	more = append(more, serveProblems(cfg)...)
	problems := cfg.Problems(found, more...)
	if len(problems) == 0 {
		return cfg, nil
	}
	lines := make([]string, len(problems))
	for i, p := range problems {
		lines[i] = "  " + p.String()
	}
	what := "1 problem"
	if len(problems) > 1 {
		what = fmt.Sprintf("%d problems", len(problems))
	}
	return nil, fmt.Errorf("%s has %s:\n%s", path, what, strings.Join(lines, "\n"))
}
