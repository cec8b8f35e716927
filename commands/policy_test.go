package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/integrations/store"
)

// A schedule starts a backup with no person: the same plan, request, job,
// audit and thread as a person's, with the schedule named as who asked,
// and no approval, since the reviewed configuration is its standing one.
func TestPolicyStartsBackupNamedInAuditAndThread(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{emu: awsemu.Options{SnapshotDelay: 50 * time.Millisecond, DBSnapshotDelay: 50 * time.Millisecond}})
	seedX(w)
	ctx := context.Background()
	sys := commands.System{Key: "customer-x/backup", Title: "nightly backup of customer-x"}
	fire := &store.Fire{Schedule: sys.Key, At: time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)}
	r, err := w.svc.StartByPolicy(ctx, sys, "backup", "customer-x", mcloud.Params{"now": "now"}, fire)
	if err != nil {
		t.Fatal(err)
	}
	if r.Job == nil || r.Request.Needed != 0 {
		t.Fatalf("a scheduled backup must start without approval: %+v", r)
	}
	j := w.waitJob(r.Job.ID)
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, w.thread())
	}
	x := w.cfg.Customer("customer-x")
	if j.ChannelID != x.Channel.ID || j.Requester != `schedule "nightly backup of customer-x"` {
		t.Errorf("job asked by %q in %s, want the schedule in customer-x's channel", j.Requester, j.ChannelID)
	}
	posts, err := w.db.PendingPosts(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var root, outcome bool
	for _, p := range posts {
		if p.ChannelID != x.Channel.ID || p.RequestID != r.Request.ID {
			continue
		}
		root = root || strings.Contains(p.Text, `schedule "nightly backup of customer-x"`)
		outcome = outcome || strings.Contains(p.Text, "succeeded")
	}
	if !root || !outcome {
		t.Errorf("thread of #%d in customer-x's channel should name the schedule and end with the outcome:\n%s", r.Request.ID, w.thread())
	}
	audit, err := w.db.AuditLog(ctx, "customer-x", time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]bool{}
	for _, e := range audit {
		if e.RequestID == r.Request.ID {
			if e.UserName != `schedule "nightly backup of customer-x"` && e.Event != mcloud.AuditStep && e.Event != mcloud.AuditStarted && e.Event != mcloud.AuditSucceeded {
				t.Errorf("audit %s names %q, not the schedule", e.Event, e.UserName)
			}
			events[e.Event] = true
		}
	}
	for _, ev := range []string{mcloud.AuditRequested, mcloud.AuditPlanned, mcloud.AuditQueued, mcloud.AuditSucceeded} {
		if !events[ev] {
			t.Errorf("no %s audit entry for the scheduled backup", ev)
		}
	}
	// The fire time was claimed with it: a second claim files nothing.
	_, err = w.svc.StartByPolicy(ctx, sys, "backup", "customer-x", mcloud.Params{"now": "now"}, &store.Fire{Schedule: sys.Key, At: fire.At})
	var dup *store.AlreadyFired
	if !errors.As(err, &dup) {
		t.Fatalf("second claim of one fire time: %v", err)
	}
	if jobs, _ := w.db.Jobs(ctx, "customer-x", false, 100); len(jobs) != 1 {
		t.Errorf("%d jobs after a repeated fire time, want 1", len(jobs))
	}
}

// Policy may not start work a person must ask for: refused, nothing filed,
// the refusal audited against the schedule.
func TestPolicyRefusesPatch(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	ctx := context.Background()
	sys := commands.System{Key: "customer-x/patch", Title: "weekly patch of customer-x"}
	_, err := w.svc.StartByPolicy(ctx, sys, "patch", "customer-x", mcloud.Params{"env": "prod"}, nil)
	if mcloud.ErrorCode(err) != mcloud.EUNAUTHORIZED || !strings.Contains(mcloud.ErrorMessage(err), `"patch" must be asked for by a person`) {
		t.Fatalf("policy starting patch: %v", err)
	}
	if reqs, _ := w.db.PendingRequests(ctx, "customer-x"); len(reqs) != 0 {
		t.Errorf("%d requests filed for a refused schedule", len(reqs))
	}
	audit, _ := w.db.AuditLog(ctx, "customer-x", time.Time{}, 10)
	if len(audit) != 1 || audit[0].Event != mcloud.AuditRefused || audit[0].UserName != `schedule "weekly patch of customer-x"` {
		t.Errorf("refusal audit: %+v", audit)
	}
}

// A scheduled job that fails is told in the team channel, since nobody who
// asked is watching its thread: customer, reason, job number.
func TestPolicyJobFailureToldToTeam(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	w.cfg.Customers[0].AWS.RoleARN = ""
	ctx := context.Background()
	sys := commands.System{Key: "customer-x/report", Title: "morning backup report of customer-x"}
	r, err := w.svc.StartByPolicy(ctx, sys, "report", "customer-x", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if j := w.waitJob(r.Job.ID); j.Status != mcloud.JobFailed {
		t.Fatalf("job %s", j.Status)
	}
	want := `report of customer-x failed (job #1, started by schedule "morning backup report of customer-x"): customer-x has no AWS account set up in mcloud`
	posts, _ := w.db.PendingPosts(ctx, 100)
	for _, p := range posts {
		if p.ChannelID == w.svc.ApprovalsChannel() && strings.Contains(p.Text, want) {
			return
		}
	}
	t.Fatalf("no failure notice in the team channel:\n%s", w.thread())
}
