package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/mcloud/mcloud/config"
)

// The alerts keys are refused with the exact key and why.
func TestInvalidAlertKeysNameTheKey(t *testing.T) {
	expectInvalid(t, []edit{
		{"severity typo", "jobs:", "alerts: {team: [critcal]}\njobs:", `alerts.team[0]: "critcal" is not a severity; use critical, warning, info`},
		{"topic not an ARN", "jobs:", "alerts: {sns: {topics: [alarms]}}\njobs:", `alerts.sns.topics[0]: "alarms" is not an SNS topic ARN like arn:aws:sns:eu-west-1:111111111111:alarms`},
		{"budget", "jobs:", "alerts: {budget: -1}\njobs:", "alerts.budget: must be between 1 and 1000 new messages per channel and interval (0 means 10), not -1"},
		{"api URL", "jobs:", "alerts: {alertmanager: {api: \"localhost:9093\"}}\njobs:", `alerts.alertmanager.api: "localhost:9093" is not an http(s) URL like https://host:port`},
	})
}

// The mail fallback's keys are refused with the exact key and why, and a
// whole block passes.
func TestInvalidAlertEmailKeysNameTheKey(t *testing.T) {
	const ok = "alerts:\n  email: {server: smtp.example.com, from: mcloud@example.com, username: \"${U}\", password: \"${P}\", team: [ops@example.com]}\njobs:"
	base, err := os.ReadFile("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse([]byte(strings.Replace(string(base), "jobs:", ok, 1))); err != nil {
		t.Fatalf("a complete alerts.email block: %v", err)
	}
	expectInvalid(t, []edit{
		{"no server", "jobs:", "alerts: {email: {from: mcloud@example.com}}\njobs:", "alerts.email.server: missing; the mail fallback needs the SMTP server's host name"},
		{"server with port", "jobs:", "alerts: {email: {server: \"smtp.example.com:587\"}}\njobs:", `alerts.email.server: "smtp.example.com:587" is not a host name; give the port as alerts.email.port`},
		{"port", "jobs:", "alerts: {email: {server: smtp.example.com, port: 70000}}\njobs:", "alerts.email.port: must be a TCP port (default 587), not 70000"},
		{"no from", "jobs:", "alerts: {email: {server: smtp.example.com}}\njobs:", "alerts.email.from: missing; the sender address"},
		{"bad from", "jobs:", "alerts: {email: {server: smtp.example.com, from: \"mcloud at example\"}}\njobs:", `alerts.email.from: "mcloud at example" is not an email address`},
		{"no password", "jobs:", "alerts: {email: {server: smtp.example.com}}\njobs:", "alerts.email.password: missing; mail is sent with SMTP AUTH only"},
		{"inline password", "jobs:", "alerts: {email: {server: smtp.example.com, password: hunter2}}\njobs:", "alerts.email.password"},
		{"after", "jobs:", "alerts: {email: {server: smtp.example.com, after: soon}}\njobs:", `alerts.email.after: not a duration like "24h" or "90m": "soon"`},
		{"nobody to mail", "jobs:", "alerts: {email: {server: smtp.example.com}}\njobs:", "alerts.email: no one to mail: list alerts.email.team or customers[].contacts"},
		{"team address", "jobs:", "alerts: {email: {server: smtp.example.com, team: [devops]}}\njobs:", `alerts.email.team[0]: "devops" is not an email address`},
		{"contact", "    team_id: T0CUSTY\n", "    team_id: T0CUSTY\n    contacts: [\"Dave <dave@y.example>\"]\n", `customers[1].contacts[0]: "Dave <dave@y.example>" is not an email address like ops@example.com`},
	})
}
