package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/alerts"
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
	if !strings.Contains(all, "critical DiskFull on x-prod-apim-1 (customer-x)") || !strings.Contains(all, "load on y-prod-is-1 (customer-y)") || strings.Contains(all, "swap") {
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
