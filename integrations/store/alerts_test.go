package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

type plainRender struct{}

func (plainRender) Problem(p mcloud.Problem) string {
	s := fmt.Sprintf("problem %s %s x%d", p.Name, p.Status, p.Count)
	if p.AckedBy != "" {
		s += " acked by " + p.AckedBy
	}
	return s
}
func (plainRender) Change(p mcloud.Problem, a mcloud.Alert) string {
	return "change " + string(a.Status)
}
func (plainRender) Summary(from time.Time, ps []mcloud.Problem) string {
	n := 0
	for _, p := range ps {
		n += p.Count
	}
	return fmt.Sprintf("summary %d problems %d alerts", len(ps), n)
}

// TestRecordAlertOneMessagePerProblem: the first alert of a problem
// queues its message, repeats update it, a change updates it and replies
// in its thread, all under the problem's key, in each channel routed.
func TestRecordAlertOneMessagePerProblem(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := store.AlertDelivery{Channels: []string{"C0CUSTX", "C0DEVOPS"}, Budget: 10, Interval: time.Minute, Render: plainRender{}}
		a := mcloud.Alert{Source: "alertmanager", Key: "fp1", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical, Name: "DiskFull", Host: "h1"}
		for _, st := range []mcloud.AlertStatus{mcloud.AlertFiring, mcloud.AlertFiring, mcloud.AlertResolved} {
			a.Status = st
			if _, err := db.RecordAlert(ctx, a, "customer-x", d); err != nil {
				t.Fatal(err)
			}
		}
		items, err := db.OutboxItems(ctx, "C0CUSTX")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range items {
			got = append(got, fmt.Sprintf("%s %d %s", it.Kind, it.RequestID, it.Text))
		}
		p, _ := db.OpenProblems(ctx, "")
		if len(p) != 0 {
			t.Errorf("open problems after resolution: %+v", p)
		}
		want := []string{"plan -1 problem DiskFull firing x1", "update -1 problem DiskFull firing x2",
			"update -1 problem DiskFull resolved x3", "post -1 change resolved"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("customer-x outbox:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// The poster sends the newest update of a problem first: it shows
		// the newest state and answers the older ones.
		if err := db.Delivered(ctx, items[0], "1.0"); err != nil {
			t.Fatal(err)
		}
		next, err := db.NextOutbox(ctx, "C0CUSTX")
		if err != nil || next == nil || next.Text != "problem DiskFull resolved x3" {
			t.Errorf("next to send: %+v, %v; want the newest update", next, err)
		}
	})
}

// TestRecordAlertStormFolds: beyond a channel's budget, new problems are
// folded into one summary per channel and interval, updated in place, and
// every alert is still counted.
func TestRecordAlertStormFolds(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := store.AlertDelivery{Channels: []string{"C0CUSTX"}, Budget: 2, Interval: time.Hour, Render: plainRender{}}
		at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
		for i := range 50 {
			a := mcloud.Alert{Source: "icinga2", Key: fmt.Sprintf("h!svc%d", i%5), Status: mcloud.AlertFiring, Name: fmt.Sprintf("svc%d", i%5), At: at}
			if _, err := db.RecordAlert(ctx, a, "customer-x", d); err != nil {
				t.Fatal(err)
			}
		}
		items, _ := db.OutboxItems(ctx, "C0CUSTX")
		plans := map[int64]string{}
		last := map[int64]string{}
		for _, it := range items {
			if it.Kind == store.KindPlan {
				plans[it.RequestID] = it.Text
			}
			last[it.RequestID] = it.Text
		}
		if len(plans) != 3 {
			t.Fatalf("%d messages created, want 2 problems and 1 summary: %v", len(plans), plans)
		}
		var summary string
		for _, txt := range last {
			if strings.HasPrefix(txt, "summary") {
				summary = txt
			}
		}
		if summary != "summary 3 problems 30 alerts" {
			t.Errorf("summary is %q, want 3 problems, 30 alerts", summary)
		}
		n, err := db.AlertCounted(ctx)
		if err != nil || n != 50 {
			t.Errorf("counted %d alerts (%v), want 50", n, err)
		}
	})
}
