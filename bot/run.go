package bot

// A delivery's work: the command typed, or the button clicked, run by the
// service as the caller the verified identity resolves to, and answered.

import (
	"context"
	"fmt"
	"strconv"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
)

// caller resolves a verified identity in a channel to a role (see
// config.Resolve). A configured user is shown by the configured name only
// when they come from the workspace the configuration places them in; a
// name from anywhere else is marked with its workspace, so nobody passes
// for a colleague in the bot's messages.
func (s *Slack) caller(id config.Identity, channel string) mcloud.Caller {
	id.Name = s.displayName(id)
	return s.cfg.Resolve(id, channel)
}

func (s *Slack) displayName(id config.Identity) string {
	devops := s.cfg.DevOpsWorkspace().Vouches(id.TeamID, id.EnterpriseID)
	for _, u := range s.cfg.Team.Users {
		if u.ID == id.UserID && devops {
			return u.Name
		}
	}
	for i := range s.cfg.Customers {
		cu := &s.cfg.Customers[i]
		for _, u := range cu.Users {
			if u.ID == id.UserID && cu.Workspace().Vouches(id.TeamID, id.EnterpriseID) {
				return u.Name
			}
		}
	}
	name := id.Name
	if name == "" {
		name = id.UserID
	}
	if !devops {
		name += " (" + id.TeamID + ")"
	}
	return name
}

// runCommand runs a typed command (slash or mention) and answers it.
func (s *Slack) runCommand(ctx context.Context, in input) {
	caller := s.caller(in.id, in.channel)
	rs := newResponder(in.responseURL, in.at)
	reply := s.svc.Handle(ctx, caller, in.text)
	switch {
	case reply.Error != "" || !mcloud.Public(caller, reply.Private):
		// Outside team and customer channels only the caller sees an
		// answer; a decision still refreshes its plan messages, which
		// live in the request's own channel and the approvals channel.
		s.ephemeral(ctx, caller, in, rs, ReplyMessage(reply, s.cfg, s.now()))
		if r := reply.Request; reply.Error == "" && !reply.Private && r != nil && r.ID != 0 {
			s.queueUpdates(ctx, r.ID)
		}
	case reply.Request != nil && reply.Title == "" && !reply.DryRun:
		// A new request: its plan message is the root of its thread,
		// rendered when sent so it shows the request as it is then.
		msg := ReplyMessage(reply, s.cfg, s.now())
		s.queue(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: caller.ChannelID, RequestID: reply.Request.ID, Text: msg.Text},
			Kind: store.KindPlan})
	default:
		msg := ReplyMessage(reply, s.cfg, s.now())
		blocks, err := msg.BlocksJSON()
		if err != nil {
			s.log.Error("render reply", "err", err)
		}
		s.queue(ctx, store.OutboxItem{Post: mcloud.Post{ChannelID: caller.ChannelID, Text: msg.Text}, Blocks: blocks, ThreadTS: in.threadTS})
		if r := reply.Request; r != nil && r.ID != 0 {
			s.queueUpdates(ctx, r.ID)
		}
	}
}

// buttonVerbs are the verbs the buttons stand for, by action id.
var buttonVerbs = map[string]string{ActionApprove: "approve", ActionDeny: "deny", ActionCancel: "cancel", ActionAck: "ack"}

// runAction runs a button click as the command it stands for, through the
// same code as the typed command. On success the verbs have told the
// thread what the channel should know, and the plan (or alert) message is
// updated to show the decision; only what went wrong is shown to the
// clicker alone.
func (s *Slack) runAction(ctx context.Context, a action) {
	caller := s.caller(a.id, a.channel)
	rs := newResponder(a.responseURL, a.at)
	verb := buttonVerbs[a.actionID]
	id, err := strconv.ParseInt(a.value, 10, 64)
	if verb == "" || err != nil || id <= 0 {
		s.log.Warn("unknown Slack button", "action_id", a.actionID, "value", a.value)
		s.ephemeral(ctx, caller, a.input, rs, ReplyMessage(commands.Reply{Error: "That button is not one mcloud knows; nothing was done.", Usage: "/mcloud help"}, s.cfg, s.now()))
		return
	}
	line := fmt.Sprintf("%s %d", verb, id)
	if a.choice != "" {
		line += " " + a.choice
	}
	reply := s.svc.Handle(ctx, caller, line)
	if reply.Error != "" || reply.Private {
		s.ephemeral(ctx, caller, a.input, rs, ReplyMessage(reply, s.cfg, s.now()))
	}
	switch {
	case verb == "ack":
		// The acknowledgement queued its messages' updates itself, and an
		// alert's number is not a request's.
	case verb == "cancel":
		if job, err := s.db.Job(ctx, id); err == nil && job.RequestID != 0 {
			s.queueUpdates(ctx, job.RequestID)
		}
	case reply.Request != nil:
		s.queueUpdates(ctx, reply.Request.ID)
	case reply.Error != "":
		// The message may be stale (expired, decided elsewhere): refresh it
		// if the request is no longer pending.
		if r, err := s.db.Request(ctx, id); err == nil && (r.Status != mcloud.RequestPending || !s.now().Before(r.ExpiresAt)) {
			s.queueUpdates(ctx, r.ID)
		}
	case reply.Private:
		// "You already approved": when this is the click worked again after
		// a crash, its first run counted it but never refreshed the message.
		if r, err := s.db.Request(ctx, id); err == nil {
			s.queueUpdates(ctx, r.ID)
		}
	}
}
