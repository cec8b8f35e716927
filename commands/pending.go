package commands

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
)

// pending is the approvers' queue: what waits for a decision, oldest
// first, so nothing waits unseen until it expires.
func pendingVerb() *Verb {
	return &Verb{
		Name:     "pending",
		Summary:  "requests waiting for approval, oldest first, with their age and expiry",
		Help:     "In a customer's channel, and for a customer's users, it lists that customer's requests only.",
		Examples: []string{"/mcloud pending", "/mcloud pending customer-x"},
		Spec:     Spec{Args: []Arg{{Name: "customer", Kind: KindCustomer, Optional: true}}},
		Access:   mcloud.AccessCustomer,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			customer := c.Params["customer"]
			if scope := c.scope(); scope != "" {
				customer = scope
			}
			list, err := c.svc.store.PendingRequests(ctx, customer)
			if err != nil {
				return Reply{}, err
			}
			now := c.svc.Now()
			title := "Requests waiting for approval"
			if customer != "" {
				title += " of " + customer
			}
			r := Reply{Title: title + ", oldest first"}
			for _, p := range list {
				if !now.Before(p.ExpiresAt) {
					continue // expired; the sweep says so in its thread
				}
				if !c.sees(p.Customer, p.Requester.ChannelID) {
					continue // asked where this channel cannot read its thread
				}
				r.Lines = append(r.Lines, pendingLine(p, c.svc.cfg.ChannelName(p.Requester.ChannelID), now))
			}
			switch {
			case len(r.Lines) == 0:
				r.Lines = append(r.Lines, "Nothing is waiting.")
			case c.Caller.Approver:
				r.Lines = append(r.Lines, "Approve: /mcloud approve <number>    Deny: /mcloud deny <number> [reason]")
			}
			return r, nil
		},
	}
}

func pendingLine(p mcloud.Request, channel string, now time.Time) string {
	line := fmt.Sprintf("#%d %s", p.ID, workOf(p.Verb, p.Customer, p.Env))
	if args := paramsLine(p.Params); args != "" {
		line += " (" + args + ")"
	}
	return line + fmt.Sprintf(", asked by %s in #%s %s ago; %d of %d approvals; expires in %s (%s)",
		p.Requester.Name, channel, humanDuration(now.Sub(p.CreatedAt)), len(p.Approvals), p.Needed,
		humanDuration(p.ExpiresAt.Sub(now)), p.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
}

// paramsLine is a request's arguments beyond its customer and
// environment, in a stable order, cut short for a list.
func paramsLine(p mcloud.Params) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if k != "customer" && k != "env" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + p[k]
	}
	return cutRunes(strings.Join(parts, " "), 80)
}
