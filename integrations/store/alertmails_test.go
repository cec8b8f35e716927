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

// On both backends: a problem folded into a summary whose rendering is
// deferred has no Slack message yet, so its mail stays due after Slack
// took every older message, until the summary's own message is taken.
func TestAlertMailWaitsForDeferredSummary(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := store.AlertDelivery{Channels: []string{"C0CUSTX"}, Budget: 1, Interval: time.Hour, Render: plainRender{}, SummaryEvery: time.Hour,
			Mail: func(p mcloud.Problem) []store.AlertMail {
				return []store.AlertMail{{Audience: "customer-x", ChannelID: "C0CUSTX", Subject: "s " + p.Name, Body: "b"}}
			}}
		sendAll := func() {
			t.Helper()
			items, err := db.OutboxItems(ctx, "C0CUSTX")
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				if err := db.MarkSent(ctx, it.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		dueSubjects := func() string {
			t.Helper()
			due, err := db.AlertMailsDue(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, m := range due {
				s = append(s, m.Subject)
			}
			return strings.Join(s, ",")
		}
		for _, k := range []string{"a", "b", "c"} {
			out, err := db.RecordAlert(ctx, mcloud.Alert{Source: "alertmanager", Key: k, Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical, Name: k}, "customer-x", d)
			if err != nil {
				t.Fatal(err)
			}
			if out.Deferred != (k == "c") {
				t.Fatalf("alert %s: deferred %v", k, out.Deferred)
			}
		}
		sendAll()
		if got := dueSubjects(); got != "s c" {
			t.Fatalf("due mails after Slack took every queued message: %q, want only c's (its summary was never shown)", got)
		}
		if n, err := db.FlushSummaries(ctx, plainRender{}); err != nil || n != 1 {
			t.Fatalf("flushed %d (%v)", n, err)
		}
		if got := dueSubjects(); got != "s c" {
			t.Fatalf("due mails while the summary's message waits: %q, want c's", got)
		}
		sendAll()
		if got := dueSubjects(); got != "" {
			t.Fatalf("due mails after Slack showed the summary: %q", got)
		}
	})
}

// On both backends: a message given up (Abandon) never reached Slack, so
// the alert's mail is still due.
func TestAlertMailAfterAbandonedMessage(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := store.AlertDelivery{Channels: []string{"C0CUSTX"}, Budget: 10, Interval: time.Minute, Render: plainRender{},
			Mail: func(p mcloud.Problem) []store.AlertMail {
				return []store.AlertMail{{Audience: "customer-x", ChannelID: "C0CUSTX", Subject: "s", Body: "b"}}
			}}
		if _, err := db.RecordAlert(ctx, mcloud.Alert{Source: "alertmanager", Key: "fp1", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical, Name: "DiskFull"}, "customer-x", d); err != nil {
			t.Fatal(err)
		}
		l, ok, err := db.LeaseChannel(ctx, "C0CUSTX", "a", 20*time.Second)
		if err != nil || !ok {
			t.Fatalf("lease: %v %v", ok, err)
		}
		it, err := db.NextOutbox(ctx, "C0CUSTX")
		if err != nil || it == nil {
			t.Fatalf("next: %v %v", it, err)
		}
		if err := db.Abandon(ctx, l, it.ID, "invalid_blocks"); err != nil {
			t.Fatal(err)
		}
		due, err := db.AlertMailsDue(ctx, 10)
		if err != nil || len(due) != 1 {
			t.Fatalf("due mails after Slack refused the message: %v %v, want the alert's", due, err)
		}
	})
}
