package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// TestKill9MidRestoreResumesWithoutRequestingAgain starts restore-logs in
// the real binary against an emulator that lives in the test (so it
// outlives the process), kills the process with SIGKILL while the job
// waits for the restores, restarts it, and checks that the job finishes
// and that no restore was requested twice.
func TestKill9MidRestoreResumesWithoutRequestingAgain(t *testing.T) {
	bin := mcloudBinary(t)
	cfg := fastRescueConfig(t)
	dbPath := filepath.Join(t.TempDir(), "mcloud.db")

	emu, env := crashEmulator(t, awsemu.Options{RestoreDelay: 6 * time.Second})
	for _, b := range []string{"customer-x-logs", "customer-x-exports"} {
		if err := emu.CreateBucket(awsemu.Bucket{Name: b, Region: "eu-west-1", AccountID: "111111111111"}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	classes := []string{"GLACIER", "GLACIER", "GLACIER", "DEEP_ARCHIVE", "STANDARD"}
	var objs []awsemu.Object
	archived := map[string]bool{}
	for i := range 200 {
		host := []string{"x-prod-apim-1", "x-prod-apim-2"}[i%2]
		key := fmt.Sprintf("logs/prod/%s/%s/%02d/part-%03d.log.gz", host, month.Format("2006/01"), 1+i%28, i)
		class := classes[i%len(classes)]
		archived[key] = class != "STANDARD"
		objs = append(objs, awsemu.Object{Key: key, StorageClass: class, Size: 1 << 20})
	}
	if err := emu.PutObjects("customer-x-logs", objs...); err != nil {
		t.Fatal(err)
	}

	args := []string{"shell", "-c", cfg, "--database-url", dbPath, "--user", "alice", "--channel", "devops"}

	killWhen(t, bin, args, env, "/mcloud restore-logs customer-x "+month.Format("2006-01")+"\n", "Job #1: request restores:")

	issued := emu.TotalRestoreCalls()
	if issued != 160 {
		t.Fatalf("%d restores requested before the kill, want the 160 archived files", issued)
	}
	ctx := context.Background()
	db, job, steps := jobState(t, dbPath, 1)
	if job.Status != mcloud.JobRunning || len(steps) != 1 || steps[0].Name != "request restores" {
		t.Fatalf("after kill -9: job %s with steps %v; want running, restores requested, waiting", job.Status, steps)
	}

	out, _ := restart(t, bin, args, env, ":wait\n/mcloud job 1\n")
	for _, want := range []string{
		"Job #1 was interrupted (the process running it stopped) and is resuming from its last completed step.",
		"Job #1: wait for restores: 160 restored copies ready",
		"Download links for 200 files of customer-x's log archives of " + month.Format("2006-01") + " are in one manifest",
		"Job #1 succeeded: customer-x's log archives of " + month.Format("2006-01") + " (all environments): 200 of 200 files downloadable (160 restored, 40 readable already)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("restarted output lacks %q:\n%s", want, out)
		}
	}
	job, _ = db.Job(ctx, 1)
	if job.Status != mcloud.JobSucceeded || job.Attempt != 2 {
		t.Fatalf("job after restart: %s, attempt %d; want succeeded on attempt 2", job.Status, job.Attempt)
	}
	if n := emu.TotalRestoreCalls(); n != issued {
		t.Fatalf("the resumed job requested %d restores again", n-issued)
	}
	for _, o := range objs {
		want := 0
		if archived[o.Key] {
			want = 1
		}
		if got := emu.RestoreCalls("customer-x-logs", o.Key); got != want {
			t.Fatalf("%s (%s): %d restore requests, want %d", o.Key, o.StorageClass, got, want)
		}
	}
	log, _ := db.AuditLog(ctx, "customer-x", time.Time{}, 1000)
	count := map[string]int{}
	for _, e := range log {
		if e.JobID == 1 && e.Event == mcloud.AuditStep {
			count[strings.SplitN(e.Detail, ":", 2)[0]]++
		}
	}
	if count["request restores"] != 1 || count["wait for restores"] != 1 {
		t.Fatalf("audited steps of job 1 = %v; want each once", count)
	}
}

// crashEmulator starts an AWS emulator that outlives the mcloud processes
// a crash test kills, with customer-x's account, and the environment that
// points them at it (and nowhere else: no instance metadata, no profile).
func crashEmulator(t *testing.T, o awsemu.Options) (*awsemu.Server, []string) {
	t.Helper()
	emu, err := awsemu.Start("", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	const ext = "ext-x-kill9"
	if err := emu.AddAccount(awsemu.Account{ID: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/mcloud-operator", ExternalID: ext}); err != nil {
		t.Fatal(err)
	}
	return emu, append(os.Environ(),
		"MCLOUD_AWS_ENDPOINT="+emu.URL(),
		"MCLOUD_AWS_POLL_INTERVAL=100ms",
		"AWS_ACCESS_KEY_ID=AKIAMCLOUDKILL9TEST1",
		"AWS_SECRET_ACCESS_KEY=kill9-secret",
		"AWS_REGION=eu-west-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"CUSTOMER_X_EXTERNAL_ID="+ext,
	)
}
