package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// On both backends: a mail is queued per state change, not per repeat;
// it is due while its channel's Slack message is undelivered, settled
// unsent once Slack took it, and claimed by one process at a time.
func TestAlertMails(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := store.AlertDelivery{Channels: []string{"C0CUSTX"}, Budget: 10, Interval: time.Minute, Render: plainRender{},
			Mail: func(p mcloud.Problem) []store.AlertMail {
				return []store.AlertMail{{Audience: "customer-x", ChannelID: "C0CUSTX", Subject: "s " + string(p.Status), Body: "b"}}
			}}
		a := mcloud.Alert{Source: "alertmanager", Key: "fp1", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical, Name: "DiskFull"}
		for _, st := range []mcloud.AlertStatus{mcloud.AlertFiring, mcloud.AlertFiring, mcloud.AlertResolved} {
			a.Status = st
			if _, err := db.RecordAlert(ctx, a, "customer-x", d); err != nil {
				t.Fatal(err)
			}
		}
		due, err := db.AlertMailsDue(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		var subjects []string
		for _, m := range due {
			subjects = append(subjects, m.Subject)
		}
		if strings.Join(subjects, ",") != "s firing,s resolved" {
			t.Fatalf("due mails %v, want one per state change", subjects)
		}
		if ok, err := db.ClaimAlertMail(ctx, due[0].ID, time.Now().Add(time.Minute)); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if ok, err := db.ClaimAlertMail(ctx, due[0].ID, time.Now().Add(time.Minute)); err != nil || ok {
			t.Fatalf("second claim: %v %v, want refused", ok, err)
		}
		if err := db.AlertMailDone(ctx, due[0].ID, store.MailSent); err != nil {
			t.Fatal(err)
		}
		// Slack takes every message: the other mail is needless.
		items, err := db.OutboxItems(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if err := db.MarkSent(ctx, it.ID); err != nil {
				t.Fatal(err)
			}
		}
		if due, err := db.AlertMailsDue(ctx, 10); err != nil || len(due) != 0 {
			t.Fatalf("due after Slack took the messages: %v %v", due, err)
		}
		_, outcomes, err := db.AlertMails(ctx)
		if err != nil || strings.Join(outcomes, ",") != store.MailSent+","+store.MailBySlack {
			t.Errorf("outcomes %v %v", outcomes, err)
		}
	})
}

// On both backends: a summary changed within SummaryEvery of its last
// rendering is left for FlushSummaries, which queues its newest text.
func TestSummaryRenderedLater(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := store.AlertDelivery{Channels: []string{"C0CUSTX"}, Budget: 1, Interval: time.Hour, Render: plainRender{}, SummaryEvery: time.Hour}
		for _, k := range []string{"a", "b", "c", "c"} {
			out, err := db.RecordAlert(ctx, mcloud.Alert{Source: "alertmanager", Key: k, Status: mcloud.AlertFiring, Severity: mcloud.SeverityWarning, Name: k}, "customer-x", d)
			if err != nil {
				t.Fatal(err)
			}
			if want := k == "c"; out.Deferred != want {
				t.Errorf("alert %s: deferred %v, want %v", k, out.Deferred, want)
			}
		}
		n, err := db.FlushSummaries(ctx, plainRender{})
		if err != nil || n != 1 {
			t.Fatalf("flushed %d (%v), want 1", n, err)
		}
		if n, err := db.FlushSummaries(ctx, plainRender{}); err != nil || n != 0 {
			t.Fatalf("flushed again %d (%v), want 0", n, err)
		}
		items, err := db.OutboxItems(ctx, "C0CUSTX")
		if err != nil {
			t.Fatal(err)
		}
		last := items[len(items)-1]
		if last.Kind != store.KindUpdate || last.Text != "summary 2 problems 3 alerts" {
			t.Errorf("last message %s %q", last.Kind, last.Text)
		}
	})
}
