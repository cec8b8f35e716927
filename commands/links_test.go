package commands_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// The links of a finished restore die with the session that signed them
// (about an hour) while the restored copies last days. "links N" gives
// the requester fresh, working links, without another approval and
// without restoring anything again, says when the copies themselves
// expire, and after that says how to restore again. Other customers
// cannot see the request.
func TestLinksReissuedWhileRestoredCopiesExist(t *testing.T) {
	clock := awsemu.NewManualClock(time.Now())
	// Approvals expire by the store's clock, so the service keeps real time.
	w := newAWSWorld(t, awsWorldOptions{session: 12 * time.Hour,
		emu: awsemu.Options{Clock: clock, RestoreDelay: time.Minute}})
	month := time.Now().UTC().Format("2006-01")
	var objs []awsemu.Object
	for i, class := range []string{"GLACIER", "GLACIER", "DEEP_ARCHIVE", "STANDARD"} {
		objs = append(objs, awsemu.Object{Key: "logs/prod/x-prod-apim-1/" + strings.ReplaceAll(month, "-", "/") + "/0" + string(rune('1'+i)) + "/wso2carbon.log.gz",
			StorageClass: class, Body: []byte("log line " + class + "\n")})
	}
	w.put("customer-x-logs", objs...)
	ctx := context.Background()
	carol := w.as("carol", "customer-x-shared")
	bob := w.as("bob", "devops")
	if r := w.do(carol, "/mcloud restore-logs customer-x "+month); r.Request == nil || r.Request.ID != 1 || r.Job != nil {
		t.Fatalf("carol's restore: %+v", r)
	}
	w.do(bob, "/mcloud approve 1")
	// The step's message, not the emulator's request count: a request is
	// counted as it arrives, and moving the clock before S3 took it would
	// leave that restore unfinished for good.
	w.waitFor("the restore requests", func() bool { return strings.Contains(w.thread(), "request restores:") })
	clock.Advance(2 * time.Minute)
	if j := w.waitJob(1); j.Status != mcloud.JobSucceeded {
		t.Fatalf("restore job %s: %s\n%s", j.Status, j.Error, w.thread())
	}

	if r := w.svc.Handle(ctx, carol, "/mcloud job 1"); !strings.Contains(strings.Join(r.Lines, "\n"), "/mcloud links 1") {
		t.Errorf("job 1 does not say how to get fresh links: %v", r.Lines)
	}
	r := w.svc.Handle(ctx, carol, "/mcloud links 1")
	if r.Error != "" {
		t.Fatalf("links 1: %s", r.Error)
	}
	text := r.Title + "\n" + strings.Join(r.Lines, "\n")
	if !r.Private || !strings.Contains(text, "Download links for 4 files of customer-x's log archives of "+month+" (#1)") {
		t.Fatalf("links 1 (private %v):\n%s", r.Private, text)
	}
	m := regexp.MustCompile(`The restored copies themselves expire (\d{4}-\d\d-\d\d \d\d:\d\d) UTC`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("links 1 does not say when the copies expire:\n%s", text)
	}
	copies, _ := time.Parse("2006-01-02 15:04", m[1])
	if d := copies.Sub(clock.Now()); d < 6*24*time.Hour || d > 8*24*time.Hour {
		t.Errorf("copies expire %s, %s from now; want the restore's 7 days", m[1], d)
	}
	urls := regexp.MustCompile(`http://\S+`).FindAllString(text, -1)
	if len(urls) != 4 {
		t.Fatalf("%d links, want 4:\n%s", len(urls), text)
	}
	for _, u := range urls {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("fresh link %s: %s", u, resp.Status)
		}
	}
	if n := w.emu.TotalRestoreCalls(); n != 3 {
		t.Errorf("links requested %d restores; it must not restore anything", n-3)
	}
	if pending, _ := w.db.PendingRequests(ctx, ""); len(pending) != 0 {
		t.Errorf("links filed a request: %+v", pending)
	}
	if r := w.svc.Handle(ctx, w.as("dave", "customer-y-shared"), "/mcloud links 1"); r.Error != "There is no job #1." {
		t.Errorf("dave asking for customer-x's links: %+v", r)
	}

	// Past the copies' lifetime only the file that was never archived
	// still has a link; the rest are named with how to restore them.
	clock.Advance(8 * 24 * time.Hour)
	// The emulator's clock jumped days past the real one, so the cached
	// session is stale by its clock (real time never jumps): the first
	// call finds that out and the next one assumes the role again.
	w.svc.Handle(ctx, carol, "/mcloud links 1")
	r = w.svc.Handle(ctx, carol, "/mcloud links 1")
	text = r.Title + "\n" + strings.Join(r.Lines, "\n") + r.Error
	if !strings.Contains(text, "Download links for 1 file of") || !strings.Contains(text, "3 files are no longer readable") ||
		!strings.Contains(text, "restore it again with /mcloud restore-logs customer-x "+month) {
		t.Fatalf("links 1 after the copies expired:\n%s", text)
	}
}

// An export's files stay until deleted: "links N" signs them again.
func TestLinksReissuedForAnExport(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{emu: awsemu.Options{ExportDelay: 100 * time.Millisecond}})
	seedXDatabase(w)
	carol := w.as("carol", "customer-x-shared")
	w.do(carol, "/mcloud db-export customer-x prod")
	if r := w.svc.Handle(context.Background(), carol, "/mcloud links 1"); !strings.Contains(r.Error, "waits for approval") {
		t.Fatalf("links of a pending export: %+v", r)
	}
	w.do(w.as("bob", "devops"), "/mcloud approve 1")
	if j := w.waitJob(1); j.Status != mcloud.JobSucceeded {
		t.Fatalf("export %s: %s", j.Status, j.Error)
	}
	r := w.svc.Handle(context.Background(), carol, "/mcloud links 1")
	text := r.Title + "\n" + strings.Join(r.Lines, "\n") + r.Error
	u := regexp.MustCompile(`http://\S+/customer-x-exports/rds-exports/prod/mcloud-job1-x-prod-db/\S+`).FindString(text)
	if u == "" || !r.Private || !strings.Contains(text, "The exported files stay in s3://customer-x-exports/rds-exports/prod/ until someone deletes them") {
		t.Fatalf("links 1 (private %v):\n%s", r.Private, text)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("fresh export link: %s", resp.Status)
	}
}
