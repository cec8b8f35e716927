package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestSandboxRestoresTheREADMEExample runs the product's own example in
// the sandbox, whatever today's date is: DevOps restore 2024-03 (years
// outside the customer's window, in Deep Archive) to download links; the
// customer is refused the same month in her channel with the window
// sentence; a month with no archives names the months that have them.
func TestSandboxRestoresTheREADMEExample(t *testing.T) {
	freshMachine(t)
	now := time.Now().UTC()
	this := now.Format("2006-01")
	window := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -3, 0).Format("2006-01") + " to " + this
	script := strings.Join([]string{
		":user alice",
		":channel devops",
		"/mcloud restore-logs customer-x 2024-03",
		"/mcloud restore-artifacts customer-x 2024-03 --env prod",
		":user carol",
		":channel customer-x-shared",
		"/mcloud restore-logs customer-x 2024-03",
		":user alice",
		":channel devops",
		"/mcloud restore-logs customer-x 2020-01",
	}, "\n") + "\n"
	out := runShellScript(t, script, "--sandbox")
	xs := transcript(out)
	if len(xs) != 4 {
		t.Fatalf("got %d commands in the transcript, want 4:\n%s", len(xs), out)
	}
	expectReply(t, xs, 0, "alice@#devops> /mcloud restore-logs customer-x 2024-03",
		"Plan for request #1: restore-logs for customer-x, asked by alice in #devops",
		"Restore customer-x's log archives of 2024-03 (all environments): 93 files,",
		"AWS expects DEEP_ARCHIVE within 12 hours (Standard tier)",
		"2024-03 is outside customer-x's 3-month self-service window ("+window+"); restoring because DevOps asked.",
		"Found under s3://customer-x-logs/logs/<env>/<host>/2024/03/: 93 DEEP_ARCHIVE (",
		"93 files are in DEEP_ARCHIVE, whose restores complete within 12 hours on Standard and within 48 hours on Bulk; Expedited is refused for DEEP_ARCHIVE.",
		"No approval needed; running as job #1.",
		"Job #1: request restores: requested 93 restores (Standard tier, copies kept 7 days)",
		"Job #1: wait for restores: 93 restored copies ready",
		"Download links for 93 files of customer-x's log archives of 2024-03 are in one manifest",
		"Job #1 succeeded: customer-x's log archives of 2024-03 (all environments): 93 of 93 files downloadable (93 restored, 0 readable already)")
	expectReply(t, xs, 1, "alice@#devops> /mcloud restore-artifacts customer-x 2024-03 --env prod",
		"Restore customer-x's artifact archives of 2024-03 (prod): 31 files,",
		"2024-03 is outside customer-x's 3-month self-service window",
		"Download links for 31 files of customer-x's artifact archives of 2024-03 are in one manifest",
		"Job #2 succeeded: customer-x's artifact archives of 2024-03 (prod): 31 of 31 files downloadable")
	expectReply(t, xs, 2, "carol@#customer-x-shared> /mcloud restore-logs customer-x 2024-03",
		"Error: 2024-03 is outside customer-x's retention window: you can restore "+window+" (this month and the 3 before it).")
	expectReply(t, xs, 3, "alice@#devops> /mcloud restore-logs customer-x 2020-01",
		"Error: There are no log archives for 2020-01 under s3://customer-x-logs/logs/<env>/<host>/2020/01/; customer-x's log archives exist from 2024-03 to "+this+".")
	if strings.Contains(xs[2].reply, "Plan for request") {
		t.Errorf("carol's refused request became a plan:\n%s", xs[2].reply)
	}
	if n := strings.Count(out, " succeeded: "); n != 2 || strings.Contains(out, " failed: ") {
		t.Errorf("want the two DevOps restores to succeed:\n%s", out)
	}
}

// freshMachine runs the sandbox as on a new machine: no AWS account, no
// external ids in the environment.
func freshMachine(t *testing.T) {
	for _, v := range []string{"CUSTOMER_X_EXTERNAL_ID", "CUSTOMER_Y_EXTERNAL_ID", "MCLOUD_AWS_ENDPOINT", "AWS_PROFILE"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

// The sandbox's archives reach two years back from whatever today is, and
// always include the README's 2024-03.
func TestSandboxArchiveStart(t *testing.T) {
	for _, tt := range []struct{ now, want string }{
		{"2026-12-02", "2024-03-01"},
		{"2031-07-15", "2024-03-01"},
		{"2025-01-31", "2023-01-01"},
		{"2024-03-01", "2022-03-01"},
	} {
		now, _ := time.Parse("2006-01-02", tt.now)
		if got := sandboxArchiveStart(now).Format("2006-01-02"); got != tt.want {
			t.Errorf("on %s the archives start %s, want %s", tt.now, got, tt.want)
		}
	}
	// Older months age into Deep Archive, as a lifecycle rule would.
	if c := sandboxClass(200 * 24 * time.Hour); c != "DEEP_ARCHIVE" {
		t.Errorf("a 200-day-old archive is %s, want DEEP_ARCHIVE", c)
	}
}
