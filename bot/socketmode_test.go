package bot

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/config"
)

// slashEnvelope is a slash command as Socket Mode delivers it: the form
// fields as a JSON object.
func (h *harness) slashEnvelope(id string, u who, channel, text string, trigger string) slackfake.Envelope {
	payload, _ := json.Marshal(map[string]string{
		"token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": u.team, "team_domain": "example", "channel_id": channel,
		"channel_name": h.cfg.ChannelName(channel), "user_id": u.user, "user_name": u.name, "command": "/mcloud", "text": text,
		"api_app_id": "A0MCLOUD", "is_enterprise_install": "false", "response_url": h.ws.ResponseURL(channel, u.user), "trigger_id": trigger,
	})
	return slackfake.Envelope{EnvelopeID: id, Type: "slash_commands", Payload: payload, AcceptsResponsePayload: true}
}

// clickEnvelope is a block_actions payload as Socket Mode delivers it.
func (h *harness) clickEnvelope(id string, u who, channel, ts, actionID, value string) slackfake.Envelope {
	form, _ := url.ParseQuery(string(h.clickBody(u, channel, ts, actionID, value)))
	return slackfake.Envelope{EnvelopeID: id, Type: "interactive", Payload: json.RawMessage(form.Get("payload"))}
}

func (h *harness) acked(id string) bool { return slices.Contains(h.ws.Acks(), id) }

// TestSocketModeCommandAndClick: with an app token and no public URL, a
// slash command envelope is acknowledged and becomes a plan message; its
// redelivery is acknowledged and dropped; a click envelope approves it;
// after Slack asks the bot to reconnect, it does and keeps working.
func TestSocketModeCommandAndClick(t *testing.T) {
	h := newHarness(t, harnessOptions{mode: config.SlackSocket})
	ctx := context.Background()
	if h.slack.Mode() != config.SlackSocket || h.ws.Connected() != 1 {
		t.Fatalf("mode %s with %d connection(s); want Socket Mode, connected once", h.slack.Mode(), h.ws.Connected())
	}

	cmd := h.slashEnvelope("env-cmd-1", carol, customerX, "echo customer-x over the socket --steps 1", "111.222.socket")
	if err := h.ws.Send(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	h.ws.WaitFor(t, 30*time.Second, "the command's acknowledgement", func() bool { return h.acked("env-cmd-1") })
	var plan slackfake.Message
	h.ws.WaitFor(t, 60*time.Second, "the plan message", func() bool {
		var ok bool
		plan, ok = h.planMessage(customerX, 1)
		return ok
	})
	if !blocksHave(plan, "mcloud_approve", "mcloud_deny") {
		t.Fatalf("plan without buttons: %s", plan.Blocks)
	}

	// Slack redelivers an envelope it thinks was not acknowledged.
	retry := cmd
	retry.EnvelopeID, retry.RetryAttempt, retry.RetryReason = "env-cmd-1-retry", 1, "timeout"
	h.ws.Send(ctx, retry)
	h.ws.WaitFor(t, 30*time.Second, "the redelivery's acknowledgement", func() bool { return h.acked("env-cmd-1-retry") })

	h.ws.Send(ctx, h.clickEnvelope("env-click-1", bob, customerX, plan.TS, ActionApprove, "1"))
	h.ws.WaitFor(t, 30*time.Second, "the click's acknowledgement", func() bool { return h.acked("env-click-1") })
	h.ws.WaitFor(t, 60*time.Second, "the job's result in the thread", func() bool {
		return slices.ContainsFunc(h.thread(customerX, plan.TS), func(m slackfake.Message) bool {
			return strings.Contains(m.Text, "Job #1 succeeded")
		})
	})
	h.ws.WaitFor(t, 60*time.Second, "the plan message to show the approval", func() bool {
		m, _ := h.planMessage(customerX, 1)
		return m.Updates > 0 && blocksHave(m, "Approved by bob")
	})
	if n := h.count("requests"); n != 1 {
		t.Fatalf("%d requests; the redelivered command was run again", n)
	}

	h.ws.Disconnect()
	h.ws.WaitFor(t, 60*time.Second, "the bot to reconnect", func() bool { return h.ws.Dials() == 2 && h.ws.Connected() == 1 })
	h.ws.Send(ctx, h.slashEnvelope("env-cmd-2", alice, devops, "help", "333.444.socket"))
	h.ws.WaitFor(t, 30*time.Second, "the answer after reconnecting", func() bool {
		return h.acked("env-cmd-2") && slices.ContainsFunc(h.ws.Ephemerals(), func(e slackfake.Ephemeral) bool {
			return e.User == "U0ALICE" && e.ResponseURL != "" && strings.Contains(e.Text, "mcloud commands you can run here")
		})
	})
	if js, _ := h.db.Jobs(ctx, "", false, 10); len(js) != 1 || js[0].Status != mcloud.JobSucceeded {
		t.Fatalf("jobs = %+v", js)
	}
}
