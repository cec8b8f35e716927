package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/integrations/mail/mailtest"
	"github.com/mcloud/mcloud/integrations/store"
)

// listenAddr is where srv listens, once it says so.
func listenAddr(t *testing.T, srv *server) string {
	t.Helper()
	select {
	case addr := <-srv.addr:
		return addr
	case <-srv.done:
		t.Fatalf("mcloud serve exited:\n%s", srv.output())
	}
	return ""
}

// postAlertmanager posts one Alertmanager webhook alert to serve.
func postAlertmanager(t *testing.T, base, status, name, severity, customer, instance, summary string) {
	t.Helper()
	body := fmt.Sprintf(`{"version":"4","status":%[1]q,"receiver":"mcloud","alerts":[{"status":%[1]q,
		"labels":{"alertname":%[2]q,"severity":%[3]q,"customer":%[4]q,"instance":%[5]q},"annotations":{"summary":%[6]q},
		"startsAt":"2026-12-02T05:00:00Z","fingerprint":"fp-%[4]s-%[2]s"}]}`, status, name, severity, customer, instance, summary)
	req, _ := http.NewRequest("POST", base+"/alerts/alertmanager", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+alertsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("alert %s for %s: HTTP %d", name, customer, resp.StatusCode)
	}
}

// TestAlertMailWhileSlackIsDown: Slack answers 500 to everything; once
// that has lasted longer than alerts.email.after, `mcloud serve` mails a
// critical alert by SMTP (STARTTLS, AUTH PLAIN, a real go-smtp server) to
// customer-x's contacts, once for its state change however often it
// repeats, and to the team's address; a warning is not mailed, and
// customer-y's contacts get nothing. When Slack is back, the alert's
// Slack message is still posted, and nothing more is mailed. The SMTP
// password is never in the log.
func TestAlertMailWhileSlackIsDown(t *testing.T) {
	bin := mcloudBinary(t)
	smtpd := mailtest.Start(t)
	host, port, _ := net.SplitHostPort(smtpd.Addr)
	ws := slackfake.New(t)
	var down atomic.Bool
	down.Store(true)
	ws.Faults(func(string, int) *slackfake.Fault {
		if down.Load() {
			return &slackfake.Fault{Status: http.StatusInternalServerError}
		}
		return nil
	})
	cfg := alertsConfig(t, ws, fmt.Sprintf(`  email:
    after: 3s
    server: %s
    port: %s
    from: mcloud@example.com
    username: ${MCLOUD_SMTP_USER}
    password: ${MCLOUD_SMTP_PASSWORD}
    ca: %s
    team: [devops@example.com]
`, host, port, smtpd.CAFile))
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(string(data), "    team_id: T0CUSTX ", "    contacts: [ops@x.example, oncall@x.example]\n    team_id: T0CUSTX ", 1)
	yaml = strings.Replace(yaml, "    team_id: T0CUSTY\n", "    contacts: [ops@y.example]\n    team_id: T0CUSTY\n", 1)
	if strings.Count(yaml, "contacts:") != 2 {
		t.Fatal("the example configuration changed under this test")
	}
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MCLOUD_AM_TOKEN", alertsToken)
	t.Setenv("MCLOUD_SMTP_USER", mailtest.User)
	t.Setenv("MCLOUD_SMTP_PASSWORD", mailtest.Password)
	dbPath := filepath.Join(t.TempDir(), "mcloud.db")
	srv := startServe(t, bin, cfg, dbPath)
	base := "http://" + listenAddr(t, srv)

	postAlertmanager(t, base, "firing", "DiskFull", "critical", "customer-x", "x-prod-apim-1:9100", "/var is 97% full")
	postAlertmanager(t, base, "firing", "DiskFull", "critical", "customer-x", "x-prod-apim-1:9100", "/var is 97% full") // a repeat
	postAlertmanager(t, base, "firing", "LoadHigh", "warning", "customer-x", "x-prod-apim-1:9100", "load 9")
	postAlertmanager(t, base, "firing", "LoadHigh", "warning", "customer-y", "y-prod-apim-1:9100", "load 7")

	ctx := context.Background()
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitDB(t, 2*time.Minute, "the critical alert's mails to be sent", func() bool {
		_, outcomes, err := db.AlertMails(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sent := 0
		for _, o := range outcomes {
			if o == store.MailSent {
				sent++
			}
		}
		return sent == 2
	})
	if strings.Contains(srv.output(), "Slack unreachable; mailed the alert") == false {
		t.Errorf("the log does not say the alert was mailed:\n%s", srv.output())
	}

	down.Store(false)
	ws.WaitFor(t, 2*time.Minute, "the critical alert's Slack message once Slack is back", func() bool {
		return topMessage(ws, "C0CUSTX", "DiskFull") != nil
	})
	ws.WaitFor(t, 2*time.Minute, "the warning in the team channel", func() bool {
		return topMessage(ws, "C0DEVOPS", "LoadHigh") != nil
	})

	mails := smtpd.Mails()
	var toX, toTeam int
	for _, m := range mails {
		to := strings.Join(m.To, ",")
		switch to {
		case "ops@x.example,oncall@x.example":
			toX++
			if !m.TLS || m.Subject != "[mcloud] CRITICAL: DiskFull on x-prod-apim-1:9100 (customer-x)" ||
				!strings.Contains(m.Body, "[CRITICAL] alert #1: DiskFull on x-prod-apim-1:9100 (customer-x)\n/var is 97% full") {
				t.Errorf("customer-x's mail: TLS %v, %q\n%s", m.TLS, m.Subject, m.Body)
			}
		case "devops@example.com":
			toTeam++
		default:
			t.Errorf("a mail to %s: %q", to, m.Subject)
		}
		if strings.Contains(m.Raw, "LoadHigh") {
			t.Errorf("a warning was mailed: %q", m.Subject)
		}
	}
	if toX != 1 || toTeam != 1 || len(mails) != 2 {
		t.Errorf("%d mails: %d to customer-x's contacts, %d to the team; want one each", len(mails), toX, toTeam)
	}
	for _, a := range smtpd.Auths() {
		if a != mailtest.User {
			t.Errorf("SMTP login %q", a)
		}
	}
	if strings.Contains(srv.output(), mailtest.Password) {
		t.Error("the SMTP password is in the log")
	}
}

// TestCheckConfigAlertEmail: --check-config names an unset SMTP password
// variable and an unreadable CA file in alerts.email, and a bad contact.
func TestCheckConfigAlertEmail(t *testing.T) {
	for _, v := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CUSTOMER_X_EXTERNAL_ID", "CUSTOMER_Y_EXTERNAL_ID", "MCLOUD_SMTP_USER"} {
		t.Setenv(v, "set-for-test")
	}
	t.Setenv("SLACK_APP_TOKEN", "")
	t.Setenv("MCLOUD_SMTP_PASSWORD", "")
	path := writeConfig(t, func(s string) string {
		s = strings.Replace(s, "\ncustomers:\n", "\nalerts:\n  email:\n    server: smtp.example.net\n    from: mcloud@example.net\n"+
			"    username: ${MCLOUD_SMTP_USER}\n    password: ${MCLOUD_SMTP_PASSWORD}\n    ca: /nonexistent/smtp-ca.pem\n    team: [devops@example.net]\n\ncustomers:\n", 1)
		return strings.Replace(s, "    team_id: T0CUSTY\n", "    contacts: [ops.y.example]\n    team_id: T0CUSTY\n", 1)
	})
	code, _, stderr := run(t, "serve", "--check-config", "-c", path)
	for _, want := range []string{"alerts.email.password: environment variable MCLOUD_SMTP_PASSWORD is not set",
		"alerts.email.ca: open /nonexistent/smtp-ca.pem", `customers[1].contacts[0]: "ops.y.example" is not an email address`} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}
}
