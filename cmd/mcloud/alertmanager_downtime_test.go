package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/integrations/monitoring"
)

// TestAlertmanagerSilenceWhilePatching: the silences a patch sets for a
// host in Debian's Alertmanager silence its alerts whichever label names
// it (instance with a port, host as an FQDN), not another host's, and not
// another customer's host that reuses the address in its own VPC;
// removing them expires them.
func TestAlertmanagerSilenceWhilePatching(t *testing.T) {
	am := startAlertmanager(t, "http://"+freeAddr(t)+"/alerts/alertmanager")
	d := &alerts.Downtimes{Alertmanager: monitoring.NewAlertmanagerAPI(am),
		Routes: alerts.Routes{Hosts: map[string]string{"x-prod-apim-1": "customer-x", "10.10.1.11": ""}}}
	ctx := context.Background()
	set, err := d.Schedule(ctx, "customer-x", "x-prod-apim-1", "10.10.1.11", time.Now().Add(time.Hour), "mcloud", "mcloud job #7: patch P-1 of customer-x/prod")
	if err != nil || len(set) != 3 {
		t.Fatalf("Schedule = %+v, %v", set, err)
	}
	pushAlert(t, am, map[string]string{"alertname": "ServiceDown", "instance": "10.10.1.11:9443", "customer": "customer-x"}, time.Time{})
	pushAlert(t, am, map[string]string{"alertname": "DiskFull", "host": "x-prod-apim-1.prod.example"}, time.Time{})
	pushAlert(t, am, map[string]string{"alertname": "ServiceDown", "instance": "10.10.1.12:9443", "customer": "customer-x"}, time.Time{})
	pushAlert(t, am, map[string]string{"alertname": "ServiceDown", "instance": "10.10.1.11:9443", "customer": "customer-y"}, time.Time{})
	pushAlert(t, am, map[string]string{"alertname": "Load", "instance": "10.10.1.11:9100"}, time.Time{})

	type amAlert struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State      string   `json:"state"`
			SilencedBy []string `json:"silencedBy"`
		} `json:"status"`
	}
	states := func() map[string]string {
		resp, err := http.Get(am + "/api/v2/alerts")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var as []amAlert
		if err := json.NewDecoder(resp.Body).Decode(&as); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, a := range as {
			out[a.Labels["alertname"]+" "+a.Labels["instance"]+a.Labels["host"]+" "+a.Labels["customer"]] = a.Status.State
		}
		return out
	}
	want := map[string]string{"ServiceDown 10.10.1.11:9443 customer-x": "suppressed", "DiskFull x-prod-apim-1.prod.example ": "suppressed",
		"ServiceDown 10.10.1.12:9443 customer-x": "active",
		// customer-y's host at the same private address, and an address
		// that names no customer, stay loud.
		"ServiceDown 10.10.1.11:9443 customer-y": "active", "Load 10.10.1.11:9100 ": "active"}
	var got map[string]string
	waitDB(t, time.Minute, "Alertmanager to silence the host's alerts", func() bool {
		got = states()
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	})

	if err := d.Remove(ctx, set); err != nil {
		t.Fatal(err)
	}
	for _, s := range set {
		resp, err := http.Get(am + "/api/v2/silence/" + s.ID)
		if err != nil {
			t.Fatal(err)
		}
		var sil struct {
			CreatedBy string `json:"createdBy"`
			Comment   string `json:"comment"`
			Status    struct {
				State string `json:"state"`
			} `json:"status"`
		}
		json.NewDecoder(resp.Body).Decode(&sil)
		resp.Body.Close()
		if sil.Status.State != "expired" || sil.CreatedBy != "mcloud" || !strings.Contains(sil.Comment, "job #7") {
			t.Errorf("silence %s after Remove: %+v", s.ID, sil)
		}
	}
	// Removing again (the cleanup after the host's own step) is no error.
	if err := d.Remove(ctx, set); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}
