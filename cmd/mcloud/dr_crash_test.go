package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// TestKill9MidDrillRestoreResumesAndTearsDown runs a drill in the real
// binary against an emulator that outlives it, kills the process with
// SIGKILL while the database restore is under way, restarts it, and checks
// that the drill completes, each create call was made once, and the
// teardown left nothing in the DR region.
func TestKill9MidDrillRestoreResumesAndTearsDown(t *testing.T) {
	bin := mcloudBinary(t)
	cfg := fastRescueConfig(t)
	dbPath := filepath.Join(t.TempDir(), "mcloud.db")

	emu, err := awsemu.Start("", awsemu.Options{DBRestoreDelay: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	const ext, acct, dr = "ext-x-kill9", "111111111111", "eu-central-1"
	if err := emu.AddAccount(awsemu.Account{ID: acct, RoleARN: "arn:aws:iam::111111111111:role/mcloud-operator", ExternalID: ext}); err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{"mcloud:customer": "customer-x", "mcloud:env": "prod", "mcloud:job": "3"}
	withName := map[string]string{"Name": "x-prod-apim-1-data"}
	for k, v := range tags {
		withName[k] = v
	}
	emu.AddSnapshot(awsemu.Snapshot{AccountID: acct, Region: dr, ID: "snap-apim1", VolumeID: "vol-ffffffff", SizeGiB: 50, StartTime: time.Now().Add(-2 * time.Hour), Tags: withName})
	if _, err := emu.AddDBSnapshot(awsemu.DBSnapshot{AccountID: acct, Region: dr, Identifier: "mcloud-job3-x-prod-db", InstanceIdentifier: "x-prod-db",
		Created: time.Now().Add(-2 * time.Hour), Tags: tags}); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
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
	args := []string{"shell", "-c", cfg, "--database-url", dbPath, "--user", "alice", "--channel", "devops"}

	killWhen(t, bin, args, env, "/mcloud dr drill customer-x prod\n:user bob\n/mcloud approve 1\n", "Job #1: restore databases:")
	if n := emu.Calls("rds:RestoreDBInstanceFromDBSnapshot"); n != 1 {
		t.Fatalf("RestoreDBInstanceFromDBSnapshot called %d times before the kill, want 1", n)
	}
	if dbs := emu.DBInstances(acct, dr); len(dbs) != 1 {
		t.Fatalf("restored databases before the kill: %+v", dbs)
	}
	_, job, _ := jobState(t, dbPath, 1)
	if job.Status != mcloud.JobRunning {
		t.Fatalf("after kill -9: job %s; want running", job.Status)
	}

	out, _ := restart(t, bin, args, env, ":wait\n/mcloud job 1\n")
	for _, want := range []string{
		"Job #1 was interrupted (the process running it stopped) and is resuming from its last completed step.",
		"Drill of customer-x/prod in eu-central-1: RPO 2h00m",
		"Job #1: tear down: deleted stack mcloud-drill-customer-x-prod-1",
		"Job #1 succeeded: drill of customer-x/prod",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("restarted output lacks %q:\n%s", want, out)
		}
	}
	for op, want := range map[string]int{"rds:RestoreDBInstanceFromDBSnapshot": 1, "cloudformation:ExecuteChangeSet": 1, "cloudformation:CreateChangeSet": 1} {
		if n := emu.Calls(op); n != want {
			t.Errorf("%s called %d times in all, want %d", op, n, want)
		}
	}
	if s, d := emu.Stacks(dr), emu.DBInstances(acct, dr); len(s)+len(d) > 0 {
		t.Errorf("left in the DR region: stacks %v, databases %+v", s, d)
	}
	for _, v := range emu.Volumes(dr) {
		t.Errorf("volume left in the DR region: %+v", v)
	}
}
