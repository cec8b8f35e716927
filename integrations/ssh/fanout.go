package ssh

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// ForEach calls fn for every target, at most Config.Parallelism at once,
// and returns fn's errors in input order. A failure on one target never
// stops the others; targets not yet started when ctx ends get ctx's error.
// This is the building block for multi-step jobs (stop, copy, apply,
// start, check) that should proceed host by host in parallel.
func (c *Client) ForEach(ctx context.Context, targets []Target, fn func(ctx context.Context, i int, t Target) error) []error {
	errs := make([]error, len(targets))
	sem := make(chan struct{}, c.cfg.Parallelism)
	var wg sync.WaitGroup
	for i, t := range targets {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			for j := i; j < len(targets); j++ {
				errs[j] = newError("start work on", targets[j].display(), targets[j].Address, "",
					fmt.Errorf("not started: %w", context.Cause(ctx)))
			}
			wg.Wait()
			return errs
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				// One host's bug must not take the bot down with it.
				if r := recover(); r != nil {
					errs[i] = fmt.Errorf("panic while working on %s: %v\n%s", t.display(), r, debug.Stack())
				}
			}()
			errs[i] = fn(ctx, i, t)
		}()
	}
	wg.Wait()
	return errs
}

// RunAll runs cmd on every target (bounded by Config.Parallelism) and
// returns one Result per target, in input order; each carries its own Err.
func (c *Client) RunAll(ctx context.Context, targets []Target, cmd string) []Result {
	results := make([]Result, len(targets))
	errs := c.ForEach(ctx, targets, func(ctx context.Context, i int, t Target) error {
		results[i], _ = c.Run(ctx, t, cmd)
		return results[i].Err
	})
	for i, err := range errs {
		if results[i].Target == (Target{}) {
			results[i] = Result{Target: targets[i], ExitStatus: -1, Err: err}
		}
	}
	return results
}
