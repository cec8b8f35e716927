package commands

import (
	"testing"

	"github.com/mcloud/mcloud"
)

func TestOutcome(t *testing.T) {
	req, job := &mcloud.Request{ID: 1}, &mcloud.Job{ID: 1}
	for _, tc := range []struct {
		name, verb string
		reply      Reply
		want       string
	}{
		{"a read", "status", Reply{Title: "customer-x"}, OutcomeAnswered},
		{"help", "help", Reply{Title: "Commands"}, OutcomeAnswered},
		{"dry run", "backup", Reply{Request: req, DryRun: true}, OutcomePlanned},
		{"filed, waits", "restore-logs", Reply{Request: req}, OutcomeWaitingApproval},
		{"filed, queued", "echo", Reply{Request: req, Job: job}, OutcomeQueued},
		{"approval starts the job", "approve", Reply{Request: req, Job: job}, OutcomeApproved},
		{"approval counted", "approve", Reply{Request: req}, OutcomeApprovalCounted},
		{"approved twice", "approve", Reply{Title: "You already approved", Private: true}, OutcomeAnswered},
		{"denied", "deny", Reply{Title: "denied", Request: req}, OutcomeDenied},
		{"refused", "backup", Reply{Error: "Only DevOps", Code: mcloud.EUNAUTHORIZED}, OutcomeRefused},
		{"bad argument", "backup", Reply{Error: "Expected now", Usage: "/mcloud backup", Code: mcloud.EINVALID}, OutcomeInvalid},
		{"unknown verb", "unknown", Reply{Error: `Unknown command "x".`, Usage: "/mcloud help"}, OutcomeInvalid},
		{"no such job", "job", Reply{Error: "No job #9.", Code: mcloud.ENOTFOUND}, OutcomeNotFound},
		{"already finished", "cancel", Reply{Error: "Job #1 already finished.", Code: mcloud.ECONFLICT}, OutcomeConflict},
		{"internal", "backup", Reply{Error: "Something went wrong", Code: mcloud.EINTERNAL}, OutcomeError},
		{"panic", "unknown", Reply{Error: "Something went wrong"}, OutcomeError},
	} {
		if got := Outcome(tc.verb, tc.reply); got != tc.want {
			t.Errorf("%s: Outcome(%q) = %q, want %q", tc.name, tc.verb, got, tc.want)
		}
	}
}
