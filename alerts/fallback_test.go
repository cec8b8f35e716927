package alerts_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/mail"
	"github.com/mcloud/mcloud/integrations/mail/mailtest"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
)

// TestFallbackMailsOnlyWhatSlackHasNotShown: with Slack unreachable
// longer than the threshold, two replicas' fallbacks send the critical
// alert whose Slack messages are still queued once, to its audiences,
// and never the one whose Slack messages went out before Slack went
// away; with Slack unreachable for less than the threshold, nothing.
func TestFallbackMailsOnlyWhatSlackHasNotShown(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Alerts.Email = config.AlertEmail{Server: "127.0.0.1", From: "mcloud@example.com", Team: []string{"devops@example.com"}}
	cfg.Customers[0].Contacts = []string{"ops@x.example"}
	cfg.Customers[1].Contacts = []string{"ops@y.example"}
	db := storetest.Open(t, "")
	p := alerts.New(db, cfg, nil)
	ctx := context.Background()
	receive := func(name, customer string) {
		t.Helper()
		if err := p.Receive(ctx, []mcloud.Alert{{Source: "alertmanager", Key: name, Status: mcloud.AlertFiring,
			Severity: mcloud.SeverityCritical, Name: name, Customer: customer, Summary: name + " is bad"}}); err != nil {
			t.Fatal(err)
		}
	}
	receive("ShownBeforeTheOutage", "customer-y")
	items, err := db.OutboxItems(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items { // Slack took them
		if err := db.MarkSent(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
	}
	receive("DuringTheOutage", "customer-x")

	smtpd := mailtest.Start(t)
	c, err := mail.New(mail.Options{Addr: smtpd.Addr, From: "mcloud@example.com", User: mailtest.User, Password: mailtest.Password, RootCAs: smtpd.Pool})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	down := time.Now().Add(-30 * time.Second)
	fallback := func() *alerts.Fallback {
		return &alerts.Fallback{DB: db, Mailer: c, After: time.Minute, To: func(a string) []string { return alerts.Recipients(cfg, a) },
			Down: func() time.Time { mu.Lock(); defer mu.Unlock(); return down }}
	}
	a, b := fallback(), fallback()
	// Slack down for 30s of the minute: nothing yet.
	for _, f := range []*alerts.Fallback{a, b} {
		if f.Due() {
			t.Fatal("mail due before Slack was unreachable for alerts.email.after")
		}
	}
	mu.Lock()
	down = time.Now().Add(-2 * time.Minute)
	mu.Unlock()
	var wg sync.WaitGroup
	for _, f := range []*alerts.Fallback{a, b} {
		if !f.Due() {
			t.Fatal("mail not due after Slack was unreachable for alerts.email.after")
		}
		wg.Go(func() { f.Tick(ctx) })
	}
	wg.Wait()
	a.Tick(ctx)

	var got []string
	for _, m := range smtpd.Mails() {
		got = append(got, strings.Join(m.To, ",")+" "+m.Subject)
	}
	slices.Sort(got) // the replicas send at once
	want := []string{"devops@example.com [mcloud] CRITICAL: DuringTheOutage (customer-x)", "ops@x.example [mcloud] CRITICAL: DuringTheOutage (customer-x)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("mails:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, outcomes, err := db.AlertMails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(outcomes, ",") != strings.Join([]string{store.MailBySlack, store.MailBySlack, store.MailSent, store.MailSent}, ",") {
		t.Errorf("outcomes %v", outcomes)
	}
}
