package commands_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

func replyText(r commands.Reply) string {
	s := r.Error + "\n" + r.Title + "\n" + strings.Join(r.Lines, "\n")
	if r.Request != nil {
		p := r.Request.Plan
		s += "\n" + p.Summary + "\n" + strings.Join(p.Steps, "\n") + "\n" + strings.Join(p.Notes, "\n")
	}
	return s
}

// Issue 9 item 5: in a customer's channel the customer may be left out,
// for every verb that takes one.
func TestCustomerChannelDefaultsTheCustomer(t *testing.T) {
	svc, _, cfg := mustService(t)
	ctx := context.Background()
	carol := caller(t, cfg, "carol", "customer-x-shared")
	aliceInX := caller(t, cfg, "alice", "customer-x-shared")
	alice := caller(t, cfg, "alice", "devops")
	for _, tt := range []struct {
		who        mcloud.Caller
		line, want string
	}{
		{carol, "/mcloud status", "Status of customer-x"},
		{carol, "/mcloud status customer-x", "Status of customer-x"},
		{aliceInX, "/mcloud status", "Status of customer-x"},
		{carol, "/mcloud jobs", "Newest jobs of customer-x"},
	} {
		if r := svc.Handle(ctx, tt.who, tt.line); r.Error != "" || r.Title != tt.want {
			t.Errorf("%s as %s: title %q, error %q; want %q", tt.line, tt.who.Name, r.Title, r.Error, tt.want)
		}
	}
	if r := svc.Handle(ctx, carol, "/mcloud status prd"); r.Usage != "/mcloud status [customer] [env]" {
		t.Errorf("usage in customer-x's channel: %q", r.Usage)
	}
	r := svc.Handle(ctx, carol, "/mcloud status prod")
	if text := strings.Join(r.Lines, "\n"); r.Error != "" || !strings.Contains(text, "Environment prod") || strings.Contains(text, "Environment staging") {
		t.Errorf("status prod in customer-x's channel: %q\n%s", r.Error, text)
	}
	r = svc.Handle(ctx, carol, "/mcloud echo hello from carol --dry-run")
	if r.Error != "" || r.Request == nil || r.Request.Customer != "customer-x" || r.Request.Params["text"] != "hello from carol" {
		t.Errorf("echo without a customer: %+v", r)
	}
	if help := strings.Join(svc.Handle(ctx, carol, "/mcloud help").Lines, "\n"); !strings.Contains(help, "In this channel <customer> may be left out: /mcloud status means /mcloud status customer-x.") {
		t.Errorf("help in customer-x's channel does not say the customer may be left out:\n%s", help)
	}
	// A team channel has no customer of its own.
	if r := svc.Handle(ctx, alice, "/mcloud status"); r.Error != "Missing <customer>: which customer to show." {
		t.Errorf("status in the team channel: %q", r.Error)
	}
	// DevOps naming another customer in customer-x's channel are told
	// where to ask, as before.
	if r := svc.Handle(ctx, aliceInX, "/mcloud status customer-y"); r.Error != "This channel is customer-x's; ask about customer-y in its own channel or in a team channel." {
		t.Errorf("alice asking about customer-y in customer-x's channel: %q", r.Error)
	}
}

// Every verb that takes a customer, with it left out in the customer's
// channel, in the AWS world (backups, restores, db-export read AWS).
func TestCustomerChannelDefaultsTheCustomerForAWSVerbs(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{emu: awsemu.Options{RestoreDelay: time.Millisecond}})
	seedMonth(w, time.Now().UTC().Format("2006-01"), 3, []string{"GLACIER"})
	carol := w.as("carol", "customer-x-shared")
	if r := w.do(carol, "/mcloud backups"); !strings.HasPrefix(r.Title, "Backups of customer-x at ") {
		t.Errorf("backups: %q", r.Title)
	}
	month := time.Now().UTC().Format("2006-01")
	for _, line := range []string{"/mcloud restore-logs " + month + " --dry-run", "/mcloud restore-logs this-month --env prod --dry-run"} {
		if r := w.do(carol, line); r.Request == nil || r.Request.Customer != "customer-x" || !r.DryRun {
			t.Errorf("%s: %+v", line, r)
		}
	}
}

// Issue 9 item 6: case, dashes, prefixes, aliases and help.
func TestForgivingInput(t *testing.T) {
	svc, _, cfg := mustService(t)
	ctx := context.Background()
	alice := caller(t, cfg, "alice", "devops")
	for _, tt := range []struct{ line, title string }{
		{"/mcloud Status customer-x", "Status of customer-x"},
		{"/mcloud STATUS Customer-X PROD", "Status of customer-x"},
		{"/MCLOUD status customer-x", "Status of customer-x"},
		{"/mcloud sta customer-x", "Status of customer-x"},
		{"/mcloud --help", "mcloud commands you can run here:"},
		{"/mcloud -h", "mcloud commands you can run here:"},
		{"/mcloud ?", "mcloud commands you can run here:"},
		{"/mcloud —help", "mcloud commands you can run here:"},
		{"/mcloud HELP", "mcloud commands you can run here:"},
		{"/mcloud status ?", "/mcloud status <customer> [env]"},
		{"/mcloud status -h", "/mcloud status <customer> [env]"},
		{"/mcloud status customer-x --help", "/mcloud status <customer> [env]"},
		{"/mcloud help logs", "/mcloud restore-logs <customer> <month> [--env ENV] [--tier bulk|standard|expedited] [--dry-run]"},
		{"/mcloud help artifacts", "/mcloud restore-artifacts <customer> <month> [--env ENV] [--tier bulk|standard|expedited] [--dry-run]"},
		{"/mcloud help export", "/mcloud db-export <customer> <env> [--dry-run]"},
		{"/mcloud help Restore-Logs", "/mcloud restore-logs <customer> <month> [--env ENV] [--tier bulk|standard|expedited] [--dry-run]"},
		{"/mcloud audit customer-x --SINCE 2026-01-01", "Audit log of customer-x (0 entries)"},
	} {
		if r := svc.Handle(ctx, alice, tt.line); r.Error != "" || r.Title != tt.title {
			t.Errorf("%s: title %q, error %q; want title %q", tt.line, r.Title, r.Error, tt.title)
		}
	}
	for _, tt := range []struct{ line, want string }{
		{"/mcloud resto customer-x 2024-03", `Unknown command "resto"; did you mean "restore-artifacts" or "restore-logs"?`},
		{"/mcloud restore customer-x 2024-03", `Unknown command "restore"; did you mean "restore-artifacts" or "restore-logs"?`},
		{"/mcloud Stauts customer-x", `Unknown command "Stauts"; did you mean "status"?`},
		{"/mcloud bakcups customer-x", `Unknown command "bakcups"; did you mean "backups"?`},
		{"/mcloud jo", `Unknown command "jo"; did you mean "job" or "jobs"?`},
		// One letter never starts anything, however unambiguous.
		{"/mcloud c 1", `Unknown command "c"; did you mean "cancel"?`},
		{"/mcloud frobnicate", `Unknown command "frobnicate".`},
		{"/mcloud help resto", `There is no command "resto"; did you mean "restore-artifacts" or "restore-logs"?`},
		{"/mcloud echo customer-x hi --steps Many", `--steps must be a whole number from 1 to 20, not "Many".`},
		{"/mcloud echo customer-x hi -x", `"-x" is not an option; options start with two dashes, like --x.`},
		{"/mcloud status customer-x -n", `"-n" is not an option; options start with two dashes, like --n.`},
	} {
		if r := svc.Handle(ctx, alice, tt.line); r.Error != tt.want {
			t.Errorf("%s:\n error %q\n want  %q", tt.line, r.Error, tt.want)
		}
	}
	// Dry runs however the phone spelled the option.
	for _, line := range []string{
		"/mcloud echo customer-x hi --dry-run", "/mcloud echo customer-x hi —dry-run", "/mcloud echo customer-x hi –dry-run",
		"/mcloud echo customer-x hi --DRY-RUN", "/mcloud echo customer-x hi -n", "/mcloud Echo Customer-X hi -dry-run",
	} {
		r := svc.Handle(ctx, alice, line)
		if r.Error != "" || !r.DryRun || r.Request == nil || r.Request.Customer != "customer-x" {
			t.Errorf("%s: want a dry run for customer-x, got %+v", line, r)
		}
	}
	// A pasted wall of text is not echoed back.
	long := "/mcloud " + strings.Repeat("x", 3000)
	if r := svc.Handle(ctx, alice, long); len(r.Error) > 100 || !strings.Contains(r.Error, "…") {
		t.Errorf("unknown 3,000-character command: %d characters of error: %.120s", len(r.Error), r.Error)
	}
	// Help lists the aliases.
	if list := strings.Join(svc.Handle(ctx, alice, "/mcloud help").Lines, "\n"); !strings.Contains(list, "(also: logs)") || !strings.Contains(list, "(also: export)") {
		t.Errorf("help does not list the aliases:\n%s", list)
	}
}

// Enumerated values and months in any case, through the real restore.
func TestForgivingRestoreArguments(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	seedMonth(w, time.Now().UTC().AddDate(0, -1, 0).Format("2006-01"), 3, []string{"GLACIER"})
	r := w.do(w.as("alice", "devops"), "/mcloud RESTORE-LOGS Customer-X LAST-MONTH --tier Bulk --env PROD --dry-run")
	if !r.DryRun || r.Request == nil || r.Request.Customer != "customer-x" || r.Request.Env != "prod" ||
		r.Request.Params["tier"] != "bulk" || r.Request.Params["env"] != "prod" {
		t.Fatalf("plan: %+v", r.Request)
	}
	if !strings.Contains(r.Request.Plan.Summary, "(prod)") || !strings.Contains(r.Request.Plan.Summary, "Bulk tier") {
		t.Fatalf("plan summary: %q", r.Request.Plan.Summary)
	}
	if r := w.do(w.as("alice", "devops"), "/mcloud logs customer-x last-month --dry-run"); r.Request == nil || r.Request.Verb != "restore-logs" {
		t.Fatalf("logs alias: %+v", r)
	}
}

var rfc3339 = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d`)

// Issue 9 item 7: counts read as English, and times are written one way.
func TestCountsAndTimesReadRight(t *testing.T) {
	svc, _, cfg := mustService(t)
	ctx := context.Background()
	carol := caller(t, cfg, "carol", "customer-x-shared")
	alice := caller(t, cfg, "alice", "devops")
	var all []string
	for _, tt := range []struct {
		who        mcloud.Caller
		line, want string
	}{
		{carol, "/mcloud help echo", "When you ask: the plan is shown and the job waits for 1 approver other than you."},
		{carol, "/mcloud status customer-x", "Environment prod: 2 hosts"},
		{carol, "/mcloud echo customer-x hi --steps 1", `Repeat "hi" in 1 step for customer-x`},
		{alice, "/mcloud audit customer-x", "Audit log of customer-x (2 entries)"},
	} {
		text := replyText(svc.Handle(ctx, tt.who, tt.line))
		all = append(all, text)
		if !strings.Contains(text, tt.want) {
			t.Errorf("%s: want %q in:\n%s", tt.line, tt.want, text)
		}
	}
	audit := svc.Handle(ctx, alice, "/mcloud audit customer-x")
	if len(audit.Lines) == 0 || !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d UTC  `).MatchString(audit.Lines[0]) {
		t.Errorf("audit line time: %q", audit.Lines)
	}
	for _, text := range all {
		if strings.Contains(text, "(s)") || rfc3339.MatchString(text) {
			t.Errorf("a '(s)' plural or an RFC 3339 time in:\n%s", text)
		}
	}
}

// Issue 9 item 7: a customer's channel shows the work asked in it, not
// the team's own work on that customer; status, jobs, job, approve and
// deny agree.
func TestCustomerChannelShowsWorkAskedThere(t *testing.T) {
	svc, _, cfg := mustService(t)
	ctx := context.Background()
	alice := caller(t, cfg, "alice", "devops")
	bob := caller(t, cfg, "bob", "devops")
	carol := caller(t, cfg, "carol", "customer-x-shared")
	bobInX := caller(t, cfg, "bob", "customer-x-shared")
	// #1: the team's, approved: job #1 queued.
	if r := svc.Handle(ctx, alice, "/mcloud echo customer-x team maintenance"); r.Request == nil {
		t.Fatalf("alice: %+v", r)
	}
	if r := svc.Handle(ctx, bob, "/mcloud approve 1"); r.Job == nil {
		t.Fatalf("bob: %+v", r)
	}
	// #2: carol's, waiting. #3: the team's, waiting.
	if r := svc.Handle(ctx, carol, "/mcloud echo please"); r.Request == nil || r.Request.ID != 2 {
		t.Fatalf("carol: %+v", r)
	}
	if r := svc.Handle(ctx, alice, "/mcloud echo customer-x more team work"); r.Request == nil || r.Request.ID != 3 {
		t.Fatalf("alice: %+v", r)
	}
	status := replyText(svc.Handle(ctx, carol, "/mcloud status"))
	if !strings.Contains(status, "Requests waiting for approval: 1\n  #2 echo by carol") || !strings.Contains(status, "Jobs queued or running: 0") ||
		strings.Contains(status, "#3") || strings.Contains(status, "Job #1") {
		t.Errorf("carol's status shows the team's work:\n%s", status)
	}
	if jobs := replyText(svc.Handle(ctx, carol, "/mcloud jobs")); strings.Contains(jobs, "Job #1") {
		t.Errorf("carol's jobs list the team's job:\n%s", jobs)
	}
	if r := svc.Handle(ctx, carol, "/mcloud job 1"); r.Error != "There is no job #1." {
		t.Errorf("carol reading the team's job: %+v", r)
	}
	if r := svc.Handle(ctx, bobInX, "/mcloud approve 3"); r.Error != "There is no request #3." {
		t.Errorf("approving the team's request from customer-x's channel: %+v", r)
	}
	// The team channel sees everything.
	team := replyText(svc.Handle(ctx, alice, "/mcloud status customer-x"))
	if !strings.Contains(team, "Requests waiting for approval: 2") || !strings.Contains(team, "Jobs queued or running: 1") {
		t.Errorf("the team's status of customer-x:\n%s", team)
	}
}

// A lone em dash in prose stays prose; only run reads it as --.
func TestLoneDashInTextIsKept(t *testing.T) {
	svc, _, cfg := mustService(t)
	r := svc.Handle(context.Background(), caller(t, cfg, "alice", "devops"), "/mcloud echo customer-x not now — next week --dry-run")
	if r.Error != "" || r.Request == nil || r.Request.Params["text"] != "not now — next week" {
		t.Fatalf("echo with an em dash: %+v", r)
	}
}
