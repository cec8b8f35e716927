package aws_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

func TestRDSSnapshotCrossRegionCopyAndExport(t *testing.T) {
	e := newEnv(t, awsemu.Options{DBSnapshotDelay: 150 * time.Millisecond, ExportDelay: 1500 * time.Millisecond})
	seedBucket(t, e, "acme-exports")
	primaryKMS := "arn:aws:kms:eu-west-1:111122223333:key/primary"
	for _, d := range []awsemu.DBInstance{
		{AccountID: testAccountID, Region: primaryRegion, Identifier: "acme-prod-db", Encrypted: true, KMSKeyID: primaryKMS,
			Tags: map[string]string{"customer": "acme", "env": "prod"}},
		{AccountID: testAccountID, Region: primaryRegion, Identifier: "acme-staging-db", Tags: map[string]string{"customer": "acme", "env": "staging"}},
		{AccountID: "444455556666", Region: primaryRegion, Identifier: "other-prod-db", Tags: map[string]string{"customer": "acme", "env": "prod"}},
	} {
		if _, err := e.emu.AddDBInstance(d); err != nil {
			t.Fatal(err)
		}
	}
	for i, age := range []time.Duration{48 * time.Hour, 24 * time.Hour} {
		if _, err := e.emu.AddDBSnapshot(awsemu.DBSnapshot{
			AccountID: testAccountID, Region: primaryRegion, Identifier: []string{"rds:acme-prod-db-day1", "rds:acme-prod-db-day2"}[i],
			InstanceIdentifier: "acme-prod-db", Type: "automated", Created: time.Now().Add(-age), Encrypted: true, KMSKeyID: primaryKMS,
		}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := ctxT(t)

	insts, err := e.acct.FindDBInstances(ctx, "", mcaws.DBInstanceQuery{Tags: map[string]string{"customer": "acme", "env": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 1 || insts[0].Identifier != "acme-prod-db" || !insts[0].Encrypted {
		t.Fatalf("prod instances: %+v", insts)
	}
	if none, err := e.acct.FindDBInstances(ctx, "", mcaws.DBInstanceQuery{Identifier: "no-such-db"}); err != nil || len(none) != 0 {
		t.Fatalf("missing identifier: %v, %v", none, err)
	}
	newest, err := e.acct.NewestDBSnapshots(ctx, "", mcaws.DBSnapshotQuery{InstanceIdentifier: "acme-prod-db"})
	if err != nil || newest["acme-prod-db"].Identifier != "rds:acme-prod-db-day2" {
		t.Fatalf("newest before backup: %+v, %v", newest, err)
	}

	jobTags := map[string]string{"mcloud:job-id": "job-77"}
	drKMS := "arn:aws:kms:eu-central-1:111122223333:key/dr"
	run := func() (createdSnap, createdCopy bool, snap, cp mcaws.DBSnapshot) {
		t.Helper()
		snap, createdSnap, err := e.acct.EnsureDBSnapshot(ctx, primaryRegion, "acme-prod-db", "mcloud-job-77-acme-prod-db", jobTags)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.acct.WaitDBSnapshotsAvailable(ctx, primaryRegion, []string{snap.Identifier}, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		cp, createdCopy, err = e.acct.EnsureDBSnapshotCopy(ctx, mcaws.DBSnapshotCopy{
			SourceSnapshotARN: snap.ARN, TargetIdentifier: "mcloud-job-77-acme-prod-db", KMSKeyID: drKMS, Tags: jobTags,
		})
		if err != nil {
			t.Fatalf("%v (%s)", err, mcaws.Describe(err))
		}
		if err := e.acct.WaitDBSnapshotsAvailable(ctx, drRegion, []string{cp.Identifier}, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		return createdSnap, createdCopy, snap, cp
	}
	createdSnap, createdCopy, snap, cp := run()
	if !createdSnap || !createdCopy {
		t.Fatalf("first run: created snapshot %v, copy %v", createdSnap, createdCopy)
	}
	if cp.SourceRegion != primaryRegion || cp.SourceSnapshotARN != snap.ARN || !strings.Contains(cp.ARN, ":"+drRegion+":") {
		t.Errorf("copy: %+v", cp)
	}
	createdSnap, createdCopy, _, _ = run()
	if createdSnap || createdCopy {
		t.Fatalf("resumed run created snapshot %v, copy %v", createdSnap, createdCopy)
	}
	if c, p := e.emu.Calls("rds:CreateDBSnapshot"), e.emu.Calls("rds:CopyDBSnapshot"); c != 1 || p != 1 {
		t.Errorf("CreateDBSnapshot %d, CopyDBSnapshot %d calls; want 1 and 1", c, p)
	}

	dr, err := e.acct.FindDBSnapshots(ctx, drRegion, mcaws.DBSnapshotQuery{Tags: jobTags})
	if err != nil || len(dr) != 1 || dr[0].Status != "available" || !dr[0].Encrypted || dr[0].KMSKeyID != drKMS {
		t.Fatalf("DR snapshots by tag: %+v, %v", dr, err)
	}
	newest, err = e.acct.NewestDBSnapshots(ctx, primaryRegion, mcaws.DBSnapshotQuery{InstanceIdentifier: "acme-prod-db"})
	if err != nil || newest["acme-prod-db"].Identifier != "mcloud-job-77-acme-prod-db" {
		t.Fatalf("newest after backup: %+v, %v", newest, err)
	}

	// KMS keys are regional: an encrypted copy without a destination key
	// is refused, as RDS does.
	_, err = e.acct.CopyDBSnapshot(ctx, mcaws.DBSnapshotCopy{SourceSnapshotARN: snap.ARN, TargetIdentifier: "no-key-copy"})
	if mcaws.Code(err) != "InvalidParameterCombination" {
		t.Errorf("encrypted copy without KMS key: %v", err)
	}

	task, err := e.acct.StartExportTask(ctx, primaryRegion, mcaws.ExportRequest{
		TaskIdentifier: "mcloud-export-job-77", SnapshotARN: snap.ARN, Bucket: "acme-exports", Prefix: "rds",
		IAMRoleARN: "arn:aws:iam::111122223333:role/rds-s3-export", KMSKeyID: primaryKMS,
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := []string{task.Status}
	for !task.Done() {
		time.Sleep(40 * time.Millisecond)
		if task, err = e.acct.DescribeExportTask(ctx, primaryRegion, "mcloud-export-job-77"); err != nil {
			t.Fatal(err)
		}
		if seen[len(seen)-1] != task.Status {
			seen = append(seen, task.Status)
		}
	}
	if !slices.Equal(seen, []string{"STARTING", "IN_PROGRESS", "COMPLETE"}) || task.PercentProgress != 100 || task.Ended.IsZero() {
		t.Errorf("export went through %v, ended %+v", seen, task)
	}
	files, err := e.acct.ListObjects(ctx, "acme-exports", "rds/mcloud-export-job-77/")
	if err != nil || len(files) != 1 {
		t.Errorf("export files: %+v, %v", files, err)
	}
	_, err = e.acct.StartExportTask(ctx, primaryRegion, mcaws.ExportRequest{
		TaskIdentifier: "mcloud-export-job-77", SnapshotARN: snap.ARN, Bucket: "acme-exports",
		IAMRoleARN: "arn:aws:iam::111122223333:role/rds-s3-export", KMSKeyID: primaryKMS,
	})
	if mcaws.Code(err) != "ExportTaskAlreadyExists" {
		t.Errorf("second export with the same id: %v", err)
	}
}
