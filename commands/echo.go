package commands

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/jobs"
)

// echo is a harmless verb that goes through the whole request path (plan,
// approval, durable job, steps, audit) and changes nothing. It stood in for
// the destructive verbs before they existed; it is hidden from help now and
// kept as a smoke test that approvals and the job runner work in a new
// deployment (/mcloud help echo still explains it).
func echoVerb() *Verb {
	return &Verb{
		Name:    "echo",
		Summary: "test the approval path: a job that only repeats your text, in steps",
		Help: "Changes nothing anywhere. --steps sets how many steps the job takes and --pause how long each waits; " +
			"--cleanup adds a cleanup step, which runs however the job ends and waits that long.",
		Examples: []string{
			"/mcloud echo customer-x hello from the shared channel",
			"/mcloud echo customer-x slow one --steps 5 --pause 2s",
		},
		Spec: Spec{
			Args: []Arg{
				{Name: "customer", Kind: KindCustomer, About: "whose channel the job reports to"},
				{Name: "text", Kind: KindText, About: "the text to repeat"},
			},
			Flags: []Flag{
				{Name: "steps", Kind: KindInt, Min: 1, Max: 20},
				{Name: "pause", Kind: KindDuration, Max: 600},
				{Name: "cleanup", Kind: KindDuration, Max: 600},
			},
		},
		Access:            mcloud.AccessCustomer,
		DevOpsApprovals:   1,
		CustomerApprovals: 1,
		DryRun:            true,
		Resumable:         true,
		Hidden:            true,
		Plan: func(ctx context.Context, c *Call) (mcloud.Plan, error) {
			steps, pause := echoShape(c.Params)
			p := mcloud.Plan{Summary: fmt.Sprintf("Repeat %q in %s for %s", c.Params["text"], nOf(steps, "step", "steps"), c.Customer.Name)}
			for i := 1; i <= steps; i++ {
				p.Steps = append(p.Steps, fmt.Sprintf("step %d: say the text", i))
			}
			if pause > 0 {
				p.Notes = append(p.Notes, fmt.Sprintf("Each step waits %s.", pause))
			}
			if _, ok := c.Params["cleanup"]; ok {
				p.Steps = append(p.Steps, "clean up: say goodbye, however the job ends")
			}
			p.Notes = append(p.Notes, "Changes nothing; costs nothing.")
			return p, nil
		},
		Execute: executeEcho,
	}
}

// executeEcho hands each step's count of what was said to the next step,
// through the job runner: a resumed job continues the count from the last
// completed step's saved result.
func executeEcho(ctx context.Context, x *Exec) (string, error) {
	steps, pause := echoShape(x.Params)
	if d, ok := x.Params["cleanup"]; ok {
		wait, _ := time.ParseDuration(d)
		x.Cleanup("clean up", func(ctx context.Context, end *jobs.Ending) (string, error) {
			x.Say(ctx, fmt.Sprintf("Job #%d: cleaning up after the job %s (waiting %s).", x.Job.ID, end.Status, wait))
			if err := sleepCtx(ctx, wait); err != nil {
				return "", err
			}
			return "said goodbye", nil
		})
	}
	said := 0
	for i := 1; i <= steps; i++ {
		n, err := jobs.StepOf(ctx, x.Attempt, fmt.Sprintf("step %d", i), func(ctx context.Context) (int, string, error) {
			if err := sleepCtx(ctx, pause); err != nil {
				return 0, "", err
			}
			return said + 1, fmt.Sprintf("said %q", x.Params["text"]), nil
		})
		if err != nil {
			return "", err
		}
		said = n
	}
	return fmt.Sprintf("repeated %q in %s", x.Params["text"], nOf(said, "step", "steps")), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func echoShape(p mcloud.Params) (steps int, pause time.Duration) {
	steps = 3
	if n, err := strconv.Atoi(p["steps"]); err == nil {
		steps = n
	}
	pause, _ = time.ParseDuration(p["pause"])
	return steps, pause
}
