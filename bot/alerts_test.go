package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/monitoring"
)

// monitoringAPIs are wire-level stand-ins of Alertmanager's API v2
// (alerts, silences) and Icinga2's acknowledge-problem, recording what mcloud
// asked of them.
type monitoringAPIs struct {
	am, icinga *httptest.Server
	mu         sync.Mutex
	silences   []map[string]any
	acks       []map[string]any
}

func newMonitoringAPIs(t *testing.T) *monitoringAPIs {
	m := &monitoringAPIs{}
	record := func(into *[]map[string]any, path, answer string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != path {
				http.NotFound(w, r)
				return
			}
			var body map[string]any
			json.NewDecoder(r.Body).Decode(&body)
			m.mu.Lock()
			*into = append(*into, body)
			m.mu.Unlock()
			io.WriteString(w, answer)
		}
	}
	silences := record(&m.silences, "/api/v2/silences", `{"silenceID":"s-1"}`)
	m.am = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/api/v2/alerts" {
			// The alert the tests acknowledge, as Alertmanager holds it.
			io.WriteString(w, `[{"fingerprint":"fp-disk","labels":{"alertname":"DiskFull","host":"x-prod-apim-1","customer":"customer-x"}}]`)
			return
		}
		silences(w, r)
	}))
	m.icinga = httptest.NewServer(record(&m.acks, "/v1/actions/acknowledge-problem", `{"results":[{"code":200,"status":"Successfully acknowledged problem"}]}`))
	t.Cleanup(m.am.Close)
	t.Cleanup(m.icinga.Close)
	return m
}

func (m *monitoringAPIs) asked() (silences, acks []map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]map[string]any(nil), m.silences...), append([]map[string]any(nil), m.acks...)
}

// alertHarness is the bot with the alert pipeline and acknowledgements in
// Alertmanager and Icinga2 (stand-ins) configured, as serve wires them.
func alertHarness(t *testing.T, mode string) (*harness, *monitoringAPIs, *alerts.Pipeline) {
	apis := newMonitoringAPIs(t)
	acker := &alerts.Acker{Alertmanager: monitoring.NewAlertmanagerAPI(apis.am.URL),
		Icinga2: &monitoring.Icinga2API{URL: apis.icinga.URL, User: "mcloud", Password: "secret", Client: apis.icinga.Client()}}
	h := newHarness(t, harnessOptions{mode: mode, setup: func(cfg *config.Config, svc *commands.Service) {
		cfg.Alerts.Alertmanager.API, cfg.Alerts.Icinga2.API = apis.am.URL, apis.icinga.URL
		svc.Deps.Alerts = acker
	}})
	p := alerts.New(h.db, h.cfg, newTestLogger(t))
	p.Wake = h.slack.Wake
	acker.Pipeline = p
	return h, apis, p
}

// alertMessage is the bot's top-level message in channel about want.
func (h *harness) alertMessage(channel, want string) (slackfake.Message, bool) {
	for _, m := range h.botMessages(channel) {
		if m.ThreadTS == "" && strings.Contains(m.Text, want) {
			return m, true
		}
	}
	return slackfake.Message{}, false
}

// ackClick is a block_actions payload of the Acknowledge button of alert
// id's message, pressed by u in channel, with the duration chosen in the
// message's select (choice "": the select's state not sent).
func (h *harness) ackClick(u who, channel, ts string, id int64, choice string) []byte {
	return h.alertAction(u, channel, ts, id, ActionAck, choice)
}

// alertAction is clickBody's payload on alert id's message: actionID in
// block alert_<id>, with the message's select at choice.
func (h *harness) alertAction(u who, channel, ts string, id int64, actionID, choice string) []byte {
	form, _ := url.ParseQuery(string(h.clickBody(u, channel, ts, actionID, fmt.Sprint(id))))
	var payload map[string]any
	if err := json.Unmarshal([]byte(form.Get("payload")), &payload); err != nil {
		h.t.Fatal(err)
	}
	block := fmt.Sprintf("alert_%d", id)
	values := map[string]any{}
	if choice != "" {
		values[block] = map[string]any{ActionAckFor: map[string]any{"type": "static_select",
			"selected_option": map[string]any{"value": choice, "text": map[string]any{"type": "plain_text", "text": choice}}}}
	}
	payload["state"] = map[string]any{"values": values}
	act := payload["actions"].([]any)[0].(map[string]any)
	act["block_id"] = block
	if actionID == ActionAckFor {
		act["type"], act["selected_option"] = "static_select", map[string]any{"value": choice}
		delete(act, "value")
	}
	js, _ := json.Marshal(payload)
	return []byte(url.Values{"payload": {string(js)}}.Encode())
}

// TestSlackAcknowledgeButton: alert messages carry an Acknowledge button
// (an Alertmanager one with the silence's duration to choose, 2h at
// first). Pressed by DevOps it acknowledges as `ack` does: Alertmanager
// gets a silence for the chosen duration, Icinga2 an acknowledgement
// authored by the presser, both messages then say who, when and until
// when and drop the button, and the audit log has it. A customer user, a
// user of another customer, a click about another customer's alert, a
// forged signature and a mere change of the duration change nothing.
func TestSlackAcknowledgeButton(t *testing.T) {
	h, apis, p := alertHarness(t, config.SlackHTTP)
	ctx := context.Background()
	dave := who{"U0DAVE", "T0CUSTY", "dave"}
	const customerY = "C0CUSTY"
	now := time.Now()
	if err := p.Receive(ctx, []mcloud.Alert{
		{Source: "alertmanager", Key: "fp-disk", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical, Name: "DiskFull",
			Host: "x-prod-apim-1", Customer: "customer-x", Summary: "/var is 97% full", At: now},
		{Source: "icinga2", Key: "x-prod-apim-2!load", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical, Name: "load",
			Host: "x-prod-apim-2", Summary: "LOAD CRITICAL", At: now},
	}); err != nil {
		t.Fatal(err)
	}
	var disk, load, diskTeam slackfake.Message
	h.ws.WaitFor(t, 60*time.Second, "both alerts in customer-x's channel and the team's", func() bool {
		var ok1, ok2, ok3 bool
		disk, ok1 = h.alertMessage(customerX, "DiskFull on x-prod-apim-1")
		load, ok2 = h.alertMessage(customerX, "load on x-prod-apim-2")
		diskTeam, ok3 = h.alertMessage(devops, "DiskFull on x-prod-apim-1")
		return ok1 && ok2 && ok3
	})
	for _, c := range []struct {
		m          slackfake.Message
		want, lack []string
	}{
		{disk, []string{`"action_id":"mcloud_ack"`, `"value":"1"`, `"action_id":"mcloud_ack_for"`, `"initial_option":{"text":{"type":"plain_text","text":"for 2 hours","emoji":false},"value":"2h"}`, "for 1 day", "/var is 97% full"}, nil},
		{diskTeam, []string{`"action_id":"mcloud_ack"`, `"action_id":"mcloud_ack_for"`}, nil},
		// Icinga2 acknowledges until the problem recovers: no duration.
		{load, []string{`"action_id":"mcloud_ack"`, `"value":"2"`, "LOAD CRITICAL"}, []string{"mcloud_ack_for"}},
	} {
		if !blocksHave(c.m, c.want...) {
			t.Errorf("%s lacks one of %q:\n%s", c.m.Text, c.want, c.m.Blocks)
		}
		for _, l := range c.lack {
			if blocksHave(c.m, l) {
				t.Errorf("%s has %s:\n%s", c.m.Text, l, c.m.Blocks)
			}
		}
	}

	// Refused, each with one sentence to the presser alone, and nothing
	// changes in the monitoring systems or the messages.
	h.sendSigned("/slack/interactivity", h.ackClick(carol, customerX, disk.TS, 1, "4h"))
	h.sendSigned("/slack/interactivity", h.ackClick(dave, customerY, disk.TS, 1, "4h"))
	h.sendSigned("/slack/interactivity", h.ackClick(dave, customerX, disk.TS, 1, "4h"))
	h.sendSigned("/slack/interactivity", h.ackClick(alice, customerY, disk.TS, 1, "4h"))
	h.waitTasks(4)
	expectTexts(t, h.ephemeralsTo(carol.user, customerX), `"ack" is for the DevOps team only; ask them in this channel.`)
	expectTexts(t, h.ephemeralsTo(dave.user, customerY), `"ack" is for the DevOps team only; ask them in this channel.`)
	expectTexts(t, h.ephemeralsTo(dave.user, customerX), `"ack" is for the DevOps team only; ask them in this channel.`)
	expectTexts(t, h.ephemeralsTo(alice.user, customerY), "There is no alert #1.")
	for _, u := range []who{carol, dave, alice} {
		for _, ch := range []string{customerX, customerY} {
			for _, text := range h.ephemeralsTo(u.user, ch) {
				if strings.Count(text, ".") != 1 || strings.Contains(text, "Usage") {
					t.Errorf("%s in %s was told %q; want one sentence", u.name, ch, text)
				}
			}
		}
	}
	// A forged signature is refused before anything is read; choosing a
	// duration alone does nothing (it is read when Acknowledge is pressed).
	if status, _ := h.send("/slack/interactivity", h.ackClick(alice, customerX, disk.TS, 1, "4h"),
		signedHeader("not-the-signing-secret", time.Now(), []byte("x"))); status != http.StatusUnauthorized {
		t.Errorf("a forged Acknowledge click was answered %d; want 401", status)
	}
	deliveries := h.count("slack_deliveries")
	if status, _ := h.sendSigned("/slack/interactivity", h.alertAction(alice, customerX, disk.TS, 1, ActionAckFor, "24h")); status != http.StatusOK {
		t.Errorf("choosing a duration was answered %d", status)
	}
	if n := h.count("slack_deliveries"); n != deliveries {
		t.Errorf("choosing a duration was kept as work (%d deliveries, were %d)", n, deliveries)
	}
	if s, a := apis.asked(); len(s)+len(a) != 0 {
		t.Fatalf("refused presses reached the monitoring systems: silences %v, acknowledgements %v", s, a)
	}
	if pr, _ := h.db.Problem(ctx, 1); pr.AckedBy != "" {
		t.Fatalf("alert #1 acknowledged by %q after refused presses", pr.AckedBy)
	}

	// DevOps: alice silences DiskFull for 4h from customer-x's channel;
	// bob acknowledges load in Icinga2 from the team's.
	before := time.Now()
	h.sendSigned("/slack/interactivity", h.ackClick(alice, customerX, disk.TS, 1, "4h"))
	h.sendSigned("/slack/interactivity", h.ackClick(bob, devops, load.TS, 2, ""))
	h.waitTasks(2)
	silences, acks := apis.asked()
	if len(silences) != 1 || len(acks) != 1 {
		t.Fatalf("silences %v, acknowledgements %v; want one each", silences, acks)
	}
	ends, _ := time.Parse(time.RFC3339, fmt.Sprint(silences[0]["endsAt"]))
	if silences[0]["createdBy"] != "alice" || ends.Before(before.Add(4*time.Hour-time.Minute)) || ends.After(time.Now().Add(4*time.Hour+time.Minute)) ||
		!strings.Contains(fmt.Sprint(silences[0]["matchers"]), "DiskFull") || !strings.Contains(fmt.Sprint(silences[0]["matchers"]), "x-prod-apim-1") {
		t.Errorf("silence: %v; want alice's, DiskFull on x-prod-apim-1, for 4h", silences[0])
	}
	if acks[0]["author"] != "bob" || acks[0]["type"] != "Service" || fmt.Sprint(acks[0]["filter_vars"]) != "map[h:x-prod-apim-2 s:load]" {
		t.Errorf("Icinga2 acknowledgement: %v; want bob's, of service load on x-prod-apim-2", acks[0])
	}
	until := ends.UTC().Format("2006-01-02 15:04 UTC")
	acked := func(ch, want, by, until string) func() bool {
		return func() bool {
			m, ok := h.alertMessage(ch, want)
			return ok && m.Updates > 0 && strings.Contains(m.Text, "Acknowledged by "+by+" at ") && strings.Contains(m.Text, until) &&
				!blocksHave(m, "mcloud_ack")
		}
	}
	h.ws.WaitFor(t, 60*time.Second, "both DiskFull messages to show alice's acknowledgement until "+until+" without the button",
		func() bool {
			return acked(customerX, "DiskFull on x-prod-apim-1", "alice", until)() && acked(devops, "DiskFull on x-prod-apim-1", "alice", until)()
		})
	h.ws.WaitFor(t, 60*time.Second, "the load message to show bob's acknowledgement", acked(customerX, "load on x-prod-apim-2", "bob", ""))
	h.ws.WaitFor(t, 60*time.Second, "the acknowledgement in DiskFull's thread", func() bool {
		for _, m := range h.thread(customerX, disk.TS) {
			if strings.Contains(m.Text, "acknowledged") && strings.Contains(m.Text, "by alice") {
				return true
			}
		}
		return false
	})
	log, err := h.db.AuditLog(ctx, "customer-x", time.Time{}, 100)
	var audited []string
	for _, e := range log {
		if e.Event == mcloud.AuditAcknowledged {
			audited = append(audited, e.UserName+": "+e.Detail)
		}
	}
	if err != nil || len(audited) != 2 {
		t.Errorf("acknowledgements in customer-x's audit log: %q (%v); want alice's and bob's", audited, err)
	}
	for _, e := range h.ws.Ephemerals() {
		if e.User == alice.user && e.Channel == customerX || e.User == bob.user {
			t.Errorf("an acknowledgement that worked told %s privately: %q", e.User, e.Text)
		}
	}
}

// TestSocketModeAcknowledgeButton: the same press over Socket Mode is
// mapped by the same code: the chosen duration reaches Alertmanager.
func TestSocketModeAcknowledgeButton(t *testing.T) {
	h, apis, p := alertHarness(t, config.SlackSocket)
	ctx := context.Background()
	if err := p.Receive(ctx, []mcloud.Alert{{Source: "alertmanager", Key: "fp-disk", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical,
		Name: "DiskFull", Host: "x-prod-apim-1", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	var disk slackfake.Message
	h.ws.WaitFor(t, 60*time.Second, "the alert in customer-x's channel", func() bool {
		var ok bool
		disk, ok = h.alertMessage(customerX, "DiskFull")
		return ok && blocksHave(disk, "mcloud_ack")
	})
	form, _ := url.ParseQuery(string(h.ackClick(alice, customerX, disk.TS, 1, "24h")))
	before := time.Now()
	h.ws.Send(ctx, slackfake.Envelope{EnvelopeID: "env-ack-1", Type: "interactive", Payload: json.RawMessage(form.Get("payload"))})
	h.ws.WaitFor(t, 60*time.Second, "the silence", func() bool {
		s, _ := apis.asked()
		return len(s) == 1
	})
	s, _ := apis.asked()
	ends, _ := time.Parse(time.RFC3339, fmt.Sprint(s[0]["endsAt"]))
	if s[0]["createdBy"] != "alice" || ends.Before(before.Add(24*time.Hour-time.Minute)) || !h.acked("env-ack-1") {
		t.Errorf("silence %v (acknowledged envelope: %v); want alice's, for a day", s[0], h.acked("env-ack-1"))
	}
}
