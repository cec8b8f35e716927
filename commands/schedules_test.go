package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// The schedules verbs: the list shows spec, zone, next fire time (local
// and UTC) and pauses; run asks for the command it runs with its
// approvals; pause and resume are kept, audited and shown.
func TestSchedulesVerbs(t *testing.T) {
	now := time.Date(2026, 12, 2, 5, 30, 0, 0, time.UTC)
	w := newAWSWorld(t, awsWorldOptions{now: func() time.Time { return now }, emu: awsemu.Options{SnapshotDelay: 10 * time.Millisecond}})
	seedX(w)
	w.cfg.Customers[0].Schedules.Timezone = "Europe/London"
	alice := w.as("alice", "devops")
	ctx := context.Background()

	list := w.svc.Handle(ctx, alice, "/mcloud schedules customer-x")
	text := strings.Join(list.Lines, "\n")
	for _, want := range []string{
		"customer-x/backup — nightly backup of customer-x: 0 2 * * * (Europe/London); next 2026-12-03 02:00 GMT = 2026-12-03 02:00 UTC; never ran",
		"customer-x/report — morning backup report of customer-x: 0 7 * * * (Europe/London); next 2026-12-02 07:00 GMT = 2026-12-02 07:00 UTC; never ran",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("schedules list lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "customer-y") {
		t.Errorf("schedules customer-x lists another customer:\n%s", text)
	}

	// run: backup needs its one approver, as `backup customer-x now` does.
	r := w.svc.Handle(ctx, alice, "/mcloud schedules run customer-x backup")
	if r.Error != "" || r.Request == nil || r.Request.Verb != "backup" || r.Request.Needed != 1 || r.Job != nil {
		t.Fatalf("schedules run backup: %+v", r)
	}
	rep := w.svc.Handle(ctx, alice, "/mcloud schedules run customer-x report")
	if rep.Error != "" || rep.Job == nil || rep.Request.Verb != "report" {
		t.Fatalf("schedules run report: %+v", rep)
	}
	if j := w.waitJob(rep.Job.ID); j.Status != mcloud.JobSucceeded || !strings.Contains(w.thread(), "succeeded: Backups of customer-x") {
		t.Fatalf("report job %s: %s\n%s", j.Status, j.Error, w.thread())
	}
	if r := w.svc.Handle(ctx, alice, "/mcloud schedules run customer-x nightly"); r.Error != `customer-x has no schedule "nightly"; it has: backup, report.` {
		t.Errorf("unknown schedule: %q", r.Error)
	}
	if r := w.svc.Handle(ctx, w.as("carol", "customer-x-shared"), "/mcloud schedules pause customer-x backup x"); !strings.Contains(r.Error, "DevOps team only") {
		t.Errorf("customer pausing: %q", r.Error)
	}

	p := w.svc.Handle(ctx, alice, "/mcloud schedules pause customer-x backup storage migration")
	if p.Error != "" || !strings.Contains(p.Title, "Paused customer-x/backup") {
		t.Fatalf("pause: %+v", p)
	}
	list = w.svc.Handle(ctx, alice, "/mcloud schedules")
	if !strings.Contains(strings.Join(list.Lines, "\n"), "PAUSED by alice 0s ago: storage migration") {
		t.Errorf("pause not shown:\n%s", strings.Join(list.Lines, "\n"))
	}
	if st := w.svc.Handle(ctx, alice, "/mcloud status customer-x"); !strings.Contains(strings.Join(st.Lines, "\n"), "Schedule backup paused by alice 0s ago: storage migration") {
		t.Errorf("status does not show the pause:\n%s", strings.Join(st.Lines, "\n"))
	}
	if !strings.Contains(w.svc.Digest(ctx), "backup paused by alice 0s ago: storage migration") {
		t.Errorf("digest does not show the pause:\n%s", w.svc.Digest(ctx))
	}
	if r := w.svc.Handle(ctx, alice, "/mcloud schedules resume customer-x backup"); r.Error != "" || !strings.Contains(r.Title, "Resumed customer-x/backup") {
		t.Fatalf("resume: %+v", r)
	}
	if r := w.svc.Handle(ctx, alice, "/mcloud schedules resume customer-x backup"); r.Error != "customer-x/backup is not paused; nothing changed." {
		t.Errorf("second resume: %q", r.Error)
	}
	audit, _ := w.db.AuditLog(ctx, "customer-x", time.Time{}, 100)
	var paused, resumed bool
	for _, e := range audit {
		paused = paused || e.Event == mcloud.AuditPaused && e.UserName == "alice" && e.Detail == "customer-x/backup: storage migration"
		resumed = resumed || e.Event == mcloud.AuditResumedSchedule && e.UserName == "alice"
	}
	if !paused || !resumed {
		t.Errorf("pause audited %v, resume audited %v", paused, resumed)
	}
}
