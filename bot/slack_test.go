package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/config"
)

// blocksHave reports whether the message's blocks contain every want.
func blocksHave(m slackfake.Message, wants ...string) bool {
	// Blocks are JSON as slack-go writes it, with <, > and & escaped.
	raw := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(m.Blocks))
	for _, w := range wants {
		if !strings.Contains(raw, w) {
			return false
		}
	}
	return true
}

// TestSlackSlashCommandApproveClickJobInThread is the whole story in
// Slack: a customer's signed slash command becomes a plan message with
// Approve and Deny; an approver's signed click (delivered twice, and then
// clicked again) updates the message, runs the job once, and the job's
// progress and result land in the message's thread.
func TestSlackSlashCommandApproveClickJobInThread(t *testing.T) {
	h := newHarness(t, harnessOptions{})

	status, body := h.sendSigned("/slack/commands", h.slashBody(carol, customerX, "echo customer-x please check the gateway --steps 2"))
	if status != http.StatusOK || body != "" {
		t.Fatalf("slash command answered %d %q, want an empty 200", status, body)
	}
	var plan slackfake.Message
	h.ws.WaitFor(t, 60*time.Second, "the plan message", func() bool {
		var ok bool
		plan, ok = h.planMessage(customerX, 1)
		return ok
	})
	for _, want := range []string{`"action_id":"mcloud_approve"`, `"action_id":"mcloud_deny"`, `"value":"1"`,
		"*Requested by*\\ncarol in #customer-x-shared", "*Approvals*\\n0 of 1", "*Expires*\\n<!date^"} {
		if !blocksHave(plan, want) {
			t.Errorf("plan message blocks lack %s:\n%s", want, plan.Blocks)
		}
	}
	if !strings.Contains(plan.Text, "Waiting for 1 approval from an approver other than carol") {
		t.Errorf("plan text fallback = %q", plan.Text)
	}
	if r, err := h.db.Request(context.Background(), 1); err != nil || r.Status != mcloud.RequestPending || r.Requester.TeamID != "T0CUSTX" {
		t.Fatalf("request #1 = %+v, %v; want pending, asked from carol's workspace", r, err)
	}

	click := h.clickBody(bob, customerX, plan.TS, ActionApprove, "1")
	for range 2 { // Slack delivering the same click twice
		if status, _ := h.sendSigned("/slack/interactivity", click); status != http.StatusOK {
			t.Fatalf("click answered %d", status)
		}
	}
	h.waitTasks(2) // the command and the click; the duplicate was dropped on arrival
	h.ws.WaitFor(t, 60*time.Second, "the job's result in the plan's thread", func() bool {
		for _, m := range h.thread(customerX, plan.TS) {
			if strings.Contains(m.Text, `Job #1 succeeded: repeated "please check the gateway" in 2 steps`) {
				return true
			}
		}
		return false
	})
	h.ws.WaitFor(t, 60*time.Second, "the plan message to show the approval and the job's end", func() bool {
		m, _ := h.planMessage(customerX, 1)
		return m.Updates > 0 && blocksHave(m, "Approved by bob", "Job #1 succeeded", "*Job*\\n#1") && !blocksHave(m, "mcloud_approve", "mcloud_cancel")
	})

	// A second, distinct click by the same approver counts once too.
	h.sendSigned("/slack/interactivity", h.clickBody(bob, customerX, plan.TS, ActionApprove, "1"))
	h.waitTasks(1)
	eph := h.ws.Ephemerals()
	if len(eph) != 1 || eph[0].User != "U0BOB" || eph[0].ResponseURL == "" || !strings.Contains(eph[0].Text, "You already approved request #1; it runs as job #1, once.") {
		t.Fatalf("ephemerals after a repeated click = %+v", eph)
	}

	ctx := context.Background()
	if js, _ := h.db.Jobs(ctx, "", false, 10); len(js) != 1 || js[0].Status != mcloud.JobSucceeded {
		t.Fatalf("jobs = %+v; want exactly one, succeeded", js)
	}
	started := 0
	for _, m := range h.thread(customerX, plan.TS) {
		if strings.Contains(m.Text, "Job #1 started") {
			started++
		}
	}
	if started != 1 {
		t.Fatalf("the job started %d times in the thread, want once", started)
	}
	approvals := 0
	entries, _ := h.db.AuditLog(ctx, "customer-x", time.Time{}, 100)
	for _, e := range entries {
		if e.Event == mcloud.AuditApproved {
			approvals++
			if e.UserID != "U0BOB" {
				t.Errorf("approval audited for %s", e.UserID)
			}
		}
	}
	if approvals != 1 {
		t.Fatalf("audit has %d approvals, want 1", approvals)
	}
	for _, m := range h.botMessages(customerX) {
		if m.ThreadTS == "" && m.TS != plan.TS {
			t.Errorf("a message outside the thread: %q", m.Text)
		}
	}
}

// TestSlackClickRefused: the requester, and a Slack Connect user with an
// approver's id and name from another workspace, cannot approve; each is
// told so privately, the message does not change and nothing runs.
func TestSlackClickRefused(t *testing.T) {
	// One worker: bob's command, sent first, must be request #1.
	h := newHarness(t, harnessOptions{workers: 1})
	// bob, an approver, asks in the team channel; carol asks in hers.
	h.sendSigned("/slack/commands", h.slashBody(bob, devops, "echo customer-x asked by bob"))
	h.sendSigned("/slack/commands", h.slashBody(carol, customerX, "echo customer-x asked by carol"))
	h.waitTasks(2)
	var bobPlan, carolPlan slackfake.Message
	h.ws.WaitFor(t, 60*time.Second, "both plan messages", func() bool {
		var ok1, ok2 bool
		bobPlan, ok1 = h.planMessage(devops, 1)
		carolPlan, ok2 = h.planMessage(customerX, 2)
		return ok1 && ok2
	})

	cases := []struct {
		name    string
		u       who
		channel string
		plan    slackfake.Message
		id      string
		want    string
	}{
		{"requester who is an approver", bob, devops, bobPlan, "1", "You cannot approve request #1 because you made it; another approver must."},
		{"requester who is a customer", carol, customerX, carolPlan, "2", `"approve" is for the DevOps team only`},
		{"Slack Connect user named bob with bob's id", impostor, customerX, carolPlan, "2", "Your Slack workspace T0EVIL is neither the DevOps team's nor a customer's"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if status, _ := h.sendSigned("/slack/interactivity", h.clickBody(c.u, c.channel, c.plan.TS, ActionApprove, c.id)); status != http.StatusOK {
				t.Fatalf("click answered %d", status)
			}
			h.waitTasks(1)
			eph := h.ws.Ephemerals()
			if len(eph) != i+1 {
				t.Fatalf("%d ephemeral answers, want %d", len(eph), i+1)
			}
			got := eph[i]
			if got.User != c.u.user || got.Channel != c.channel || got.ResponseURL == "" || !strings.Contains(got.Text, c.want) {
				t.Fatalf("ephemeral = %+v; want %q to %s through the response_url", got, c.want, c.u.user)
			}
		})
	}
	ctx := context.Background()
	for _, id := range []int64{1, 2} {
		if r, _ := h.db.Request(ctx, id); r.Status != mcloud.RequestPending || len(r.Approvals) != 0 {
			t.Errorf("request #%d is %s with %d approvals; want pending with none", id, r.Status, len(r.Approvals))
		}
	}
	if js, _ := h.db.Jobs(ctx, "", false, 10); len(js) != 0 {
		t.Errorf("jobs ran: %+v", js)
	}
	for _, m := range h.ws.Messages() {
		if m.Updates != 0 {
			t.Errorf("message %q was updated", m.Text)
		}
	}
	// Carol's request is also announced to the team channel: 3 plans.
	if updates, _ := h.db.OutboxItems(ctx, ""); len(updates) != 3 {
		t.Errorf("outbox has %d messages, want just the 3 plans", len(updates))
	}
}

// TestSlackRejectsBadRequests: every request that is not exactly what
// Slack signs and sends is answered 401 or 400, and nothing is run,
// stored or posted.
func TestSlackRejectsBadRequests(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	now := time.Now()
	good := h.slashBody(alice, devops, "echo customer-x hello")
	click := h.clickBody(bob, customerX, "1700000000.000100", ActionApprove, "1")
	hdr := func(secret string, at time.Time, body []byte) http.Header { return signedHeader(secret, at, body) }
	without := func(hd http.Header, key string) http.Header { hd.Del(key); return hd }
	with := func(hd http.Header, key, value string) http.Header { hd.Set(key, value); return hd }
	cases := []struct {
		name   string
		path   string
		body   []byte
		header http.Header
		want   int
	}{
		{"forged signature", "/slack/commands", good, with(hdr(testSigningSecret, now, good), "X-Slack-Signature", "v0="+strings.Repeat("ab", 32)), 401},
		{"signed with the wrong secret", "/slack/commands", good, hdr("not-the-signing-secret", now, good), 401},
		{"timestamp 6 minutes old", "/slack/commands", good, hdr(testSigningSecret, now.Add(-6*time.Minute), good), 401},
		{"timestamp 6 minutes in the future", "/slack/commands", good, hdr(testSigningSecret, now.Add(6*time.Minute), good), 401},
		{"no signature header", "/slack/commands", good, without(hdr(testSigningSecret, now, good), "X-Slack-Signature"), 401},
		{"no timestamp header", "/slack/commands", good, without(hdr(testSigningSecret, now, good), "X-Slack-Request-Timestamp"), 401},
		{"no headers at all", "/slack/commands", good, http.Header{}, 401},
		{"body altered after signing", "/slack/commands", []byte(strings.Replace(string(good), "hello", "goodbye", 1)), hdr(testSigningSecret, now, good), 401},
		{"signature without v0=", "/slack/commands", good, with(hdr(testSigningSecret, now, good), "X-Slack-Signature", strings.TrimPrefix(hdr(testSigningSecret, now, good).Get("X-Slack-Signature"), "v0=")), 401},
		{"timestamp not a number", "/slack/commands", good, with(hdr(testSigningSecret, now, good), "X-Slack-Request-Timestamp", "yesterday"), 401},
		{"click with a forged signature", "/slack/interactivity", click, with(hdr(testSigningSecret, now, click), "X-Slack-Signature", "v0="+strings.Repeat("00", 32)), 401},
		{"unknown command", "/slack/commands", signedBody(strings.Replace(string(good), "%2Fmcloud", "%2Fdeploy", 1)), nil, 400},
		{"command without a user", "/slack/commands", signedBody(strings.Replace(string(good), "user_id=U0ALICE", "user_id=", 1)), nil, 400},
		{"malformed payload JSON", "/slack/interactivity", []byte("payload=%7B%22type%22%3A%22block_actions%22%2C"), nil, 400},
		{"interactivity without a payload", "/slack/interactivity", []byte("token=x"), nil, 400},
		{"malformed event JSON", "/slack/events", []byte(`{"type":"event_callback","event":`), nil, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			header := c.header
			if header == nil { // signed correctly: the payload is what is wrong
				header = hdr(testSigningSecret, time.Now(), c.body)
			}
			if status, _ := h.send(c.path, c.body, header); status != c.want {
				t.Fatalf("answered %d, want %d", status, c.want)
			}
		})
	}
	// Nothing was taken: a taken request is recorded before its answer.
	if calls := h.slackCalls(); len(calls) != 0 {
		t.Errorf("Slack was called: %+v", calls)
	}
	if n := len(h.ws.Ephemerals()) + len(h.ws.Messages()); n != 0 {
		t.Errorf("%d messages were shown", n)
	}
	for _, table := range []string{"requests", "outbox", "dedupe", "audit", "jobs"} {
		if n := h.count(table); n != 0 {
			t.Errorf("%s has %d rows, want none", table, n)
		}
	}
	if n := h.finished.Load(); n != 0 {
		t.Errorf("the bot worked on %d of them", n)
	}
}

// signedBody marks a body to be signed correctly by the table test.
func signedBody(s string) []byte { return []byte(s) }

// TestSlackEvents: the url_verification handshake, and an app mention
// delivered again by Slack's retry after it was answered is not answered
// twice.
func TestSlackEvents(t *testing.T) {
	h := newHarness(t, harnessOptions{workers: 1})
	challenge := []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	if status, body := h.sendSigned("/slack/events", challenge); status != 200 || body != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("url_verification answered %d %q", status, body)
	}
	mention := func(eventID, ts, text string) []byte {
		b, _ := json.Marshal(map[string]any{
			"token": "XXYYZZ", "team_id": "T0DEVOPS", "api_app_id": "A0MCLOUD", "type": "event_callback",
			"event_id": eventID, "event_time": time.Now().Unix(), "authorizations": []any{},
			"event": map[string]any{"type": "app_mention", "user": "U0ALICE", "text": "<@U0MCLOUDBOT> " + text,
				"ts": ts, "channel": devops, "event_ts": ts},
		})
		return b
	}
	deliver := func(body []byte, retry int) {
		t.Helper()
		header := signedHeader(testSigningSecret, time.Now(), body)
		if retry > 0 {
			header.Set("X-Slack-Retry-Num", fmt.Sprint(retry))
			header.Set("X-Slack-Retry-Reason", "http_timeout")
		}
		if status, _ := h.send("/slack/events", body, header); status != 200 {
			t.Fatalf("event delivery answered %d", status)
		}
	}
	ts := h.ws.UserMessage(devops, "U0ALICE", "<@U0MCLOUDBOT> status customer-x")
	status := mention("Ev0MENTION1", ts, "status customer-x")
	deliver(status, 0)
	h.ws.WaitFor(t, 60*time.Second, "the answer in the mention's thread", func() bool { return len(h.thread(devops, ts)) > 0 })
	deliver(status, 1)
	// With one worker, the bot has done anything the retry started once it
	// has answered a later mention.
	deliver(mention("Ev0MENTION2", h.ws.UserMessage(devops, "U0ALICE", "<@U0MCLOUDBOT> help"), "help"), 0)
	h.ws.WaitFor(t, 60*time.Second, "the answer to the later mention", func() bool { return len(h.ws.Ephemerals()) > 0 })
	items, _ := h.db.OutboxItems(context.Background(), devops)
	if len(items) != 1 || items[0].ThreadTS != ts {
		t.Fatalf("queued for the channel: %+v; want one answer in the mention's thread", items)
	}
	if got := h.thread(devops, ts); len(got) != 1 || !strings.Contains(got[0].Text, "customer-x") {
		t.Fatalf("answers in the thread = %+v; want one status of customer-x", got)
	}
	if e := h.ws.Ephemerals(); len(e) != 1 || e[0].ResponseURL != "" || e[0].User != "U0ALICE" || !strings.Contains(e[0].Text, "mcloud commands you can run here") {
		t.Fatalf("help answer = %+v; want it shown to alice alone with chat.postEphemeral", e)
	}
	if n := h.count("dedupe"); n != 2 {
		t.Fatalf("dedupe has %d keys, want 2", n)
	}
}

// TestSlackResponderLimits: a response_url answers at most 5 times and
// only for 30 minutes.
func TestSlackResponderLimits(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newResponder("https://hooks.slack.com/commands/T0/1/x", at)
	for i := range 5 {
		if !r.use(at.Add(time.Minute)) {
			t.Fatalf("use %d refused", i+1)
		}
	}
	if r.use(at.Add(time.Minute)) {
		t.Fatal("a sixth use was allowed")
	}
	late := newResponder("https://hooks.slack.com/commands/T0/1/x", at)
	if late.use(at.Add(30 * time.Minute)) {
		t.Fatal("a use after 30 minutes was allowed")
	}
	if (&responder{}).use(at) {
		t.Fatal("an empty response_url was used")
	}
}

// The display name in the bot's messages never lets an outsider pass for
// a colleague.
func TestSlackDisplayName(t *testing.T) {
	h := &Slack{cfg: exampleConfig(t)}
	for _, c := range []struct {
		w    who
		want string
	}{
		{bob, "bob"}, {carol, "carol"}, {impostor, "bob (T0EVIL)"}, {who{"U0NEW", "T0CUSTX", "newbie"}, "newbie (T0CUSTX)"},
	} {
		if got := h.displayName(configIdentity(c.w)); got != c.want {
			t.Errorf("displayName(%+v) = %q, want %q", c.w, got, c.want)
		}
	}
}

func configIdentity(w who) config.Identity {
	return config.Identity{UserID: w.user, TeamID: w.team, Name: w.name}
}
