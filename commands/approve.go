package commands

import (
	"context"
	"fmt"
	"strconv"

	"github.com/mcloud/mcloud"
)

// approve and deny are the text forms of the Approve and Deny buttons;
// both go through the store, which decides with mcloud.DecideApproval
// inside one transaction. A decision made in another channel than the
// request's is also posted in the request's thread, so the requester sees
// it; one made in the same channel is already there as the reply.

func approveVerb() *Verb {
	return &Verb{
		Name:     "approve",
		Summary:  "approve a request; its job runs once enough approvers agree",
		Help:     "You cannot approve your own request. Approving twice counts once.",
		Examples: []string{"/mcloud approve 12"},
		Spec:     Spec{Args: []Arg{{Name: "request", Kind: KindID, About: "the request's number, shown with its plan"}}},
		Access:   mcloud.AccessDevOps,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			if _, err := c.visibleRequest(ctx); err != nil {
				return Reply{}, err
			}
			id, _ := strconv.ParseInt(c.Params["request"], 10, 64)
			res, err := c.svc.store.Approve(ctx, id, c.Caller, c.svc.enqueue)
			if err != nil {
				return Reply{}, err
			}
			r := res.Request
			switch res.Outcome {
			case mcloud.ApprovalRepeated:
				text := fmt.Sprintf("You already approved request #%d; nothing more to do.", r.ID)
				if r.JobID != 0 {
					text = fmt.Sprintf("You already approved request #%d; it runs as job #%d, once.", r.ID, r.JobID)
				}
				return Reply{Title: text, Private: true}, nil
			case mcloud.ApprovalCounted:
				text := fmt.Sprintf("%s approved request #%d (%s for %s): %d of %d approvals; waiting for %d more.",
					c.Caller.Name, r.ID, r.Verb, r.Customer, len(r.Approvals), r.Needed, r.Needed-len(r.Approvals))
				if c.Caller.ChannelID != r.Requester.ChannelID {
					c.svc.post(ctx, r.Requester.ChannelID, r.ID, 0, text)
				}
				return Reply{Title: text, Request: &r}, nil
			}
			text := fmt.Sprintf("%s approved request #%d (%s for %s); it runs as job #%d.", c.Caller.Name, r.ID, r.Verb, r.Customer, res.Job.ID)
			if c.Caller.ChannelID != r.Requester.ChannelID {
				c.svc.post(ctx, r.Requester.ChannelID, r.ID, res.Job.ID, text)
			}
			return Reply{Title: text, Request: &r, Job: res.Job}, nil
		},
	}
}

func denyVerb() *Verb {
	return &Verb{
		Name:     "deny",
		Summary:  "deny a request (approvers), or withdraw your own; it will never run",
		Examples: []string{"/mcloud deny 12", "/mcloud deny 12 not during the release freeze"},
		Spec: Spec{Args: []Arg{
			{Name: "request", Kind: KindID, About: "the request's number, shown with its plan"},
			{Name: "reason", Kind: KindText, Optional: true},
		}},
		Access: mcloud.AccessCustomer,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			if _, err := c.visibleRequest(ctx); err != nil {
				return Reply{}, err
			}
			id, _ := strconv.ParseInt(c.Params["request"], 10, 64)
			r, err := c.svc.store.Deny(ctx, id, c.Caller, c.Params["reason"])
			if err != nil {
				return Reply{}, err
			}
			text := fmt.Sprintf("%s denied request #%d (%s for %s); it will not run.", c.Caller.Name, r.ID, r.Verb, r.Customer)
			if mcloud.SameUser(r.Requester, c.Caller) {
				text = fmt.Sprintf("%s withdrew request #%d (%s for %s); it will not run.", c.Caller.Name, r.ID, r.Verb, r.Customer)
			}
			if r.Reason != "" {
				text += " Reason: " + r.Reason
			}
			if c.Caller.ChannelID != r.Requester.ChannelID {
				c.svc.post(ctx, r.Requester.ChannelID, r.ID, 0, text)
			}
			return Reply{Title: text, Request: &r}, nil
		},
	}
}
