package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot"
	"github.com/mcloud/mcloud/bot/slackfake"
)

// The Acknowledge button against the real monitoring systems: Debian's
// Alertmanager and Icinga2 receive what the button asks for, and their
// own APIs are read back.

// forwarder is a loopback URL that passes requests on to a target set
// later. A monitoring system is told mcloud's receiver when it starts,
// and mcloud the system's API when it starts: one of them must wait.
type forwarder struct {
	URL    string
	target atomic.Pointer[url.URL]
}

func newForwarder(t *testing.T) *forwarder {
	t.Helper()
	f := &forwarder{}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(f.target.Load()) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.target.Load() == nil {
			http.Error(w, "not yet", http.StatusServiceUnavailable) // the sender retries
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *forwarder) to(t *testing.T, target string) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f.target.Store(u)
}

// slackUser is a Slack user as a payload names them.
type slackUser struct{ id, team, name string }

var (
	ackAlice = slackUser{"U0ALICE", "T0DEVOPS", "alice"}
	ackCarol = slackUser{"U0CAROL", "T0CUSTX", "carol"}
	ackDave  = slackUser{"U0DAVE", "T0CUSTY", "dave"}
)

// ackClick is Slack's block_actions payload for the Acknowledge button of
// alert id's message ts in channel, pressed by u with the duration choice
// selected in the message ("" for none).
func ackClick(ws *slackfake.Workspace, u slackUser, channel, ts string, id int64, choice string) string {
	block := fmt.Sprintf("alert_%d", id)
	values := map[string]any{}
	if choice != "" {
		values[block] = map[string]any{bot.ActionAckFor: map[string]any{"type": "static_select", "selected_option": map[string]any{"value": choice}}}
	}
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "trigger_id": fmt.Sprintf("%d.%s.ack", time.Now().UnixNano(), u.id), "api_app_id": "A0MCLOUD",
		"user":         map[string]any{"id": u.id, "username": u.name, "name": u.name, "team_id": u.team},
		"team":         map[string]any{"id": u.team, "domain": "example"},
		"channel":      map[string]any{"id": channel},
		"message":      map[string]any{"type": "message", "ts": ts, "text": "alert"},
		"container":    map[string]any{"type": "message", "message_ts": ts, "channel_id": channel},
		"state":        map[string]any{"values": values},
		"response_url": ws.ResponseURL(channel, u.id),
		"actions": []map[string]any{{"action_id": bot.ActionAck, "block_id": block, "value": fmt.Sprint(id), "type": "button",
			"action_ts": fmt.Sprintf("%d.000100", time.Now().Unix())}},
	})
	return url.Values{"payload": {string(payload)}}.Encode()
}

// serving starts `mcloud serve` with cfg and a database of its own, and
// returns its base URL.
func serving(t *testing.T, bin, cfg string) string {
	t.Helper()
	srv := startServe(t, bin, cfg, filepath.Join(t.TempDir(), "mcloud.db"))
	select {
	case addr := <-srv.addr:
		return "http://" + addr
	case <-srv.done:
		t.Fatalf("mcloud serve exited:\n%s", srv.output())
	}
	return ""
}

// press sends a signed click to serve and wants it taken.
func press(t *testing.T, base, body string) {
	t.Helper()
	status, err := signedPost(http.DefaultClient, base, "/slack/interactivity", body)
	if err != nil || status != http.StatusOK {
		t.Fatalf("click answered %d, %v", status, err)
	}
}

// told is whether u was shown want privately in channel.
func told(ws *slackfake.Workspace, u slackUser, channel, want string) bool {
	for _, e := range ws.Ephemerals() {
		if e.User == u.id && e.Channel == channel && strings.Contains(e.Text, want) {
			return true
		}
	}
	return false
}

// auditShows asks `audit customer-x` as alice in the team channel and
// waits for her answer (the audit log is shown to the asker alone) to
// have want.
func auditShows(t *testing.T, ws *slackfake.Workspace, base, want string) {
	t.Helper()
	postCommand(t, base, url.Values{"team_id": {"T0DEVOPS"}, "channel_id": {"C0DEVOPS"}, "channel_name": {"devops"}, "user_id": {"U0ALICE"},
		"user_name": {"alice"}, "command": {"/mcloud"}, "text": {"audit customer-x"}, "response_url": {ws.ResponseURL("C0DEVOPS", "U0ALICE")},
		"trigger_id": {fmt.Sprintf("%d.audit", time.Now().UnixNano())}})
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range ws.Messages() {
				t.Logf("%s %s: %q", m.Channel, m.TS, m.Text)
			}
			for _, e := range ws.Ephemerals() {
				t.Logf("to %s in %s: %q", e.User, e.Channel, e.Text)
			}
		}
	})
	ws.WaitFor(t, 2*time.Minute, "the audit log to show "+want, func() bool { return told(ws, ackAlice, "C0DEVOPS", want) })
}

// silencesIn are Alertmanager's silences, read from its own API v2.
type amSilence struct {
	ID        string    `json:"id"`
	CreatedBy string    `json:"createdBy"`
	EndsAt    time.Time `json:"endsAt"`
	Matchers  []struct {
		Name, Value string
	} `json:"matchers"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
}

func silencesIn(t *testing.T, am string) []amSilence {
	t.Helper()
	resp, err := http.Get(am + "/api/v2/silences")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []amSilence
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET /api/v2/silences: %v", err)
	}
	return out
}

// TestAlertmanagerAcknowledgeButton: a real Alertmanager's alert becomes
// a message with the Acknowledge button; customer-x's own user, and
// customer-y's, are refused in one sentence and Alertmanager has no
// silence; alice's press with "1 hour" chosen creates the silence, seen
// in Alertmanager's GET /api/v2/silences, and the message shows who,
// when and until when, without the button; the audit log has it.
func TestAlertmanagerAcknowledgeButton(t *testing.T) {
	bin := mcloudBinary(t)
	ws := slackfake.New(t)
	hook := newForwarder(t)
	am := startAlertmanager(t, hook.URL+"/alerts/alertmanager")
	cfg := alertsConfig(t, ws, "    api: "+am+"\n")
	t.Setenv("MCLOUD_AM_TOKEN", alertsToken)
	base := serving(t, bin, cfg)
	hook.to(t, base)

	pushAlert(t, am, map[string]string{"alertname": "DiskFull", "severity": "critical", "customer": "customer-x", "instance": "x-prod-apim-1:9100"}, time.Time{})
	root := func() *slackfake.Message { return topMessage(ws, "C0CUSTX", "DiskFull") }
	ws.WaitFor(t, 2*time.Minute, "the alert with its Acknowledge button in customer-x's channel", func() bool {
		m := root()
		return m != nil && strings.Contains(string(m.Blocks), `"action_id":"mcloud_ack"`) && strings.Contains(string(m.Blocks), `"action_id":"mcloud_ack_for"`)
	})
	msg := root()
	const refusal = `"ack" is for the DevOps team only; ask them in this channel.`
	press(t, base, ackClick(ws, ackCarol, "C0CUSTX", msg.TS, 1, "1h"))
	press(t, base, ackClick(ws, ackDave, "C0CUSTY", msg.TS, 1, "1h"))
	ws.WaitFor(t, 2*time.Minute, "the customers' refusals", func() bool {
		return told(ws, ackCarol, "C0CUSTX", refusal) && told(ws, ackDave, "C0CUSTY", refusal)
	})
	if s := silencesIn(t, am); len(s) != 0 {
		t.Fatalf("silences after the customers' presses: %+v", s)
	}

	pressed := time.Now()
	press(t, base, ackClick(ws, ackAlice, "C0CUSTX", msg.TS, 1, "1h"))
	var sil amSilence
	waitDB(t, 2*time.Minute, "alice's silence in Alertmanager", func() bool {
		for _, s := range silencesIn(t, am) {
			if s.CreatedBy == "alice" {
				sil = s
				return true
			}
		}
		return false
	})
	matchers := fmt.Sprint(sil.Matchers)
	if sil.Status.State != "active" || !strings.Contains(matchers, "{alertname DiskFull}") || !strings.Contains(matchers, "{instance x-prod-apim-1:9100}") ||
		sil.EndsAt.Before(pressed.Add(59*time.Minute)) || sil.EndsAt.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("silence %s: %+v; want active, DiskFull on x-prod-apim-1:9100, for one hour", sil.ID, sil)
	}
	until := sil.EndsAt.UTC().Format("2006-01-02 15:04 UTC")
	ws.WaitFor(t, 2*time.Minute, "the message to show alice's acknowledgement until "+until+", without the button", func() bool {
		m := root()
		return m != nil && strings.Contains(m.Text, "Acknowledged by alice at ") && strings.Contains(m.Text, "until "+until) &&
			!strings.Contains(string(m.Blocks), "mcloud_ack")
	})
	auditShows(t, ws, base, "#1 (DiskFull) acknowledged by alice in alertmanager until "+until)
	t.Logf("silence %s: %s until %s; message %q", sil.ID, sil.CreatedBy, sil.EndsAt, root().Text)
}

// TestIcinga2AcknowledgeButton: a real Icinga2's CRITICAL service reaches
// customer-x's channel with the Acknowledge button; a customer user's
// press is refused and Icinga2's service stays unacknowledged; alice's
// press acknowledges it in Icinga2 (read back from /v1/objects/services,
// author alice), and the message shows it without the button.
func TestIcinga2AcknowledgeButton(t *testing.T) {
	bin := mcloudBinary(t)
	ws := slackfake.New(t)
	receiver := newForwarder(t)
	ic := startIcinga2(t, receiver.URL+"/alerts/icinga2")
	cfg := alertsConfig(t, ws, "  icinga2:\n    token: ${MCLOUD_ICINGA_TOKEN}\n    api: "+ic.api+"\n    api_user: mcloud\n"+
		"    api_password: ${MCLOUD_ICINGA_API_PASSWORD}\n    api_ca: "+filepath.Join(ic.dir, "ca.crt")+"\n")
	t.Setenv("MCLOUD_AM_TOKEN", alertsToken)
	t.Setenv("MCLOUD_ICINGA_TOKEN", icingaToken)
	t.Setenv("MCLOUD_ICINGA_API_PASSWORD", icingaAPIPwd)
	base := serving(t, bin, cfg)
	receiver.to(t, base)

	code, body := ic.call("POST", "/v1/actions/process-check-result",
		`{"type":"Service","filter":"host.name==\"x-prod-apim-1\" && service.name==\"disk\"","exit_status":2,"plugin_output":"DISK CRITICAL - /var 97% full"}`)
	if code != 200 {
		t.Fatalf("process-check-result: HTTP %d %s", code, body)
	}
	root := func() *slackfake.Message { return topMessage(ws, "C0CUSTX", "disk on x-prod-apim-1") }
	ws.WaitFor(t, 2*time.Minute, "Icinga2's alert with its Acknowledge button in customer-x's channel", func() bool {
		m := root()
		return m != nil && strings.Contains(string(m.Blocks), `"action_id":"mcloud_ack"`)
	})
	msg := root()
	acknowledged := func() (bool, string) {
		code, body := ic.call("GET", "/v1/objects/services?service=x-prod-apim-1!disk&attrs=acknowledgement", "")
		if code != 200 {
			t.Fatalf("GET /v1/objects/services: HTTP %d %s", code, body)
		}
		return strings.Contains(body, `"acknowledgement":1`), body
	}

	press(t, base, ackClick(ws, ackCarol, "C0CUSTX", msg.TS, 1, ""))
	ws.WaitFor(t, 2*time.Minute, "carol's refusal", func() bool {
		return told(ws, ackCarol, "C0CUSTX", `"ack" is for the DevOps team only; ask them in this channel.`)
	})
	if ok, body := acknowledged(); ok {
		t.Fatalf("Icinga2's service acknowledged after a customer's press: %s", body)
	}

	press(t, base, ackClick(ws, ackAlice, "C0CUSTX", msg.TS, 1, ""))
	var state string
	waitDB(t, 2*time.Minute, "Icinga2's service to be acknowledged", func() bool {
		var ok bool
		ok, state = acknowledged()
		return ok
	})
	// The acknowledgement's author, as Icinga2 keeps it in its comments.
	code, comments := ic.call("GET", "/v1/objects/comments?attrs=author&attrs=entry_type&attrs=text", "")
	if code != 200 || !strings.Contains(comments, `"author":"alice"`) {
		t.Errorf("Icinga2's acknowledgement comment: HTTP %d %s; want author alice", code, comments)
	}
	ws.WaitFor(t, 2*time.Minute, "the message to show alice's acknowledgement without the button", func() bool {
		m := root()
		return m != nil && strings.Contains(m.Text, "Acknowledged by alice at ") && !strings.Contains(string(m.Blocks), "mcloud_ack")
	})
	auditShows(t, ws, base, "#1 (disk) acknowledged by alice in icinga2")
	t.Logf("Icinga2: %s", state)
}
