package config_test

import "testing"

// The alerts keys are refused with the exact key and why.
func TestInvalidAlertKeysNameTheKey(t *testing.T) {
	expectInvalid(t, []edit{
		{"severity typo", set("alerts.team", []string{"critcal"}), `alerts.team[0]: "critcal" is not a severity; use critical, warning, info`},
		{"topic not an ARN", set("alerts.sns.topics", []string{"alarms"}), `alerts.sns.topics[0]: "alarms" is not an SNS topic ARN like arn:aws:sns:eu-west-1:111111111111:alarms`},
		{"budget", set("alerts.budget", -1), "alerts.budget: must be between 1 and 1000 new messages per channel and interval (0 means 10), not -1"},
		{"api URL", set("alerts.alertmanager.api", "localhost:9093"), `alerts.alertmanager.api: "localhost:9093" is not an http(s) URL like https://host:port`},
	})
}
