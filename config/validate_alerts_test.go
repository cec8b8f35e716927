package config_test

import (
	"testing"

	"github.com/mcloud/mcloud/config/configtest"
)

// The alerts keys are refused with the exact key and why.
func TestInvalidAlertKeysNameTheKey(t *testing.T) {
	expectInvalid(t, []edit{
		{"severity typo", set("alerts.team", []string{"critcal"}), `alerts.team[0]: "critcal" is not a severity; use critical, warning, info`},
		{"topic not an ARN", set("alerts.sns.topics", []string{"alarms"}), `alerts.sns.topics[0]: "alarms" is not an SNS topic ARN like arn:aws:sns:eu-west-1:111111111111:alarms`},
		{"budget", set("alerts.budget", -1), "alerts.budget: must be between 1 and 1000 new messages per channel and interval (0 means 10), not -1"},
		{"api URL", set("alerts.alertmanager.api", "localhost:9093"), `alerts.alertmanager.api: "localhost:9093" is not an http(s) URL like https://host:port`},
	})
}

// The mail fallback's keys are refused with the exact key and why, and a
// whole block passes.
func TestInvalidAlertEmailKeysNameTheKey(t *testing.T) {
	ok := map[string]any{"server": "smtp.example.com", "from": "mcloud@example.com", "username": "${U}", "password": "${P}", "team": []string{"ops@example.com"}}
	if _, err := configtest.Example(t).Set("alerts.email", ok).Parse(); err != nil {
		t.Fatalf("a complete alerts.email block: %v", err)
	}
	email := func(m map[string]any) func(*configtest.Builder) { return set("alerts.email", m) }
	expectInvalid(t, []edit{
		{"no server", email(map[string]any{"from": "mcloud@example.com"}), "alerts.email.server: missing; the mail fallback needs the SMTP server's host name"},
		{"server with port", email(map[string]any{"server": "smtp.example.com:587"}), `alerts.email.server: "smtp.example.com:587" is not a host name; give the port as alerts.email.port`},
		{"port", email(map[string]any{"server": "smtp.example.com", "port": 70000}), "alerts.email.port: must be a TCP port (default 587), not 70000"},
		{"no from", email(map[string]any{"server": "smtp.example.com"}), "alerts.email.from: missing; the sender address"},
		{"bad from", email(map[string]any{"server": "smtp.example.com", "from": "mcloud at example"}), `alerts.email.from: "mcloud at example" is not an email address`},
		{"no password", email(map[string]any{"server": "smtp.example.com"}), "alerts.email.password: missing; mail is sent with SMTP AUTH only"},
		{"inline password", email(map[string]any{"server": "smtp.example.com", "password": "hunter2"}), "alerts.email.password"},
		{"after", email(map[string]any{"server": "smtp.example.com", "after": "soon"}), `alerts.email.after: not a duration like "24h" or "90m": "soon"`},
		{"nobody to mail", email(map[string]any{"server": "smtp.example.com"}), "alerts.email: no one to mail: list alerts.email.team or customers[].contacts"},
		{"team address", email(map[string]any{"server": "smtp.example.com", "team": []string{"devops"}}), `alerts.email.team[0]: "devops" is not an email address`},
		{"contact", set("customers[customer-y].contacts", []string{"Dave <dave@y.example>"}), `customers[1].contacts[0]: "Dave <dave@y.example>" is not an email address like ops@example.com`},
	})
}
