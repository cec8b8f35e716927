package alerts_test

import (
	"context"
	"slices"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/internal/storetest"
)

// TestPipelineCountsEveryAlert: the metrics hook hears of every alert,
// by source, customer ("unmatched" for none) and status.
func TestPipelineCountsEveryAlert(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := alerts.New(storetest.Open(t, ""), cfg, nil)
	var got []string
	p.Counted = func(source, customer, status string) { got = append(got, source+"/"+customer+"/"+status) }
	if err := p.Receive(context.Background(), []mcloud.Alert{
		{Source: "alertmanager", Key: "a", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical, Name: "X", Host: "x-prod-apim-1"},
		{Source: "sns", Key: "b", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical, Name: "Y", Account: "999999999999"},
		{Source: "icinga2", Key: "c", Status: mcloud.AlertResolved, Name: "Z", Host: "y-prod-is-1"},
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"alertmanager/customer-x/firing", "sns/unmatched/firing", "icinga2/customer-y/resolved"}
	if !slices.Equal(got, want) {
		t.Errorf("counted %v, want %v", got, want)
	}
}
