package commands_test

import (
	"context"
	"slices"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
)

func TestOutcome(t *testing.T) {
	req, job := &mcloud.Request{ID: 1}, &mcloud.Job{ID: 1}
	for _, tc := range []struct {
		name, verb string
		reply      commands.Reply
		want       string
	}{
		{"a read", "status", commands.Reply{Title: "customer-x"}, commands.OutcomeAnswered},
		{"help", "help", commands.Reply{Title: "Commands"}, commands.OutcomeAnswered},
		{"dry run", "backup", commands.Reply{Request: req, DryRun: true}, commands.OutcomePlanned},
		{"filed, waits", "restore-logs", commands.Reply{Request: req}, commands.OutcomeWaitingApproval},
		{"filed, queued", "echo", commands.Reply{Request: req, Job: job}, commands.OutcomeQueued},
		{"approval starts the job", "approve", commands.Reply{Request: req, Job: job}, commands.OutcomeApproved},
		{"approval counted", "approve", commands.Reply{Request: req}, commands.OutcomeApprovalCounted},
		{"approved twice", "approve", commands.Reply{Title: "You already approved", Private: true}, commands.OutcomeAnswered},
		{"denied", "deny", commands.Reply{Title: "denied", Request: req}, commands.OutcomeDenied},
		{"refused", "backup", commands.Reply{Error: "Only DevOps", Code: mcloud.EUNAUTHORIZED}, commands.OutcomeRefused},
		{"bad argument", "backup", commands.Reply{Error: "Expected now", Usage: "/mcloud backup", Code: mcloud.EINVALID}, commands.OutcomeInvalid},
		{"unknown verb", "unknown", commands.Reply{Error: `Unknown command "x".`, Usage: "/mcloud help"}, commands.OutcomeInvalid},
		{"no such job", "job", commands.Reply{Error: "No job #9.", Code: mcloud.ENOTFOUND}, commands.OutcomeNotFound},
		{"already finished", "cancel", commands.Reply{Error: "Job #1 already finished.", Code: mcloud.ECONFLICT}, commands.OutcomeConflict},
		{"internal", "backup", commands.Reply{Error: "Something went wrong", Code: mcloud.EINTERNAL}, commands.OutcomeError},
		{"panic", "unknown", commands.Reply{Error: "Something went wrong"}, commands.OutcomeError},
	} {
		if got := commands.Outcome(tc.verb, tc.reply); got != tc.want {
			t.Errorf("%s: commands.Outcome(%q) = %q, want %q", tc.name, tc.verb, got, tc.want)
		}
	}
}

// TestHandleObservesEachCommand: Service.Observe hears every command once
// with its verb (never the typed word when it is no verb) and the outcome
// the user saw.
func TestHandleObservesEachCommand(t *testing.T) {
	svc, _, cfg := mustService(t)
	var heard []string
	svc.Observe = func(verb, outcome string) { heard = append(heard, verb+" "+outcome) }
	ctx := context.Background()
	alice := caller(t, cfg, "alice", "devops")
	carol := caller(t, cfg, "carol", "customer-x-shared")
	svc.Handle(ctx, carol, "/mcloud audit customer-x")
	svc.Handle(ctx, alice, "/mcloud frobnicate-with-a-secret")
	svc.Handle(ctx, alice, "/mcloud status customer-z")
	svc.Handle(ctx, alice, "/mcloud job 999")
	svc.Handle(ctx, alice, "/mcloud echo customer-x hi --dry-run")
	svc.Handle(ctx, carol, "/mcloud echo customer-x hi")
	svc.Handle(ctx, alice, "/mcloud help")
	want := []string{"audit refused", "unknown invalid", "status invalid", "job not_found", "echo planned", "echo waiting_approval", "help answered"}
	if !slices.Equal(heard, want) {
		t.Errorf("observed\n  %q\nwant\n  %q", heard, want)
	}
}
