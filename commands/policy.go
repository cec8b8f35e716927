package commands

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// System is policy acting as a caller: a schedule of the reviewed
// configuration, named wherever a person would be (audit log, plan,
// thread).
type System struct {
	// Key identifies it: "customer-x/backup".
	Key string
	// Title is what people read: "nightly backup of customer-x".
	Title string
}

// Caller is the system caller for customer: it speaks in the customer's
// channel, as its work's thread lives there.
func (sys System) Caller(channel, customer string) mcloud.Caller {
	return mcloud.Caller{UserID: "schedule:" + sys.Key, Name: fmt.Sprintf("schedule %q", sys.Title), Role: mcloud.RoleSystem,
		ChannelID: channel, ChannelKind: mcloud.ChannelCustomer, ChannelCustomer: customer}
}

// StartByPolicy files work a schedule asks for through the same plan,
// request, job, audit and thread as a person's request. Its standing
// approval is the configuration, within mcloud.PolicyMayStart: work policy
// may start runs at once; work beyond a cap waits for DevOps in the team
// channel like a person's request; anything else is refused (EUNAUTHORIZED).
// fire, when set, is claimed in the transaction that files the work
// (*store.AlreadyFired when another replica had it).
func (s *Service) StartByPolicy(ctx context.Context, sys System, verb, customer string, params mcloud.Params, fire *store.Fire) (Reply, error) {
	v := s.verbs[verb]
	if v == nil || v.Execute == nil {
		return Reply{}, fmt.Errorf("schedule %s: no command %q can run it", sys.Key, verb)
	}
	cu := s.cfg.Customer(customer)
	if cu == nil {
		return Reply{}, mcloud.Errorf(mcloud.ENOTFOUND, "Customer %s is no longer in the configuration.", customer)
	}
	channel := cu.Channel.ID
	if verb == "report" && cu.Schedules.ReportsChannel != "" {
		channel = cu.Schedules.ReportsChannel
	}
	caller := sys.Caller(channel, cu.Name)
	if decision, why := mcloud.PolicyMayStart(mcloud.PolicyWork{Verb: verb}); decision == mcloud.PolicyRefuse {
		// Refused before its plan is made: policy may not even look.
		s.refused(ctx, caller, cu.Name, verb, mcloud.Errorf(mcloud.EUNAUTHORIZED, "%s", why))
		return Reply{}, mcloud.Errorf(mcloud.EUNAUTHORIZED, "%s", why)
	}
	call := &Call{Caller: caller, Verb: v, Params: maps.Clone(params), Customer: cu, svc: s}
	if call.Params == nil {
		call.Params = mcloud.Params{}
	}
	call.Params["customer"] = cu.Name
	if e := call.Params["env"]; e != "" {
		if call.Env = cu.Env(e); call.Env == nil {
			return Reply{}, mcloud.Errorf(mcloud.ENOTFOUND, "Environment %s/%s is no longer in the configuration.", cu.Name, e)
		}
	}
	plan, err := v.Plan(ctx, call)
	if err != nil {
		return Reply{}, err
	}
	decision, why := mcloud.PolicyMayStart(mcloud.PolicyWork{Verb: verb, Deletes: plan.Deletes, Cap: plan.DeleteCap})
	now := s.Now()
	req := &mcloud.Request{Verb: verb, Customer: cu.Name, Params: call.Params, Plan: plan, Requester: caller,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.Approvals.Expiry.Std())}
	if call.Env != nil {
		req.Env = call.Env.Name
	}
	switch decision {
	case mcloud.PolicyRefuse:
		s.refused(ctx, caller, cu.Name, verb, mcloud.Errorf(mcloud.EUNAUTHORIZED, "%s", why))
		return Reply{}, mcloud.Errorf(mcloud.EUNAUTHORIZED, "%s", why)
	case mcloud.PolicyAsk:
		// Asked where approvers are; its plan, with the list, is the root
		// of its thread there.
		req.Needed = max(1, s.cfg.Approvers(verb, mcloud.RoleDevOps, v.DevOpsApprovals, v.CustomerApprovals))
		if ch := s.ApprovalsChannel(); ch != "" {
			req.Requester.ChannelID, req.Requester.ChannelKind, req.Requester.ChannelCustomer = ch, mcloud.ChannelTeam, ""
		}
		req.Plan.Notes = append(req.Plan.Notes, why)
	}
	if s.enqueue == nil {
		return Reply{}, errors.New("job queue not connected")
	}
	thread := func(r mcloud.Request) []store.OutboxItem {
		return []store.OutboxItem{{Post: mcloud.Post{ChannelID: r.Requester.ChannelID, Text: fmt.Sprintf("Request #%d by %s: %s", r.ID, r.Requester.Name, r.Plan.Summary)},
			Kind: store.KindPlan}}
	}
	job, err := s.store.SubmitWith(ctx, req, s.enqueue, store.SubmitOptions{Thread: thread, Fire: fire})
	if err != nil {
		return Reply{}, err
	}
	return Reply{Request: req, Job: job}, nil
}
