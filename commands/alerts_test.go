package commands_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/integrations/monitoring"
)

// TestAlertsVerbAndStatus: open alerts are listed by `alerts` (DevOps
// only; a customer channel sees its customer's only) and counted by
// `status`; a resolved one is neither.
func TestAlertsVerbAndStatus(t *testing.T) {
	svc, db, cfg := mustService(t)
	ctx := context.Background()
	p := alerts.New(db, cfg, nil)
	now := time.Now()
	if err := p.Receive(ctx, []mcloud.Alert{
		{Source: "alertmanager", Key: "a", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical, Name: "DiskFull", Host: "x-prod-apim-1", At: now},
		{Source: "icinga2", Key: "b", Status: mcloud.AlertFiring, Severity: mcloud.SeverityWarning, Name: "load", Host: "y-prod-is-1", At: now},
		{Source: "icinga2", Key: "c", Status: mcloud.AlertFiring, Severity: mcloud.SeverityWarning, Name: "swap", Host: "x-prod-apim-2", At: now},
		{Source: "icinga2", Key: "c", Status: mcloud.AlertResolved, Name: "swap", Host: "x-prod-apim-2", At: now},
	}); err != nil {
		t.Fatal(err)
	}
	alice := caller(t, cfg, "alice", "devops")
	r := svc.Handle(ctx, alice, "/mcloud alerts")
	all := strings.Join(r.Lines, "\n")
	if !strings.Contains(all, "critical DiskFull on x-prod-apim-1 (customer-x), firing since") || !strings.Contains(all, ", 1 alert from alertmanager") || !strings.Contains(all, "load on y-prod-is-1 (customer-y)") || strings.Contains(all, "swap") {
		t.Errorf("alerts in the team channel:\n%s", all)
	}
	r = svc.Handle(ctx, caller(t, cfg, "alice", "customer-x-shared"), "/mcloud alerts")
	if x := strings.Join(r.Lines, "\n"); !strings.Contains(x, "DiskFull") || strings.Contains(x, "y-prod") {
		t.Errorf("alerts in customer-x's channel:\n%s", x)
	}
	if r := svc.Handle(ctx, caller(t, cfg, "carol", "customer-x-shared"), "/mcloud alerts"); r.Error == "" {
		t.Errorf("a customer user ran alerts: %+v", r)
	}
	r = svc.Handle(ctx, alice, "/mcloud status customer-x")
	if x := strings.Join(r.Lines, "\n"); !strings.Contains(x, "Open alerts: 1") {
		t.Errorf("status of customer-x:\n%s", x)
	}
}

// TestAckVerb: DevOps acknowledge an alert; Alertmanager (here a
// wire-level stand-in of its API v2) gets a silence for the chosen
// duration; the problem then shows who and until when. A customer user,
// or an alert of another customer than the channel's, is refused.
func TestAckVerb(t *testing.T) {
	svc, db, cfg := mustService(t)
	ctx := context.Background()
	var silence map[string]any
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" && r.URL.Path == "/api/v2/alerts" {
			// Alertmanager's view: the alert's host came from its host
			// label, and it names its customer; "b" has only an alertname.
			io.WriteString(w, `[{"fingerprint":"a","labels":{"alertname":"DiskFull","host":"x-prod-apim-1","customer":"customer-x"}},
				{"fingerprint":"b","labels":{"alertname":"Watchdog"}}]`)
			return
		}
		if r.Method != "POST" || r.URL.Path != "/api/v2/silences" {
			http.NotFound(w, r)
			return
		}
		json.NewDecoder(r.Body).Decode(&silence)
		io.WriteString(w, `{"silenceID":"s-1"}`)
	}))
	defer am.Close()
	p := alerts.New(db, cfg, nil)
	svc.Deps.Alerts = &alerts.Acker{Pipeline: p, Alertmanager: monitoring.NewAlertmanagerAPI(am.URL)}
	if err := p.Receive(ctx, []mcloud.Alert{{Source: "alertmanager", Key: "a", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical,
		Name: "DiskFull", Host: "x-prod-apim-1", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if r := svc.Handle(ctx, caller(t, cfg, "carol", "customer-x-shared"), "/mcloud ack 1"); r.Error == "" || silence != nil {
		t.Errorf("customer user: %+v", r)
	}
	if r := svc.Handle(ctx, caller(t, cfg, "alice", "customer-y-shared"), "/mcloud ack 1"); r.Error != "There is no alert #1." || silence != nil {
		t.Errorf("customer-x's alert from customer-y's channel: %+v", r)
	}
	r := svc.Handle(ctx, caller(t, cfg, "alice", "customer-x-shared"), "/mcloud ack 1 4h cleaning up /var")
	if r.Error != "" || !strings.Contains(r.Title, "acknowledged by alice") || !strings.Contains(r.Title, "until") {
		t.Fatalf("ack: %+v", r)
	}
	if silence["createdBy"] != "alice" || silence["comment"] != "cleaning up /var" {
		t.Errorf("silence sent: %v", silence)
	}
	// The silence matches the alert's own labels: its host label (not an
	// instance label it does not have) and its customer, so it silences
	// this alert and not customer-y's DiskFull.
	if got := fmt.Sprint(silence["matchers"]); got != "[map[isEqual:true isRegex:false name:alertname value:DiskFull] map[isEqual:true isRegex:false name:customer value:customer-x] map[isEqual:true isRegex:false name:host value:x-prod-apim-1]]" {
		t.Errorf("silence matchers: %s", got)
	}
	pr, err := db.Problem(ctx, 1)
	if err != nil || pr.AckedBy != "alice" || pr.AckedUntil.Sub(time.Now()) < 3*time.Hour {
		t.Errorf("problem after ack: %+v, %v", pr, err)
	}
	items, _ := db.OutboxItems(ctx, "C0CUSTX")
	if last := items[len(items)-1]; !strings.Contains(last.Text, "acknowledged") {
		t.Errorf("no thread reply for the acknowledgement; last message %q", last.Text)
	}

	// An alert with nothing but its alertname: a silence of it would quiet
	// it for every customer, so it is refused and nothing is silenced.
	if err := p.Receive(ctx, []mcloud.Alert{{Source: "alertmanager", Key: "b", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical,
		Name: "Watchdog", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	silence = nil
	r = svc.Handle(ctx, caller(t, cfg, "alice", "devops"), "/mcloud ack 2")
	if r.Error != "Alert #2 has no label but its alertname Watchdog, so a silence would quiet Watchdog for every host and customer: silence it in Alertmanager itself." || silence != nil {
		t.Errorf("ack of an alertname-only alert: %+v, silence %v", r, silence)
	}

	log, err := db.AuditLog(ctx, "customer-x", time.Time{}, 50)
	acked := 0
	for _, e := range log {
		if e.Event == mcloud.AuditAcknowledged {
			acked++
			if e.UserID != "U0ALICE" || !strings.Contains(e.Detail, "#1 (DiskFull) acknowledged by alice in alertmanager until") || !strings.Contains(e.Detail, "cleaning up /var") {
				t.Errorf("audit entry: %+v", e)
			}
		}
	}
	if err != nil || acked != 1 {
		t.Errorf("%d acknowledgements in customer-x's audit log (%v); want 1", acked, err)
	}
}

// TestAckDuration: the word after the alert's number is a duration in
// minutes, hours or days (as the Acknowledge button offers them), and the
// silence lasts that long; a word written like a duration that ack cannot
// read is refused with the usage, never taken as the comment.
func TestAckDuration(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    time.Duration // the silence's length; 0: refused
		comment string
		err     string
	}{
		{"1d", 24 * time.Hour, "acknowledged in Slack", ""},
		{"1d cleanup running", 24 * time.Hour, "cleanup running", ""},
		{"4h", 4 * time.Hour, "acknowledged in Slack", ""},
		{"30m", 30 * time.Minute, "acknowledged in Slack", ""},
		{"1h30m looking", 90 * time.Minute, "looking", ""},
		{"disk cleanup", alerts.DefaultSilence, "disk cleanup", ""},
		{"1w", 0, "", `"1w" is not a duration ack reads: use minutes, hours or days, like 30m, 4h, 1d or 1h30m.`},
		{"2x broken", 0, "", `"2x" is not a duration ack reads: use minutes, hours or days, like 30m, 4h, 1d or 1h30m.`},
		{"0h", 0, "", `"0h" is not a duration ack reads: use minutes, hours or days, like 30m, 4h, 1d or 1h30m.`},
		{"400d", 0, "", "400d is longer than an acknowledgement may last (a year at most)."},
	} {
		t.Run(tc.args, func(t *testing.T) {
			svc, db, cfg := mustService(t)
			ctx := context.Background()
			var silence map[string]any
			am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == "GET" {
					io.WriteString(w, `[{"fingerprint":"a","labels":{"alertname":"DiskFull","host":"x-prod-apim-1"}}]`)
					return
				}
				json.NewDecoder(r.Body).Decode(&silence)
				io.WriteString(w, `{"silenceID":"s-1"}`)
			}))
			defer am.Close()
			p := alerts.New(db, cfg, nil)
			svc.Deps.Alerts = &alerts.Acker{Pipeline: p, Alertmanager: monitoring.NewAlertmanagerAPI(am.URL)}
			if err := p.Receive(ctx, []mcloud.Alert{{Source: "alertmanager", Key: "a", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical,
				Name: "DiskFull", Host: "x-prod-apim-1", At: time.Now()}}); err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			r := svc.Handle(ctx, caller(t, cfg, "alice", "devops"), "/mcloud ack 1 "+tc.args)
			if tc.want == 0 {
				if r.Error != tc.err || r.Usage != "/mcloud ack <alert> [duration] [comment...]" || silence != nil {
					t.Errorf("reply %+v, silence %v; want %q with the usage and no silence", r, silence, tc.err)
				}
				return
			}
			if r.Error != "" || silence == nil {
				t.Fatalf("reply %+v, silence %v", r, silence)
			}
			ends, _ := time.Parse(time.RFC3339, fmt.Sprint(silence["endsAt"]))
			if got := ends.Sub(before); got < tc.want-time.Minute || got > tc.want+time.Minute || silence["comment"] != tc.comment {
				t.Errorf("silence for %s with comment %q; want %s, %q", got.Round(time.Minute), silence["comment"], tc.want, tc.comment)
			}
		})
	}
}
