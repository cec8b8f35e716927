package monitoring

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
)

// Icinga2Notification is the JSON body contrib/icinga2/mcloud-notify.sh
// sends for one Icinga2 notification (see docs/alerts.md). Service is ""
// for a host notification.
type Icinga2Notification struct {
	Type    string `json:"type"` // PROBLEM, RECOVERY, ACKNOWLEDGEMENT, DOWNTIMESTART, DOWNTIMEEND, DOWNTIMEREMOVED, CUSTOM, FLAPPINGSTART…
	Host    string `json:"host"`
	Address string `json:"address"`
	Service string `json:"service"`
	// State is the host's (UP, DOWN) or service's (OK, WARNING, CRITICAL, UNKNOWN).
	State    string `json:"state"`
	Output   string `json:"output"`
	Author   string `json:"author"`
	Comment  string `json:"comment"`
	Customer string `json:"customer"`
	Time     int64  `json:"time"` // Unix seconds
}

// Icinga2 is the receiver of the shipped notification script's JSON.
func Icinga2(auth Auth, o Options, sink Sink) http.Handler {
	h := newReceiver("icinga2", o, sink)
	h.auth = auth.allows
	h.decode = func(_ context.Context, body []byte) ([]mcloud.Alert, error) { return DecodeIcinga2(body) }
	return h.guarded(o)
}

// DecodeIcinga2 decodes one notification; kinds that say nothing about a
// problem (FLAPPING*, CUSTOM) decode to no alert.
func DecodeIcinga2(body []byte) ([]mcloud.Alert, error) {
	var n Icinga2Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, refuse(http.StatusBadRequest, "not an mcloud Icinga2 notification: %v", err)
	}
	if n.Host == "" || n.Type == "" {
		return nil, refuse(http.StatusBadRequest, "an Icinga2 notification needs type and host")
	}
	var st mcloud.AlertStatus
	switch strings.ToUpper(n.Type) {
	case "PROBLEM":
		st = mcloud.AlertFiring
	case "RECOVERY":
		st = mcloud.AlertResolved
	case "ACKNOWLEDGEMENT":
		st = mcloud.AlertAcknowledged
	case "DOWNTIMESTART":
		st = mcloud.AlertDowntimeStart
	case "DOWNTIMEEND", "DOWNTIMEREMOVED":
		st = mcloud.AlertDowntimeEnd
	case "CUSTOM", "FLAPPINGSTART", "FLAPPINGEND":
		return nil, nil
	default:
		return nil, refuse(http.StatusBadRequest, "unknown Icinga2 notification type %q", n.Type)
	}
	key, name := n.Host, ""
	if n.Service != "" {
		key, name = n.Host+"!"+n.Service, n.Service
	}
	if n.Service == "" {
		name = "host down"
	}
	at := time.Now().UTC()
	if n.Time > 0 {
		at = time.Unix(n.Time, 0).UTC()
	}
	host := n.Host
	summary := n.Output
	if n.Comment != "" {
		summary = n.Comment
	}
	var sev mcloud.Severity // only a problem says how bad it is; the rest keep it
	if st == mcloud.AlertFiring {
		sev = mcloud.ParseSeverity(n.State)
	}
	return []mcloud.Alert{{Source: "icinga2", Key: key, Status: st, Severity: sev, Name: name,
		Host: host, Customer: n.Customer, Summary: summary, By: n.Author, At: at}}, nil
}
