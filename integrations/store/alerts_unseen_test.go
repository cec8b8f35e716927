package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// On both backends: a downtime set outside mcloud (Icinga2 notifies
// DOWNTIMESTART once per service) and an acknowledgement of a problem no
// channel shows post nothing and queue no mail; the problem's next firing
// alert still gets its message and its mail.
func TestAlertDowntimeOfUnseenProblem(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := store.AlertDelivery{Channels: []string{"C0CUSTX"}, Budget: 10, Interval: time.Minute, Render: plainRender{},
			Mail: func(p mcloud.Problem) []store.AlertMail {
				return []store.AlertMail{{Audience: "customer-x", ChannelID: "C0CUSTX", Subject: "s " + string(p.Status), Body: "b"}}
			}}
		for _, a := range []mcloud.Alert{
			{Source: "icinga2", Key: "x-prod-apim-1!disk", Status: mcloud.AlertDowntimeStart, Name: "disk", Host: "x-prod-apim-1", By: "someone"},
			{Source: "icinga2", Key: "x-prod-apim-1!load", Status: mcloud.AlertDowntimeStart, Name: "load", Host: "x-prod-apim-1", By: "someone"},
			{Source: "icinga2", Key: "x-prod-apim-1!http", Status: mcloud.AlertAcknowledged, Name: "http", Host: "x-prod-apim-1", By: "someone"},
		} {
			out, err := db.RecordAlert(ctx, a, "customer-x", d)
			if err != nil {
				t.Fatal(err)
			}
			if act := out.Actions["C0CUSTX"]; act != mcloud.AlertIgnore {
				t.Errorf("%s of %s: %s in customer-x's channel, want nothing", a.Status, a.Name, act)
			}
		}
		if items, err := db.OutboxItems(ctx, "C0CUSTX"); err != nil || len(items) != 0 {
			t.Errorf("customer-x's channel got %d messages (%v) for a downtime and an acknowledgement of problems it never showed", len(items), err)
		}
		if due, err := db.AlertMailsDue(ctx, 10); err != nil || len(due) != 0 {
			t.Errorf("mails due: %+v (%v), want none", due, err)
		}
		// Not even queued, to wait for a Slack message that never comes.
		if mails, _, err := db.AlertMails(ctx); err != nil || len(mails) != 0 {
			t.Errorf("mails queued: %+v (%v), want none", mails, err)
		}

		// The service then fails for real: a message and a mail.
		if _, err := db.RecordAlert(ctx, mcloud.Alert{Source: "icinga2", Key: "x-prod-apim-1!disk", Status: mcloud.AlertFiring,
			Severity: mcloud.SeverityCritical, Name: "disk", Host: "x-prod-apim-1"}, "customer-x", d); err != nil {
			t.Fatal(err)
		}
		if items, err := db.OutboxItems(ctx, "C0CUSTX"); err != nil || len(items) != 1 {
			t.Errorf("customer-x's channel got %d messages (%v) for the failure, want 1", len(items), err)
		}
		if due, err := db.AlertMailsDue(ctx, 10); err != nil || len(due) != 1 || due[0].Subject != "s firing" {
			t.Errorf("mails queued: %+v (%v), want the failure's", due, err)
		}
	})
}
