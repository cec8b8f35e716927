package bot

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
)

// ephemeralsTo are the texts shown to user alone in channel.
func (h *harness) ephemeralsTo(user, channel string) []string {
	var out []string
	for _, e := range h.ws.Ephemerals() {
		if e.User == user && e.Channel == channel {
			out = append(out, e.Text)
		}
	}
	return out
}

// publicIn fails the test if anything was queued or posted for everyone
// in channel.
func (h *harness) expectNothingPublicIn(channel string) {
	h.t.Helper()
	if items, err := h.db.OutboxItems(context.Background(), channel); err != nil || len(items) != 0 {
		h.t.Errorf("queued for everyone in %s: %+v (%v); want nothing", channel, items, err)
	}
	for _, c := range h.slackCalls() {
		if c.Method != "chat.postEphemeral" && c.Form.Get("channel") == channel {
			h.t.Errorf("%s to %s: %v; want only ephemeral answers there", c.Method, channel, c.Form)
		}
	}
}

func expectTexts(t *testing.T, got []string, wants ...string) {
	t.Helper()
	all := strings.Join(got, "\n---\n")
	for _, w := range wants {
		if !strings.Contains(all, w) {
			t.Errorf("answers lack %q:\n%s", w, all)
		}
	}
}

// TestSlackUnlistedChannelAnswersPrivately is issue 8, defect 1: DevOps
// typing /mcloud jobs or /mcloud status customer-y in #general (or a DM)
// had every customer's jobs, hosts and bastion posted there for all to
// read. Only team.channels may show more than one customer; elsewhere the
// answer is the caller's alone, and a request is refused with where to
// ask, since its plan and progress would be posted there.
func TestSlackUnlistedChannelAnswersPrivately(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	const general, dm = "C0GENERAL", "D0ALICE"
	h.sendSigned("/slack/commands", h.slashBody(bob, devops, "echo customer-y something pending"))
	h.waitTasks(1)
	for _, line := range []string{"jobs", "status customer-y", "echo customer-x hi"} {
		h.sendSigned("/slack/commands", h.slashBody(alice, general, line))
	}
	h.sendSigned("/slack/commands", h.slashBody(alice, dm, "status customer-x"))
	h.waitTasks(4)

	h.expectNothingPublicIn(general)
	h.expectNothingPublicIn(dm)
	expectTexts(t, h.ephemeralsTo(alice.user, general), "Newest jobs", "Status of customer-y", "Requests waiting for approval: 1",
		"echo for customer-x must be asked in a team channel or in customer-x's channel")
	expectTexts(t, h.ephemeralsTo(alice.user, dm), "Status of customer-x")
	if n := h.count("requests"); n != 1 {
		t.Fatalf("%d requests stored; want only bob's from the team channel", n)
	}

	// A decision typed in a DM is the approver's alone to read there; the
	// request's own thread in the team channel is told, and its plan
	// message refreshed.
	const erinDM = "D0ERIN"
	h.sendSigned("/slack/commands", h.slashBody(erin, erinDM, "approve 1"))
	h.waitTasks(1)
	h.expectNothingPublicIn(erinDM)
	expectTexts(t, h.ephemeralsTo(erin.user, erinDM), "erin approved request #1 (echo for customer-y)")
	items, _ := h.db.OutboxItems(context.Background(), devops)
	var told, refreshed bool
	for _, it := range items {
		told = told || (it.RequestID == 1 && strings.Contains(it.Text, "erin approved request #1"))
		refreshed = refreshed || (it.RequestID == 1 && it.Kind == store.KindUpdate)
	}
	if !told || !refreshed {
		t.Fatalf("team channel outbox %+v: told %v, plan refreshed %v; want both", items, told, refreshed)
	}
}

// TestSlackThirdOrganisationGetsHelpOnly is issue 8, defect 2: a user of a
// workspace that is neither the DevOps team's nor the customer's, in the
// customer's Slack Connect channel, saw hosts, addresses and the bastion
// and filed a request. Now: help only, and the refusal says why. With
// bob's user id they cannot withdraw bob's request either (defect 7).
func TestSlackThirdOrganisationGetsHelpOnly(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	eve := who{"U0EVE", "T0EVIL", "eve"}
	h.sendSigned("/slack/commands", h.slashBody(bob, customerX, "echo customer-x asked by bob"))
	h.waitTasks(1)
	for _, line := range []string{"status customer-x", "jobs", "echo customer-x hi", "help"} {
		h.sendSigned("/slack/commands", h.slashBody(eve, customerX, line))
	}
	h.sendSigned("/slack/commands", h.slashBody(impostor, customerX, "deny 1"))
	h.waitTasks(5)

	why := "Your Slack workspace T0EVIL is neither the DevOps team's nor a customer's that mcloud knows, so you can only ask for help."
	got := h.ephemeralsTo(eve.user, customerX)
	if len(got) != 4 {
		t.Fatalf("eve got %d answers, want 4: %q", len(got), got)
	}
	helps := 0
	for _, text := range got {
		if !strings.Contains(text, why) {
			t.Errorf("answer %q; want the refusal (or help) saying why", text)
		}
		if strings.Contains(text, "mcloud commands you can run here") {
			helps++
		}
	}
	if helps != 1 {
		t.Errorf("%d help answers, want 1", helps)
	}
	for _, text := range append(got, h.ephemeralsTo(impostor.user, customerX)...) {
		for _, secret := range []string{"bastion", "10.0.", "Newest jobs"} {
			if strings.Contains(text, secret) {
				t.Errorf("a third organisation was shown %q: %q", secret, text)
			}
		}
	}
	expectTexts(t, h.ephemeralsTo(impostor.user, customerX), why)
	if n := h.count("requests"); n != 1 {
		t.Fatalf("%d requests stored; want only bob's", n)
	}
	if r, err := h.db.Request(context.Background(), 1); err != nil || r.Status != mcloud.RequestPending {
		t.Fatalf("bob's request: %+v, %v; want it still pending", r, err)
	}
}

// TestShellUnlistedChannelIsPrivate: `mcloud shell` behaves as Slack does
// in a channel the configuration does not name (issue 8, defect 1).
func TestShellUnlistedChannelIsPrivate(t *testing.T) {
	cfg := exampleConfig(t)
	db := storetest.Open(t, "")
	svc, err := commands.New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sh := &Shell{Service: svc, Outbox: db, Out: &out, User: "alice", Channel: "devops", Wait: time.Second,
		In: strings.NewReader(":channel general\n/mcloud jobs\n/mcloud status customer-y\n/mcloud echo customer-x hi\n:whoami\n")}
	if err := sh.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"You are now in #general, a channel mcloud is not configured for", "Newest jobs", "Status of customer-y",
		"echo for customer-x must be asked in a team channel or in customer-x's channel", "in #general (unlisted channel): devops"} {
		if !strings.Contains(got, want) {
			t.Errorf("shell output lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "(only you can see this)"); n != 3 {
		t.Errorf("%d private answers, want 3:\n%s", n, got)
	}
	if items, _ := db.OutboxItems(context.Background(), ""); len(items) != 0 {
		t.Errorf("queued for a channel: %+v", items)
	}
}

// TestSlackNamesakeDenialIsNotAWithdrawal: the team has a carol too (bob's
// configured name here). When she denies the customer's carol's request,
// both plan messages and `job` say it was denied by carol; the rule this
// replaces compared display names and told everyone the customer had
// withdrawn it herself.
func TestSlackNamesakeDenialIsNotAWithdrawal(t *testing.T) {
	h := newHarness(t, harnessOptions{config: func(cfg *config.Config) {
		for i := range cfg.Team.Users {
			if cfg.Team.Users[i].ID == bob.user {
				cfg.Team.Users[i].Name = "carol"
			}
		}
	}})
	h.sendSigned("/slack/commands", h.slashBody(carol, customerX, "echo customer-x please check the gateway"))
	var ours slackfake.Message
	h.ws.WaitFor(t, 60*time.Second, "the plan in both channels", func() bool {
		var ok1, ok2 bool
		_, ok1 = h.planMessage(customerX, 1)
		ours, ok2 = h.planMessage(devops, 1)
		return ok1 && ok2
	})
	h.sendSigned("/slack/interactivity", h.clickBody(bob, devops, ours.TS, ActionDeny, "1"))
	h.ws.WaitFor(t, 60*time.Second, "both copies of #1 to show the decision", func() bool {
		a, _ := h.planMessage(customerX, 1)
		b, _ := h.planMessage(devops, 1)
		return blocksHave(a, "by carol; it will not run") && blocksHave(b, "by carol; it will not run")
	})
	for _, ch := range []string{customerX, devops} {
		if m, _ := h.planMessage(ch, 1); !blocksHave(m, "Denied by carol") {
			t.Errorf("%s's copy does not say the team denied it (a withdrawal?):\n%s", ch, m.Blocks)
		}
	}
	if r, _ := h.db.Request(context.Background(), 1); r.Status != mcloud.RequestDenied || r.Denier.UserID != bob.user {
		t.Fatalf("request #1: %s, denier %+v; want denied by %s", r.Status, r.Denier, bob.user)
	}
	h.sendSigned("/slack/commands", h.slashBody(alice, devops, "job 1"))
	h.ws.WaitFor(t, 60*time.Second, "the answer to job 1", func() bool {
		for _, m := range h.botMessages(devops) {
			if strings.Contains(m.Text, "was denied by carol") {
				return true
			}
			if strings.Contains(m.Text, "withdrawn") {
				t.Fatalf("job 1 calls the denial a withdrawal: %s", m.Text)
			}
		}
		return false
	})
}
