package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

type plainRender struct{}

func (plainRender) Problem(p mcloud.Problem) string {
	s := fmt.Sprintf("problem %s %s x%d", p.Name, p.Status, p.Count)
	if p.AckedBy != "" {
		s += " acked by " + p.AckedBy
	}
	return s
}
func (plainRender) Change(p mcloud.Problem, a mcloud.Alert) string {
	return "change " + string(a.Status)
}
func (plainRender) Summary(from time.Time, ps []mcloud.Problem) string {
	n := 0
	for _, p := range ps {
		n += p.Count
	}
	return fmt.Sprintf("summary %d problems %d alerts", len(ps), n)
}

// TestRecordAlertOneMessagePerProblem: the first alert of a problem
// queues its message, repeats update it, a change updates it and replies
// in its thread, all under the problem's key, in each channel routed.
func TestRecordAlertOneMessagePerProblem(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := store.AlertDelivery{Channels: []string{"C0CUSTX", "C0DEVOPS"}, Budget: 10, Interval: time.Minute, Render: plainRender{}}
		a := mcloud.Alert{Source: "alertmanager", Key: "fp1", Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical, Name: "DiskFull", Host: "h1"}
		for _, st := range []mcloud.AlertStatus{mcloud.AlertFiring, mcloud.AlertFiring, mcloud.AlertResolved} {
			a.Status = st
			if _, err := db.RecordAlert(ctx, a, "customer-x", d); err != nil {
				t.Fatal(err)
			}
		}
		items, err := db.OutboxItems(ctx, "C0CUSTX")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range items {
			got = append(got, fmt.Sprintf("%s %d %s", it.Kind, it.RequestID, it.Text))
		}
		p, _ := db.OpenProblems(ctx, "")
		if len(p) != 0 {
			t.Errorf("open problems after resolution: %+v", p)
		}
		want := []string{"plan -1 problem DiskFull firing x1", "update -1 problem DiskFull firing x2",
			"update -1 problem DiskFull resolved x3", "post -1 change resolved"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("customer-x outbox:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// The poster sends the newest update of a problem first: it shows
		// the newest state and answers the older ones.
		if err := db.Delivered(ctx, items[0], "1.0"); err != nil {
			t.Fatal(err)
		}
		next, err := db.NextOutbox(ctx, "C0CUSTX")
		if err != nil || next == nil || next.Text != "problem DiskFull resolved x3" {
			t.Errorf("next to send: %+v, %v; want the newest update", next, err)
		}
	})
}

// TestRecordAlertStormFolds: beyond a channel's budget, new problems are
// folded into one summary per channel and interval, updated in place, and
// every alert is still counted.
func TestRecordAlertStormFolds(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := store.AlertDelivery{Channels: []string{"C0CUSTX"}, Budget: 2, Interval: time.Hour, Render: plainRender{}}
		at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
		for i := range 50 {
			a := mcloud.Alert{Source: "icinga2", Key: fmt.Sprintf("h!svc%d", i%5), Status: mcloud.AlertFiring, Name: fmt.Sprintf("svc%d", i%5), At: at}
			if _, err := db.RecordAlert(ctx, a, "customer-x", d); err != nil {
				t.Fatal(err)
			}
		}
		items, _ := db.OutboxItems(ctx, "C0CUSTX")
		plans := map[int64]string{}
		last := map[int64]string{}
		for _, it := range items {
			if it.Kind == store.KindPlan {
				plans[it.RequestID] = it.Text
			}
			last[it.RequestID] = it.Text
		}
		if len(plans) != 3 {
			t.Fatalf("%d messages created, want 2 problems and 1 summary: %v", len(plans), plans)
		}
		var summary string
		for _, txt := range last {
			if strings.HasPrefix(txt, "summary") {
				summary = txt
			}
		}
		if summary != "summary 3 problems 30 alerts" {
			t.Errorf("summary is %q, want 3 problems, 30 alerts", summary)
		}
		n, err := db.AlertCounted(ctx)
		if err != nil || n != 50 {
			t.Errorf("counted %d alerts (%v), want 50", n, err)
		}
	})
}

func (plainRender) Expected(p mcloud.Problem, a mcloud.Alert, w mcloud.HostWork) string {
	return fmt.Sprintf("expected: %s #%d is changing %s: %s %s", w.Verb, w.JobID, w.Host, p.Name, a.Status)
}

// TestRecordAlertExpectedUnderWork: while a running job is changing a
// host, a new problem's alerts for it go to the job's thread only, are
// counted and listed, and the job's own downtime notes are counted
// silently; a problem shown before the work keeps its message; once the
// job is done with the host, or the job has ended, alerts are problems
// as any again.
func TestRecordAlertExpectedUnderWork(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := store.AlertDelivery{Channels: []string{"C0CUSTX", "C0DEVOPS"}, Budget: 10, Interval: time.Minute, Render: plainRender{}}
		record := func(key, name string, st mcloud.AlertStatus) store.AlertOutcome {
			t.Helper()
			a := mcloud.Alert{Source: "icinga2", Key: "app-1!" + key, Status: st, Severity: mcloud.SeverityCritical, Name: name, Host: "app-1.prod.example"}
			out, err := db.RecordAlert(ctx, a, "customer-x", d)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		texts := func(ch string) []string {
			t.Helper()
			items, err := db.OutboxItems(ctx, ch)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, fmt.Sprintf("%s %d %s", it.Kind, it.RequestID, it.Text))
			}
			return got
		}
		// A problem shown before the work starts.
		record("load", "load", mcloud.AlertFiring)

		job, err := db.Submit(ctx, newRequest(db, 0, alice), (&counter{}).enqueue)
		if err != nil {
			t.Fatal(err)
		}
		j, _, err := db.StartJob(ctx, job.ID, db.Now().Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.StartWork(ctx, mcloud.HostWork{JobID: j.ID, Customer: "customer-x", Host: "app-1", Address: "10.0.1.11", Until: db.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		// Another customer's alert on a same-named host is not pulled in.
		if out, err := db.RecordAlert(ctx, mcloud.Alert{Source: "icinga2", Key: "app-1!y", Status: mcloud.AlertFiring, Name: "y", Host: "app-1"}, "customer-y",
			store.AlertDelivery{Channels: []string{"C0CUSTY"}, Budget: 10, Interval: time.Minute, Render: plainRender{}}); err != nil || out.Expected.Expected() {
			t.Fatalf("customer-y's alert: %+v, %v", out.Expected, err)
		}

		if out := record("disk", "disk", mcloud.AlertDowntimeStart); !out.Expected.Expected() || out.Expected.Thread {
			t.Errorf("the job's own downtime note: %+v", out.Expected)
		}
		record("http", "http", mcloud.AlertDowntimeStart) // a service that never fails
		out := record("disk", "disk", mcloud.AlertFiring)
		if out.Expected.Work.JobID != j.ID || !out.Expected.Thread || out.Expected.Channels || len(out.Actions) != 0 || out.Problem.JobID != j.ID {
			t.Errorf("firing under work: %+v", out)
		}
		record("disk", "disk", mcloud.AlertResolved)
		record("load", "load", mcloud.AlertResolved)

		// The job was asked for in the team channel: its thread is there.
		thread := fmt.Sprintf("post %d expected: echo #%d is changing app-1: ", j.RequestID, j.ID)
		want := []string{"plan -1 problem load firing x1", "update -1 problem load resolved x2", "post -1 change resolved"}
		if got := texts("C0CUSTX"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("customer-x's channel:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		want = []string{"plan -1 problem load firing x1", thread + "disk firing", thread + "disk resolved", thread + "load resolved",
			"update -1 problem load resolved x2", "post -1 change resolved"}
		if got := texts("C0DEVOPS"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("the team channel, with the job's thread:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if n, _ := db.AlertCounted(ctx); n != 7 {
			t.Errorf("counted %d alerts, want 7 (every one, expected or not)", n)
		}

		// Done with the host: a new alert is a problem in the channel again.
		if err := db.EndWork(ctx, j.ID, "app-1"); err != nil {
			t.Fatal(err)
		}
		if out := record("mem", "mem", mcloud.AlertFiring); out.Expected.Expected() || out.Actions["C0CUSTX"] != mcloud.AlertNew || out.Problem.JobID != 0 {
			t.Errorf("after the work: %+v", out)
		}
		ps, _ := db.OpenProblems(ctx, "customer-x")
		if len(ps) != 1 || ps[0].Name != "mem" {
			t.Errorf("open problems: %+v (the downtime note must not open one)", ps)
		}

		// Work the job never ended counts no more once the job has.
		if err := db.StartWork(ctx, mcloud.HostWork{JobID: j.ID, Customer: "customer-x", Host: "app-1"}); err != nil {
			t.Fatal(err)
		}
		if out := record("cpu", "cpu", mcloud.AlertFiring); !out.Expected.Expected() {
			t.Fatalf("work again: %+v", out.Expected)
		}
		if _, err := db.FinishJob(ctx, j.ID, j.Attempt, mcloud.JobFailed, "boom", "boom", mcloud.Post{ChannelID: "C0DEVOPS", Text: "failed"}); err != nil {
			t.Fatal(err)
		}
		if out := record("swap", "swap", mcloud.AlertFiring); out.Expected.Expected() || out.Actions["C0CUSTX"] != mcloud.AlertNew {
			t.Errorf("after the job ended: %+v", out)
		}
	})
}
