package bot

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/config"
)

// A customer's request in their shared channel is announced in the team
// channel too, with the same Approve and Deny buttons: the same request,
// one decision. Approving it there updates both messages in place; a
// denial made in the customer's channel shows in both as well.
func TestSlackCustomerRequestAnnouncedToApprovers(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	// A long job, so the approval must show while it runs.
	if status, _ := h.sendSigned("/slack/commands", h.slashBody(carol, customerX, "echo customer-x please check the gateway --steps 20 --pause 5s")); status != http.StatusOK {
		t.Fatalf("slash command answered %d", status)
	}
	var theirs, ours slackfake.Message
	h.ws.WaitFor(t, 60*time.Second, "the plan in both channels", func() bool {
		var ok1, ok2 bool
		theirs, ok1 = h.planMessage(customerX, 1)
		ours, ok2 = h.planMessage(devops, 1)
		return ok1 && ok2
	})
	for _, want := range []string{`"action_id":"mcloud_approve"`, `"action_id":"mcloud_deny"`, `"value":"1"`, "*Requested by*\\ncarol in #customer-x-shared"} {
		if !blocksHave(ours, want) {
			t.Errorf("the team channel's copy lacks %s:\n%s", want, ours.Blocks)
		}
	}

	h.sendSigned("/slack/interactivity", h.clickBody(bob, devops, ours.TS, ActionApprove, "1"))
	// Approved and running, with a Cancel button: both copies show it
	// while the job runs, not only once it has ended.
	running := func(m slackfake.Message) bool {
		return m.Updates > 0 && blocksHave(m, "Approved by bob", `"action_id":"mcloud_cancel"`, `"value":"1"`) && !blocksHave(m, "mcloud_approve")
	}
	h.ws.WaitFor(t, 60*time.Second, "both plan messages to show the approval while the job runs", func() bool {
		theirs, _ = h.planMessage(customerX, 1)
		ours, _ = h.planMessage(devops, 1)
		return running(theirs) && running(ours)
	})
	told := false
	for _, m := range h.thread(customerX, theirs.TS) {
		told = told || strings.Contains(m.Text, "bob approved request #1")
	}
	if !told {
		t.Errorf("the customer's thread was not told of the approval")
	}
	// Cancel from the team channel's copy stops #1, and both copies end.
	h.sendSigned("/slack/interactivity", h.clickBody(bob, devops, ours.TS, ActionCancel, "1"))
	h.ws.WaitFor(t, 60*time.Second, "the job's end in both messages", func() bool {
		theirs, _ = h.planMessage(customerX, 1)
		ours, _ = h.planMessage(devops, 1)
		return blocksHave(theirs, "Job #1 cancelled") && blocksHave(ours, "Job #1 cancelled") && !blocksHave(ours, "mcloud_cancel")
	})
	if js, _ := h.db.Jobs(context.Background(), "", false, 10); len(js) != 1 || js[0].ID != 1 || js[0].Status != mcloud.JobCancelled {
		t.Fatalf("jobs = %+v; want #1 once, cancelled", js)
	}

	// Denied in the customer's channel: the team's copy shows it too.
	h.sendSigned("/slack/commands", h.slashBody(carol, customerX, "echo customer-x a second thing"))
	h.ws.WaitFor(t, 60*time.Second, "request #2 in the team channel", func() bool {
		_, ok := h.planMessage(devops, 2)
		return ok
	})
	h.sendSigned("/slack/commands", h.slashBody(bob, customerX, "deny 2 not today"))
	h.ws.WaitFor(t, 60*time.Second, "both copies of #2 to show the denial", func() bool {
		a, _ := h.planMessage(customerX, 2)
		b, _ := h.planMessage(devops, 2)
		return blocksHave(a, "Denied by bob") && blocksHave(b, "Denied by bob") && !blocksHave(b, "mcloud_approve")
	})

	// Withdrawn by the requester: the approvers' copy stops asking them.
	h.sendSigned("/slack/commands", h.slashBody(carol, customerX, "echo customer-x a third thing"))
	h.ws.WaitFor(t, 60*time.Second, "request #3 in the team channel", func() bool {
		_, ok := h.planMessage(devops, 3)
		return ok
	})
	h.sendSigned("/slack/commands", h.slashBody(carol, customerX, "deny 3"))
	h.ws.WaitFor(t, 60*time.Second, "both copies of #3 to show the withdrawal", func() bool {
		a, _ := h.planMessage(customerX, 3)
		b, _ := h.planMessage(devops, 3)
		return blocksHave(a, "Withdrawn by carol") && blocksHave(b, "Withdrawn by carol") && !blocksHave(b, "mcloud_approve")
	})
}

// Expired without a decision: both copies say so and drop their buttons.
func TestSlackExpiryUpdatesBothCopies(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	// Set before any command: only a new request reads it.
	h.cfg.Approvals.Expiry = config.Duration(time.Second)
	h.sendSigned("/slack/commands", h.slashBody(carol, customerX, "echo customer-x soon stale"))
	h.ws.WaitFor(t, 60*time.Second, "request #1 in both channels", func() bool {
		_, ok1 := h.planMessage(customerX, 1)
		_, ok2 := h.planMessage(devops, 1)
		return ok1 && ok2
	})
	time.Sleep(1100 * time.Millisecond)
	if err := h.slack.svc.ExpireRequests(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.ws.WaitFor(t, 60*time.Second, "both copies of #1 to show the expiry", func() bool {
		a, _ := h.planMessage(customerX, 1)
		b, _ := h.planMessage(devops, 1)
		return blocksHave(a, "Expired") && blocksHave(b, "Expired") && !blocksHave(a, "mcloud_approve") && !blocksHave(b, "mcloud_approve")
	})
}
