package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/integrations/monitoring"
)

// TestDowntimesRemovedByJobComment: what a job set in Debian's Icinga2
// and Alertmanager is found by its comment and removed (a process that
// died before saving the ids), and another job's downtimes, even one
// whose number starts the same, are left alone.
func TestDowntimesRemovedByJobComment(t *testing.T) {
	ic := startIcinga2(t, "http://"+freeAddr(t)+"/alerts/icinga2")
	am := startAlertmanager(t, "http://"+freeAddr(t)+"/alerts/alertmanager")
	caPEM, err := os.ReadFile(filepath.Join(ic.dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	d := &alerts.Downtimes{Icinga2: monitoring.NewIcinga2API(ic.api, "mcloud", icingaAPIPwd, caPEM), Alertmanager: monitoring.NewAlertmanagerAPI(am)}
	ctx := context.Background()
	end := time.Now().Add(time.Hour)
	mine, err := d.Schedule(ctx, "customer-x", "x-prod-apim-1", "10.10.1.11", end, "mcloud", "mcloud job #7: patch P-1 of customer-x/prod")
	if err != nil {
		t.Fatal(err)
	}
	other, err := d.Schedule(ctx, "customer-x", "x-prod-apim-1", "10.10.1.11", end, "mcloud", "mcloud job #70: patch P-2 of customer-x/prod")
	if err != nil {
		t.Fatal(err)
	}

	n, err := d.RemoveCommented(ctx, "mcloud", "mcloud job #7: ")
	if err != nil || n != len(mine) {
		t.Fatalf("RemoveCommented = %d, %v; want %d (what job #7 set: %+v)", n, err, len(mine), mine)
	}
	code, body := ic.call("GET", "/v1/objects/downtimes?attrs=comment", "")
	if code != 200 || strings.Contains(body, "job #7:") || strings.Count(body, "job #70:") != 2 {
		t.Errorf("Icinga2's downtimes after removing job #7's: HTTP %d %s", code, body)
	}
	otherSilences := 0
	for _, dt := range other {
		if dt.Source == "alertmanager" {
			otherSilences++
		}
	}
	if got := activeSilences(t, am); strings.Contains(got, "job #7:") || otherSilences == 0 || strings.Count(got, "job #70:") != otherSilences {
		t.Errorf("Alertmanager's active silences after removing job #7's:\n%s", got)
	}
	// Nothing left of job #7: no error, nothing removed.
	if n, err := d.RemoveCommented(ctx, "mcloud", "mcloud job #7: "); n != 0 || err != nil {
		t.Errorf("second RemoveCommented = %d, %v", n, err)
	}
	if err := d.Remove(ctx, other); err != nil {
		t.Fatal(err)
	}
}

// activeSilences lists Alertmanager's silences that are not expired,
// one "createdBy: comment" a line.
func activeSilences(t *testing.T, am string) string {
	t.Helper()
	resp, err := http.Get(am + "/api/v2/silences")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var silences []struct {
		CreatedBy string `json:"createdBy"`
		Comment   string `json:"comment"`
		Status    struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&silences); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range silences {
		if s.Status.State != "expired" {
			out = append(out, s.CreatedBy+": "+s.Comment)
		}
	}
	return strings.Join(out, "\n")
}
