package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
)

// auditLimit bounds one answer; --since narrows it further back.
const auditLimit = 200

func auditVerb() *Verb {
	return &Verb{
		Name:     "audit",
		Summary:  "who asked, who approved, what ran and how it ended, for one customer",
		Help:     "Shows the newest entries (at most 200), oldest first. DevOps only.",
		Examples: []string{"/mcloud audit customer-x", "/mcloud audit customer-x --since 2026-11-01"},
		Spec: Spec{
			Args:  []Arg{{Name: "customer", Kind: KindCustomer, About: "whose audit log to show"}},
			Flags: []Flag{{Name: "since", Kind: KindDate}},
		},
		Access: mcloud.AccessDevOps,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			var since time.Time
			if s := c.Params["since"]; s != "" {
				since, _ = time.Parse("2006-01-02", s)
			}
			entries, err := c.svc.store.AuditLog(ctx, c.Customer.Name, since, auditLimit)
			if err != nil {
				return Reply{}, err
			}
			r := Reply{Title: fmt.Sprintf("Audit log of %s (%s)", c.Customer.Name, nOf(len(entries), "entry", "entries")), Private: true}
			cfg := c.svc.cfg
			for _, e := range entries {
				ref := ""
				if e.RequestID != 0 {
					ref = fmt.Sprintf("#%d", e.RequestID)
				}
				if e.JobID != 0 {
					ref += fmt.Sprintf(" job %d", e.JobID)
				}
				r.Lines = append(r.Lines, fmt.Sprintf("%s  %-14s %-8s %-9s in %s  %s", mcloud.FormatTime(e.At), ref,
					e.UserName, e.Event, cfg.ChannelName(e.ChannelID), e.Detail))
			}
			if len(entries) == 0 {
				r.Lines = append(r.Lines, "Nothing recorded in that period.")
			}
			return r, nil
		},
	}
}
