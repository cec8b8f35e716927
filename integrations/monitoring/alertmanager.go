package monitoring

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/mcloud/mcloud"
)

// amWebhook is Alertmanager's webhook payload, version 4.
type amWebhook struct {
	Version     string    `json:"version"`
	Status      string    `json:"status"`
	Receiver    string    `json:"receiver"`
	ExternalURL string    `json:"externalURL"`
	Alerts      []amAlert `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Alertmanager is the receiver of Alertmanager's webhook (version 4).
func Alertmanager(auth Auth, o Options, sink Sink) http.Handler {
	h := newReceiver("alertmanager", o, sink)
	h.auth = auth.allows
	h.decode = func(_ context.Context, body []byte) ([]mcloud.Alert, error) { return DecodeAlertmanager(body) }
	return h.guarded(o)
}

// DecodeAlertmanager decodes a webhook body; a malformed one is a
// sender's mistake (4xx).
func DecodeAlertmanager(body []byte) ([]mcloud.Alert, error) {
	var w amWebhook
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, refuse(http.StatusBadRequest, "not an Alertmanager webhook payload: %v", err)
	}
	if w.Version != "4" {
		return nil, refuse(http.StatusBadRequest, "Alertmanager webhook version %q; this receiver reads version 4", w.Version)
	}
	var out []mcloud.Alert
	for i, a := range w.Alerts {
		if a.Fingerprint == "" || a.Labels["alertname"] == "" {
			return nil, refuse(http.StatusBadRequest, "alerts[%d] has no fingerprint or alertname", i)
		}
		st := mcloud.AlertFiring
		at := a.StartsAt
		switch a.Status {
		case "firing":
		case "resolved":
			st, at = mcloud.AlertResolved, a.EndsAt
		default:
			return nil, refuse(http.StatusBadRequest, "alerts[%d] has status %q, not firing or resolved", i, a.Status)
		}
		host := a.Labels["host"]
		if host == "" {
			host = a.Labels["instance"]
		}
		summary := a.Annotations["summary"]
		if summary == "" {
			summary = a.Annotations["description"]
		}
		out = append(out, mcloud.Alert{Source: "alertmanager", Key: a.Fingerprint, Status: st,
			Severity: mcloud.ParseSeverity(a.Labels["severity"]), Name: a.Labels["alertname"], Host: host,
			Customer: a.Labels["customer"], Account: a.Labels["account_id"], Summary: summary, URL: a.GeneratorURL, At: at.UTC()})
	}
	return out, nil
}
