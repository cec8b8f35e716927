package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSandboxAWSScript runs the checked-in AWS script in the sandbox, as
// on a fresh machine: no AWS account, no external ids in the environment.
// Every job must finish, well within a minute.
func TestSandboxAWSScript(t *testing.T) {
	freshMachine(t)
	script, err := os.ReadFile("../../examples/sandbox-aws.mcloud")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out := runShellScript(t, string(script), "--sandbox")
	// The one-minute target is reported, not asserted: speed belongs in
	// benchmarks, and this test asserts what the script does.
	t.Logf("the sandbox script ran in %s", time.Since(start).Round(time.Millisecond))
	xs := transcript(out)
	if len(xs) != 12 {
		t.Fatalf("got %d commands in the transcript, want 12:\n%s", len(xs), out)
	}
	expect := func(i int, prompt string, wants ...string) {
		t.Helper()
		expectReply(t, xs, i, prompt, wants...)
	}
	expect(0, "carol@#customer-x-shared> /mcloud backups customer-x",
		"Backups of customer-x at", "2 backups flagged:",
		"staging RDS customer-x-staging-db in eu-central-1 (DR): older than the 26h00m policy")
	expect(1, "carol@#customer-x-shared> /mcloud restore-logs customer-x last-month",
		"Plan for request #1: restore-logs for customer-x, asked by carol", "Standard tier",
		"Waiting for 1 approval from an approver other than carol")
	expect(2, "bob@#customer-x-shared> /mcloud approve 1",
		"Job #1: request restores: requested ", "Job #1: wait for restores: ",
		"are in one manifest (a CSV with a link per file; links expire ", "Job #1 succeeded: customer-x's log archives of ")
	expect(3, "carol@#customer-x-shared> /mcloud restore-logs customer-x 2020-01",
		"Error: 2020-01 is outside customer-x's retention window: you can restore ")
	expect(4, "carol@#customer-x-shared> /mcloud restore-logs customer-x 2024-13",
		`Error: "2024-13" is not a month: the month must be 01 to 12.`)
	expect(5, "carol@#customer-x-shared> /mcloud restore-artifacts customer-x last-month --env prod --tier bulk",
		"Plan for request #2: restore-artifacts for customer-x", "Bulk tier")
	expect(6, "erin@#customer-x-shared> /mcloud approve 2", "Job #2 succeeded: customer-x's artifact archives of ", "(prod)")
	expect(7, "alice@#devops> /mcloud backup customer-x staging now",
		"Back up customer-x (staging) now: 1 EBS volume (50 GiB) and 1 RDS database (100 GiB) in eu-west-1, copied to eu-central-1")
	expect(8, "bob@#devops> /mcloud approve 3",
		"Job #3: wait for DR copies: 1 EBS copy and 1 RDS copy completed in eu-central-1",
		"Job #3 succeeded: customer-x (staging) backed up")
	expect(9, "carol@#customer-x-shared> /mcloud db-export customer-x prod",
		"Plan for request #4: db-export for customer-x", "export snapshot rds:customer-x-prod-db-")
	expect(10, "erin@#customer-x-shared> /mcloud approve 4",
		"Job #4: wait for export: 1 export complete", "Download links for 1 file of the customer-x/prod database export",
		"Job #4 succeeded: customer-x/prod database exported to s3://customer-x-exports/rds-exports/prod/")
	expect(11, "carol@#customer-x-shared> /mcloud backups customer-x", "All 12 backups are within policy")
	// Job outcomes, not the tour's echoed :expect lines that name them.
	if n := len(regexp.MustCompile(`\] Job #\d+ succeeded: `).FindAllString(out, -1)); n != 4 {
		t.Errorf("%d jobs succeeded, want 4:\n%s", n, out)
	}
	if strings.Contains(out, " failed: ") {
		t.Errorf("a job failed:\n%s", out)
	}
}
