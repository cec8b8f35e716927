package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/mcloud/mcloud"
)

func statusVerb() *Verb {
	return &Verb{
		Name:     "status",
		Summary:  "hosts, pending requests and running jobs of a customer",
		Examples: []string{"/mcloud status customer-x", "/mcloud status customer-x prod"},
		Spec: Spec{Args: []Arg{
			{Name: "customer", Kind: KindCustomer, About: "which customer to show"},
			{Name: "env", Kind: KindEnv, Optional: true},
		}},
		Access: mcloud.AccessCustomer,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			cu := c.Customer
			r := Reply{Title: fmt.Sprintf("Status of %s", cu.Name)}
			r.Lines = append(r.Lines, fmt.Sprintf("AWS %s (DR %s), bastion %s:%d", cu.AWS.Region, cu.AWS.DRRegion, orNone(cu.Bastion.Host), cu.Bastion.Port))
			for _, env := range cu.Environments {
				if c.Env != nil && env.Name != c.Env.Name {
					continue
				}
				r.Lines = append(r.Lines, fmt.Sprintf("Environment %s: %s", env.Name, nOf(len(env.Hosts), "host", "hosts")))
				for _, h := range env.Hosts {
					r.Lines = append(r.Lines, fmt.Sprintf("  %s  %s  %s (%s)", h.Name, h.Address, orNone(h.Product), orNone(h.Service)))
				}
			}
			pending, err := c.svc.store.PendingRequests(ctx, cu.Name)
			if err != nil {
				return Reply{}, err
			}
			now := c.svc.Now()
			// Only what this channel shows (visibleIn), and the counts
			// count what is listed.
			var waiting []string
			for _, p := range pending {
				if (c.Env != nil && p.Env != "" && p.Env != c.Env.Name) || !c.sees(p.Customer, p.Requester.ChannelID) {
					continue
				}
				waiting = append(waiting, fmt.Sprintf("  #%d %s by %s, %d of %d approvals, expires in %s", p.ID, p.Verb, p.Requester.Name,
					len(p.Approvals), p.Needed, humanDuration(p.ExpiresAt.Sub(now))))
			}
			r.Lines = append(r.Lines, fmt.Sprintf("Requests waiting for approval: %d", len(waiting)))
			r.Lines = append(r.Lines, waiting...)
			active, err := c.svc.store.Jobs(ctx, cu.Name, true, 50)
			if err != nil {
				return Reply{}, err
			}
			var running []string
			for _, j := range active {
				if (c.Env != nil && j.Env != "" && j.Env != c.Env.Name) || !c.sees(j.Customer, j.ChannelID) {
					continue
				}
				running = append(running, "  "+jobLine(j, now))
			}
			r.Lines = append(r.Lines, fmt.Sprintf("Jobs queued or running: %d", len(running)))
			r.Lines = append(r.Lines, running...)
			paused, err := c.svc.pausedSchedules(ctx, cu.Name)
			if err != nil {
				return Reply{}, err
			}
			for _, p := range paused {
				r.Lines = append(r.Lines, "Schedule "+p)
			}
			problems, err := c.svc.openProblems(ctx, cu.Name)
			if err != nil {
				return Reply{}, err
			}
			r.Lines = append(r.Lines, fmt.Sprintf("Open alerts: %d", len(problems)))
			return r, nil
		},
	}
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
