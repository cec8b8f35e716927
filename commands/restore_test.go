package commands_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// julyNow is the service's "now" in the restore tests: retention 3 allows
// 2024-04 to 2024-07.
func julyNow() time.Time { return time.Date(2024, 7, 15, 10, 0, 0, 0, time.UTC) }

// seedMonth seeds n log files of month spread over two environments and
// several hosts, cycling through storage classes and restore states, and
// returns them.
func seedMonth(w *awsWorld, month string, n int, classes []string) []awsemu.Object {
	w.t.Helper()
	var objs []awsemu.Object
	envHosts := map[string][]string{"prod": {"x-prod-apim-1", "x-prod-apim-2"}, "staging": {"x-stg-apim-1"}}
	envs := []string{"prod", "staging"}
	for i := range n {
		env := envs[i%2]
		hosts := envHosts[env]
		host := hosts[(i/2)%len(hosts)]
		day := 1 + i%28
		key := fmt.Sprintf("logs/%s/%s/%s/%02d/%s-%05d.log.gz", env, host, strings.ReplaceAll(month, "-", "/"), day, host, i)
		objs = append(objs, awsemu.Object{Key: key, StorageClass: classes[i%len(classes)], Size: int64(1+i%7) << 20})
	}
	w.put("customer-x-logs", objs...)
	return objs
}

// waitPolls waits until the restore wait has listed the month several
// more times (a round lists each source's month), so that a whole poll
// round began and ended after the call.
func (w *awsWorld) waitPolls(what string) {
	w.t.Helper()
	lists := w.emu.Calls("s3:ListObjectsV2")
	w.waitFor(what, func() bool { return w.emu.Calls("s3:ListObjectsV2") >= lists+10 })
}

func manifestRows(t *testing.T, w *awsWorld, thread string) [][]string {
	t.Helper()
	m := regexp.MustCompile(`http://\S+/customer-x-exports/(mcloud/restores/\S+\.csv)\?\S+`).FindStringSubmatch(thread)
	if m == nil {
		t.Fatalf("no manifest link in the thread:\n%s", thread)
	}
	resp, err := http.Get(m[0])
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("manifest link: %s\n%s", resp.Status, body)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], ","); got != "key,size_bytes,storage_class,status,url" {
		t.Fatalf("manifest header = %q", got)
	}
	return rows[1:]
}

// A month of 2,000 log files in mixed storage classes: only the archived
// ones without a restore are restored, each exactly once; other months
// are untouched; every file gets a working link in the manifest.
func TestRestoreLogsRestoresOnlyArchivedObjects(t *testing.T) {
	// The emulator runs on a manual clock so the files seeded as "being
	// restored" stay so until the test moves time on; sessions last long
	// enough not to expire when it does.
	clock := awsemu.NewManualClock(time.Now())
	w := newAWSWorld(t, awsWorldOptions{now: julyNow, session: 12 * time.Hour,
		emu: awsemu.Options{Clock: clock, RestoreDelay: 10 * time.Minute, PageLimit: 250}})
	classes := []string{"STANDARD", "GLACIER", "DEEP_ARCHIVE", "STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", "INTELLIGENT_TIERING"}
	objs := seedMonth(w, "2024-05", 2000, classes)
	// A few archived files already restored or being restored (an earlier
	// request), and the neighbouring months, which must not be touched.
	var earlier []awsemu.Object
	for i := range 10 {
		o := objs[i*8+1] // GLACIER
		o.Restore = awsemu.RestoreOngoing
		if i%2 == 0 {
			o.Restore = awsemu.Restored
		}
		earlier = append(earlier, o)
	}
	w.put("customer-x-logs", earlier...)
	others := seedMonthKeys(w, "2024-04", 40)
	others = append(others, seedMonthKeys(w, "2024-06", 40)...)

	alice := w.as("alice", "devops")
	r := w.do(alice, "/mcloud restore-logs customer-x 2024-05 --tier bulk")
	if r.Job == nil {
		t.Fatalf("a DevOps restore needs no approval and runs at once; got %+v", r)
	}
	plan := r.Request.Plan
	for _, want := range []string{"2,000 files", "Bulk tier"} {
		if !strings.Contains(plan.Summary, want) {
			t.Errorf("plan summary %q lacks %q", plan.Summary, want)
		}
	}
	if !strings.Contains(plan.Steps[0], "request restores of 990 archived files (500 DEEP_ARCHIVE, 490 GLACIER;") {
		t.Errorf("plan step 1 = %q", plan.Steps[0])
	}
	if !strings.Contains(strings.Join(plan.Notes, "\n"), "10 files are already restored or being restored and not requested again.") {
		t.Errorf("plan notes lack the already-restored files: %v", plan.Notes)
	}
	w.waitFor("the restore requests", func() bool { return strings.Contains(w.thread(), "request restores:") })
	clock.Advance(15 * time.Minute)
	j := w.waitJob(r.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, thread)
	}

	wantRestored := map[string]bool{}
	for i, o := range objs {
		if (o.StorageClass == "GLACIER" || o.StorageClass == "DEEP_ARCHIVE") && !(i%8 == 1 && i < 80) {
			wantRestored[o.Key] = true
		}
	}
	if len(wantRestored) != 990 {
		t.Fatalf("test seeds %d files to restore, want 990", len(wantRestored))
	}
	for _, o := range objs {
		want := 0
		if wantRestored[o.Key] {
			want = 1
		}
		if got := w.emu.RestoreCalls("customer-x-logs", o.Key); got != want {
			t.Fatalf("%s (%s): %d restore requests, want %d", o.Key, o.StorageClass, got, want)
		}
	}
	for _, k := range others {
		if n := w.emu.RestoreCalls("customer-x-logs", k); n != 0 {
			t.Fatalf("%s from another month got %d restore requests", k, n)
		}
	}
	if got := w.emu.TotalRestoreCalls(); got != 990 {
		t.Fatalf("%d restore requests in all, want 990", got)
	}
	for _, want := range []string{
		"request restores: requested 990 restores (Bulk tier, copies kept 7 days); 5 already in progress; 5 already restored",
		"wait for restores: 1,000 restored copies ready",
		"Download links for 2,000 files of customer-x's log archives of 2024-05 are in one manifest",
	} {
		if !strings.Contains(thread, want) {
			t.Errorf("thread lacks %q:\n%s", want, thread)
		}
	}
	rows := manifestRows(t, w, thread)
	if len(rows) != 2000 {
		t.Fatalf("manifest has %d rows, want 2000", len(rows))
	}
	for _, row := range rows {
		if row[3] != "ready" || !strings.HasPrefix(row[4], "http://") {
			t.Fatalf("manifest row %v: want ready with a link", row)
		}
	}
	// A restored DEEP_ARCHIVE file downloads through its link.
	for _, row := range rows {
		if row[2] == "DEEP_ARCHIVE" {
			resp, err := http.Get(row[4])
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || fmt.Sprint(n) != row[1] {
				t.Fatalf("GET %s: %s, %d bytes; want 200 and %s bytes", row[0], resp.Status, n, row[1])
			}
			break
		}
	}
	if !strings.Contains(thread, "2,000 of 2,000 files downloadable (1,000 restored, 1,000 readable already)") {
		t.Errorf("summary wrong:\n%s", thread)
	}
}

func seedMonthKeys(w *awsWorld, month string, n int) []string {
	var keys []string
	for _, o := range seedMonth(w, month, n, []string{"GLACIER", "DEEP_ARCHIVE"}) {
		keys = append(keys, o.Key)
	}
	return keys
}

// A customer user's months outside the self-service window, months in
// the future and malformed months are refused with one sentence and the
// usage line, before AWS is asked.
func TestRestoreLogsRefusesMonthsOutsideTheWindow(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{now: julyNow})
	// Archives exist for the refused months: the customer is refused by
	// the window, not by an empty month.
	seedMonth(w, "2024-03", 4, []string{"DEEP_ARCHIVE"})
	seedMonth(w, "2023-07", 4, []string{"DEEP_ARCHIVE"})
	carol := w.as("carol", "customer-x-shared")
	alice := w.as("alice", "devops")
	for _, tt := range []struct {
		who        mcloud.Caller
		line, want string
	}{
		{carol, "/mcloud restore-logs customer-x 2024-03", "2024-03 is outside customer-x's retention window: you can restore 2024-04 to 2024-07 (this month and the 3 before it)."},
		{carol, "/mcloud restore-logs customer-x 2023-07", "2023-07 is outside customer-x's retention window: you can restore 2024-04 to 2024-07 (this month and the 3 before it)."},
		{carol, "/mcloud restore-artifacts customer-x 2024-03", "2024-03 is outside customer-x's retention window: you can restore 2024-04 to 2024-07 (this month and the 3 before it)."},
		{carol, "/mcloud restore-logs customer-x 2024-08", "2024-08 is in the future; the newest month with archives is 2024-07."},
		{alice, "/mcloud restore-logs customer-x 2024-08", "2024-08 is in the future; the newest month with archives is 2024-07."},
		{alice, "/mcloud restore-logs customer-x 2024-13", `"2024-13" is not a month: the month must be 01 to 12.`},
		{alice, "/mcloud restore-logs customer-x 2024-00", `"2024-00" is not a month: the month must be 01 to 12.`},
		{alice, "/mcloud restore-logs customer-x march", `"march" is not a month: write it as YYYY-MM, like 2024-03 (or this-month, last-month).`},
		{alice, "/mcloud restore-logs customer-x 2024-05 --tier fast", `--tier must be one of bulk, standard, expedited, not "fast".`},
		{alice, "/mcloud restore-logs customer-x 2024-05 --env prd", `Unknown environment "prd" for customer-x; it has: prod, staging.`},
		{alice, "/mcloud restore-logs customer-x", "Missing <month>: which month, as YYYY-MM (or this-month, last-month)."},
	} {
		r := w.svc.Handle(context.Background(), tt.who, tt.line)
		if r.Error != tt.want {
			t.Errorf("%s:\n error %q\n want  %q", tt.line, r.Error, tt.want)
		}
		if !strings.HasPrefix(r.Usage, "/mcloud restore-") || r.Request != nil {
			t.Errorf("%s: usage %q, request %v; want the usage line and no request", tt.line, r.Usage, r.Request)
		}
	}
	if n := w.emu.Calls("s3:ListObjectsV2"); n != 0 {
		t.Fatalf("refused months still listed the bucket %d times", n)
	}
	if jobs, _ := w.db.Jobs(context.Background(), "", false, 10); len(jobs) != 0 {
		t.Fatalf("refused requests created jobs: %v", jobs)
	}
}

// A month with no archives is one sentence naming where mcloud looked and
// which months do have archives. DevOps learn the whole range; a customer
// user only the months of their own window.
func TestRestoreOfAnEmptyMonthNamesTheMonthsThatExist(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{now: julyNow})
	for _, m := range []string{"2023-02", "2023-11", "2024-05", "2024-06"} {
		seedMonth(w, m, 4, []string{"DEEP_ARCHIVE", "GLACIER"})
	}
	w.put("customer-x-artifacts", awsemu.Object{Key: "artifacts/prod/wso2am/2024/06/02/wso2am-artifacts.tar.gz", StorageClass: "GLACIER", Size: 1 << 20})
	alice := w.as("alice", "devops")
	carol := w.as("carol", "customer-x-shared")
	for _, tt := range []struct {
		who        mcloud.Caller
		line, want string
	}{
		{alice, "/mcloud restore-logs customer-x 2023-06",
			"There are no log archives for 2023-06 under s3://customer-x-logs/logs/<env>/<host>/2023/06/; customer-x's log archives exist from 2023-02 to 2024-06."},
		{alice, "/mcloud restore-logs customer-x 2024-07 --env staging",
			"There are no log archives for 2024-07 under s3://customer-x-logs/logs/staging/<host>/2024/07/; customer-x's log archives exist from 2023-02 to 2024-06."},
		{alice, "/mcloud restore-artifacts customer-x 2022-01",
			"There are no artifact archives for 2022-01 under s3://customer-x-artifacts/artifacts/<env>/<product>/2022/01/; customer-x's artifact archives exist for 2024-06 only."},
		{carol, "/mcloud restore-logs customer-x 2024-04",
			"There are no log archives for 2024-04 under s3://customer-x-logs/logs/<env>/<host>/2024/04/; of the months you can restore (2024-04 to 2024-07), customer-x's log archives exist from 2024-05 to 2024-06."},
	} {
		r := w.svc.Handle(context.Background(), tt.who, tt.line)
		if r.Error != tt.want {
			t.Errorf("%s:\n error %q\n want  %q", tt.line, r.Error, tt.want)
		}
		if r.Request != nil {
			t.Errorf("%s: a request for an empty month", tt.line)
		}
	}
	// customer-y has no archives at all; dave learns nothing of other months.
	r := w.svc.Handle(context.Background(), w.as("dave", "customer-y-shared"), "/mcloud restore-logs customer-y this-month")
	if want := "There are no log archives for 2024-07 under s3://customer-y-logs/logs/<env>/<host>/2024/07/; none of the months you can restore (2024-04 to 2024-07) has log archives under s3://customer-y-logs/logs/."; r.Error != want {
		t.Errorf("dave:\n error %q\n want  %q", r.Error, want)
	}
	if n := w.emu.TotalRestoreCalls(); n != 0 {
		t.Fatalf("%d restores requested for empty months", n)
	}
}

// DevOps may restore a month older than the customer's self-service
// window when its archives exist: the plan says it is outside the window,
// which classes it found and their sizes, and what Deep Archive costs in
// time; the job waits out Deep Archive's Bulk time and posts the links.
// The emulator runs S3's timing with each AWS hour lasting ten minutes of
// its manual clock, so 48 hours of Bulk pass inside one role session.
func TestDevOpsRestoresAMonthOutsideTheWindowFromDeepArchive(t *testing.T) {
	clock := awsemu.NewManualClock(time.Now())
	w := newAWSWorld(t, awsWorldOptions{now: clock.Now, storeNow: true, rescueAfter: 1000 * time.Hour, session: 12 * time.Hour,
		emu: awsemu.Options{Clock: clock, RestoreDelayFor: awsemu.ScaledRestoreTimes(10 * time.Minute)}})
	old := clock.Now().AddDate(0, -15, 0).Format("2006-01")
	objs := seedMonth(w, old, 12, []string{"DEEP_ARCHIVE", "DEEP_ARCHIVE", "GLACIER"})
	alice := w.as("alice", "devops")
	// carol is refused the same month in her channel.
	if r := w.svc.Handle(context.Background(), w.as("carol", "customer-x-shared"), "/mcloud restore-logs customer-x "+old); !strings.Contains(r.Error, "is outside customer-x's retention window") {
		t.Fatalf("carol: %q", r.Error)
	}
	// Expedited is refused for Deep Archive before anything is asked.
	if r := w.svc.Handle(context.Background(), alice, "/mcloud restore-logs customer-x "+old+" --tier expedited"); !strings.Contains(r.Error, "Expedited retrieval is not available for DEEP_ARCHIVE, and 8 of these archives are in DEEP_ARCHIVE") {
		t.Fatalf("expedited: %q", r.Error)
	}
	r := w.do(alice, "/mcloud restore-logs customer-x "+old+" --tier bulk")
	if r.Job == nil {
		t.Fatalf("DevOps restore outside the window: %+v", r)
	}
	plan := r.Request.Plan
	notes := strings.Join(plan.Notes, "\n")
	var deepBytes, glacierBytes int64
	for _, o := range objs {
		if o.StorageClass == "DEEP_ARCHIVE" {
			deepBytes += o.Size
		} else {
			glacierBytes += o.Size
		}
	}
	window := clock.Now().AddDate(0, -3, 0).Format("2006-01") + " to " + clock.Now().Format("2006-01")
	for _, want := range []string{
		old + " is outside customer-x's 3-month self-service window (" + window + "); restoring because DevOps asked.",
		fmt.Sprintf("Found under s3://customer-x-logs/logs/<env>/<host>/%s/: 8 DEEP_ARCHIVE (%.1f MiB), 4 GLACIER (%.1f MiB).",
			strings.ReplaceAll(old, "-", "/"), float64(deepBytes)/(1<<20), float64(glacierBytes)/(1<<20)),
		"8 files are in DEEP_ARCHIVE, whose restores complete within 12 hours on Standard and within 48 hours on Bulk; Expedited is refused for DEEP_ARCHIVE.",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("plan notes lack %q:\n%s", want, notes)
		}
	}
	if steps := strings.Join(plan.Steps, "\n"); !strings.Contains(steps, "AWS expects GLACIER in 5-12 hours, DEEP_ARCHIVE within 48 hours (Bulk tier)") {
		t.Errorf("plan steps:\n%s", steps)
	}
	w.waitFor("the restore requests", func() bool { return w.emu.TotalRestoreCalls() == 12 })
	w.waitPolls("the wait to poll")
	// 47 AWS hours: GLACIER's Bulk is done, Deep Archive's is not.
	clock.Advance(47 * 10 * time.Minute)
	w.waitPolls("a poll after 47 hours")
	if j, _ := w.db.Job(context.Background(), r.Job.ID); j.Status != mcloud.JobRunning {
		t.Fatalf("after 47 AWS hours the job is %s; Deep Archive Bulk takes up to 48", j.Status)
	}
	clock.Advance(10 * time.Minute)
	j := w.waitJob(r.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, thread)
	}
	for _, want := range []string{
		"request restores: requested 12 restores (Bulk tier, copies kept 7 days)",
		"wait for restores: 12 restored copies ready after 8h",
		"Download links for 12 files of customer-x's log archives of " + old,
		"12 of 12 files downloadable (12 restored, 0 readable already)",
	} {
		if !strings.Contains(thread, want) {
			t.Errorf("thread lacks %q:\n%s", want, thread)
		}
	}
	if strings.Contains(thread, "longer than AWS expects") {
		t.Errorf("a restore within AWS's time was reported late:\n%s", thread)
	}
}

// A customer user's request restores nothing until DevOps approve.
func TestCustomerRestoreWaitsForDevOpsApproval(t *testing.T) {
	// Approvals are checked against the store's clock: keep real time.
	w := newAWSWorld(t, awsWorldOptions{emu: awsemu.Options{RestoreDelay: 100 * time.Millisecond}})
	seedMonth(w, time.Now().UTC().Format("2006-01"), 30, []string{"GLACIER", "STANDARD", "DEEP_ARCHIVE"})
	carol := w.as("carol", "customer-x-shared")
	r := w.do(carol, "/mcloud restore-logs customer-x this-month")
	if r.Job != nil || r.Request == nil || r.Request.Needed != 1 || r.Request.Status != mcloud.RequestPending {
		t.Fatalf("customer request: %+v; want pending for 1 approval", r)
	}
	// carol cannot approve her own request, and her neighbour's data is
	// out of reach.
	if r := w.svc.Handle(context.Background(), carol, "/mcloud approve 1"); r.Error == "" {
		t.Fatal("carol approved her own request")
	}
	if r := w.svc.Handle(context.Background(), carol, "/mcloud restore-logs customer-y this-month"); r.Error != "From this channel you can only act on customer-x." {
		t.Fatalf("carol on customer-y: %q", r.Error)
	}
	time.Sleep(300 * time.Millisecond) // the queue is running: nothing may start
	if n := w.emu.TotalRestoreCalls(); n != 0 {
		t.Fatalf("%d restores requested before approval", n)
	}
	if jobs, _ := w.db.Jobs(context.Background(), "customer-x", false, 10); len(jobs) != 0 {
		t.Fatalf("jobs before approval: %v", jobs)
	}
	a := w.do(w.as("bob", "customer-x-shared"), "/mcloud approve 1")
	if a.Job == nil {
		t.Fatalf("approve: %+v", a)
	}
	if j := w.waitJob(a.Job.ID); j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	if n := w.emu.TotalRestoreCalls(); n != 20 {
		t.Fatalf("%d restores requested after approval, want the 20 archived files", n)
	}
	thread := w.thread()
	// 30 files: more than the inline limit, so one manifest link.
	if !strings.Contains(thread, "are in one manifest") {
		t.Fatalf("thread:\n%s", thread)
	}
}

// Expedited retrieval does not exist for DEEP_ARCHIVE: the plan refuses
// it; a GLACIER-only month may use it.
func TestRestoreRefusesExpeditedForDeepArchive(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{now: julyNow, emu: awsemu.Options{RestoreDelay: 50 * time.Millisecond}})
	seedMonth(w, "2024-05", 12, []string{"GLACIER", "DEEP_ARCHIVE", "STANDARD"})
	seedMonth(w, "2024-06", 6, []string{"GLACIER", "STANDARD"})
	alice := w.as("alice", "devops")
	r := w.svc.Handle(context.Background(), alice, "/mcloud restore-logs customer-x 2024-05 --tier expedited")
	if want := "Expedited retrieval is not available for DEEP_ARCHIVE, and 4 of these archives are in DEEP_ARCHIVE; use --tier standard or --tier bulk."; r.Error != want {
		t.Fatalf("error %q\nwant  %q", r.Error, want)
	}
	if n := w.emu.TotalRestoreCalls(); n != 0 {
		t.Fatalf("%d restores requested for a refused plan", n)
	}
	r = w.do(alice, "/mcloud restore-logs customer-x 2024-06 --tier expedited")
	if j := w.waitJob(r.Job.ID); j.Status != mcloud.JobSucceeded {
		t.Fatalf("GLACIER-only expedited: %s %s", j.Status, j.Error)
	}
	thread := w.thread()
	// Six files: a link each, no manifest.
	if strings.Contains(thread, "manifest") || strings.Count(thread, "http://") != 6 {
		t.Fatalf("want 6 inline links:\n%s", thread)
	}
	if !strings.Contains(thread, "requested 3 restores (Expedited tier") {
		t.Fatalf("thread:\n%s", thread)
	}
}

// Restore requests that fail are reported file by file; the rest go on,
// and the manifest lists the failed files with their reason.
func TestRestorePartialFailuresAreReportedPerObject(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{now: julyNow, restoreConcurrency: 1, emu: awsemu.Options{RestoreDelay: 50 * time.Millisecond}})
	objs := seedMonth(w, "2024-05", 40, []string{"GLACIER"})
	w.emu.InjectError("s3:RestoreObject", http.StatusForbidden, "AccessDenied", 2)
	r := w.do(w.as("alice", "devops"), "/mcloud restore-logs customer-x 2024-05 --env prod")
	j := w.waitJob(r.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, thread)
	}
	// --env prod: the 20 prod files; with one request at a time the first
	// two (in key order) fail.
	var prod []string
	for _, o := range objs {
		if strings.HasPrefix(o.Key, "logs/prod/") {
			prod = append(prod, o.Key)
		}
	}
	sort.Strings(prod)
	for _, want := range []string{
		"2 restore requests failed; the other files are being restored:\n  AWS denied access: the mcloud role in this customer account is not allowed to do this (2 files):\n    " + prod[0] + "\n    " + prod[1],
		"request restores: requested 18 restores (Standard tier, copies kept 7 days); 2 failed (listed in the thread)",
		"wait for restores: 18 restored copies ready; 2 files not restored",
		"2 files of customer-x's log archives of 2024-05 could not be restored:",
		"18 of 20 files downloadable (18 restored, 0 readable already); 2 files could not be restored (listed in the thread)",
	} {
		if !strings.Contains(thread, want) {
			t.Errorf("thread lacks %q:\n%s", want, thread)
		}
	}
	// 20 files is within the inline limit: 18 links, none for the failures.
	if n := strings.Count(thread, "http://"); n != 18 {
		t.Errorf("%d links in the thread, want 18", n)
	}
}

// Restores that run past AWS's expected time are reported, and the job
// keeps waiting until they finish.
func TestRestoreRunningLateIsReported(t *testing.T) {
	clock := awsemu.NewManualClock(time.Now())
	// Sessions last 12 hours so the emulator, on the manual clock, does
	// not expire them while the SDK, on real time, still trusts them.
	w := newAWSWorld(t, awsWorldOptions{now: clock.Now, storeNow: true, rescueAfter: 1000 * time.Hour, session: 12 * time.Hour,
		emu: awsemu.Options{Clock: clock, RestoreDelay: 8 * time.Hour}})
	month := clock.Now().Format("2006-01")
	seedMonth(w, month, 6, []string{"GLACIER", "STANDARD"})
	r := w.do(w.as("alice", "devops"), "/mcloud restore-logs customer-x this-month")
	w.waitFor("the restores to be requested", func() bool { return w.emu.TotalRestoreCalls() == 3 })
	w.waitPolls("the wait to poll")
	clock.Advance(6 * time.Hour)
	w.waitFor("the late notice", func() bool {
		return strings.Contains(w.thread(), "3 files are still restoring after 6h00m, longer than AWS expects (GLACIER in 3-5 hours, Standard tier). mcloud keeps checking, and gives up after 15h00m.")
	})
	if j, _ := w.db.Job(context.Background(), r.Job.ID); j.Status != mcloud.JobRunning {
		t.Fatalf("job is %s while restores are pending", j.Status)
	}
	clock.Advance(3 * time.Hour)
	j := w.waitJob(r.Job.ID)
	if thread := w.thread(); j.Status != mcloud.JobSucceeded || !strings.Contains(thread, "wait for restores: 3 restored copies ready after 9h00m") {
		t.Fatalf("job %s %s\n%s", j.Status, j.Error, thread)
	}
	if strings.Count(w.thread(), "longer than AWS expects") != 1 {
		t.Fatal("the late notice was posted more than once")
	}
}

// A restore far past three times AWS's expected time fails the job,
// saying what is still pending and that asking again is safe.
func TestRestoreGivesUpAtThreeTimesTheExpectedTime(t *testing.T) {
	clock := awsemu.NewManualClock(time.Now())
	w := newAWSWorld(t, awsWorldOptions{now: clock.Now, storeNow: true, rescueAfter: 1000 * time.Hour,
		emu: awsemu.Options{Clock: clock, RestoreDelay: 10 * time.Hour}})
	seedMonth(w, clock.Now().Format("2006-01"), 2, []string{"GLACIER"})
	r := w.do(w.as("alice", "devops"), "/mcloud restore-logs customer-x this-month --tier expedited")
	w.waitFor("the restores to be requested", func() bool { return w.emu.TotalRestoreCalls() == 2 })
	w.waitPolls("the wait to poll")
	clock.Advance(16 * time.Minute)
	j := w.waitJob(r.Job.ID)
	want := "2 files were still restoring after 16m, 3 times what AWS expects (GLACIER in 1-5 minutes), so mcloud stopped waiting; ask again later with the same command: nothing already requested is requested twice."
	if j.Status != mcloud.JobFailed || j.Error != want {
		t.Fatalf("job %s: %q\nwant %q", j.Status, j.Error, want)
	}
}

// A job stopped mid-wait (the process shut down) resumes without
// requesting any restore again.
func TestRestoreResumesWithoutRequestingAgain(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{now: julyNow, rescueAfter: time.Second, emu: awsemu.Options{RestoreDelay: 2 * time.Second}})
	seedMonth(w, "2024-07", 60, []string{"GLACIER", "DEEP_ARCHIVE", "STANDARD"})
	r2 := w.svc.Handle(context.Background(), w.as("alice", "devops"), "/mcloud restore-logs customer-x 2024-07")
	if r2.Job == nil {
		t.Fatalf("restore-logs: %+v", r2)
	}
	w.waitFor("the request step", func() bool {
		steps, _ := w.db.JobSteps(context.Background(), r2.Job.ID)
		return len(steps) == 1
	})
	w.stopQueue()
	if j, _ := w.db.Job(context.Background(), r2.Job.ID); j.Status != mcloud.JobRunning {
		t.Fatalf("stopped mid-wait, the job is %s; want still running", j.Status)
	}
	issued := w.emu.TotalRestoreCalls()
	if issued != 40 {
		t.Fatalf("%d restores requested before the stop, want 40", issued)
	}
	w.startQueue()
	j := w.waitJob(r2.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded || j.Attempt != 2 {
		t.Fatalf("job %s on attempt %d: %s\n%s", j.Status, j.Attempt, j.Error, thread)
	}
	if n := w.emu.TotalRestoreCalls(); n != issued {
		t.Fatalf("the resumed job requested %d more restores", n-issued)
	}
	if !strings.Contains(thread, "is resuming from its last completed step") || !strings.Contains(thread, "wait for restores: 40 restored copies ready") {
		t.Fatalf("thread:\n%s", thread)
	}
}

// A job stopped after its restore requests, some of which failed, still
// knows after resuming why those files were not restored: the request
// step's result comes back from its checkpoint.
func TestRestoreResumedKeepsWhyRequestsFailed(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{now: julyNow, restoreConcurrency: 1, rescueAfter: time.Second, emu: awsemu.Options{RestoreDelay: 2 * time.Second}})
	seedMonth(w, "2024-05", 40, []string{"GLACIER"})
	w.emu.InjectError("s3:RestoreObject", http.StatusForbidden, "AccessDenied", 2)
	r := w.svc.Handle(context.Background(), w.as("alice", "devops"), "/mcloud restore-logs customer-x 2024-05 --env prod")
	if r.Job == nil {
		t.Fatalf("restore-logs: %+v", r)
	}
	w.waitFor("the request step", func() bool {
		steps, _ := w.db.JobSteps(context.Background(), r.Job.ID)
		return len(steps) == 1
	})
	w.stopQueue()
	w.startQueue()
	j := w.waitJob(r.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded || j.Attempt != 2 {
		t.Fatalf("job %s on attempt %d: %s\n%s", j.Status, j.Attempt, j.Error, thread)
	}
	want := "2 files of customer-x's log archives of 2024-05 could not be restored:\n  not restored: AWS denied access: the mcloud role in this customer account is not allowed to do this (2 files):"
	if !strings.Contains(thread, want) {
		t.Fatalf("thread lacks %q:\n%s", want, thread)
	}
}

// cancel stops a restore job at its next poll; what was requested stays
// requested (S3 finishes it), nothing more is.
func TestRestoreCanBeCancelledWhileWaiting(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{now: julyNow, emu: awsemu.Options{RestoreDelay: time.Hour}})
	seedMonth(w, "2024-06", 10, []string{"GLACIER"})
	alice := w.as("alice", "devops")
	r := w.do(alice, "/mcloud restore-logs customer-x 2024-06")
	w.waitFor("the restores to be requested", func() bool { return w.emu.TotalRestoreCalls() == 10 })
	w.waitPolls("the wait to poll")
	w.do(alice, fmt.Sprintf("/mcloud cancel %d", r.Job.ID))
	j := w.waitJob(r.Job.ID)
	if j.Status != mcloud.JobCancelled {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	if n := w.emu.TotalRestoreCalls(); n != 10 {
		t.Fatalf("%d restore requests, want the 10 made before the cancel", n)
	}
}

// Without an AWS integration the verbs say so in one sentence.
func TestAWSVerbsWithoutAWS(t *testing.T) {
	svc, _, cfg := mustService(t)
	svc.Now = julyNow
	alice := caller(t, cfg, "alice", "devops")
	for _, line := range []string{"/mcloud restore-logs customer-x 2024-06", "/mcloud backups customer-x", "/mcloud backup customer-x prod now", "/mcloud db-export customer-x prod"} {
		r := svc.Handle(context.Background(), alice, line)
		if r.Error != "AWS is not set up in this mcloud, so it cannot reach customer-x's account; ask the DevOps team." {
			t.Errorf("%s: %q", line, r.Error)
		}
	}
}

// A poll round reads the month's restore states from its listing
// (ListObjectsV2 with RestoreStatus: a request per 1,000 files), not with
// a HeadObject per archived file: a real Bulk restore of 10,000 files
// polled for two days was up to two million HEADs.
func TestRestoreWaitListsInsteadOfHeadingEachFile(t *testing.T) {
	clock := awsemu.NewManualClock(time.Now())
	w := newAWSWorld(t, awsWorldOptions{now: julyNow, session: 12 * time.Hour,
		emu: awsemu.Options{Clock: clock, RestoreDelay: 10 * time.Minute}})
	seedMonth(w, "2024-05", 2500, []string{"GLACIER", "DEEP_ARCHIVE"})
	r := w.do(w.as("alice", "devops"), "/mcloud restore-logs customer-x 2024-05 --tier bulk")
	w.waitFor("the restore requests", func() bool { return w.emu.TotalRestoreCalls() == 2500 })
	w.waitPolls("the wait to poll")
	if j, _ := w.db.Job(context.Background(), r.Job.ID); j.Status != mcloud.JobRunning {
		t.Fatalf("the job is %s while every restore is in progress", j.Status)
	}
	clock.Advance(15 * time.Minute)
	j := w.waitJob(r.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded || !strings.Contains(thread, "wait for restores: 2,500 restored copies ready") {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, thread)
	}
	if n := w.emu.Calls("s3:HeadObject"); n != 0 {
		t.Errorf("%d HeadObject requests; the listings tell every file's restore state", n)
	}
}
