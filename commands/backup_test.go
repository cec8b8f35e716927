package commands_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// seedX gives customer-x's prod two tagged volumes and an encrypted,
// tagged database, staging one volume, plus things that must never be
// backed up with them: an untagged volume and customer-y's volume.
func seedX(w *awsWorld) (prodVols []string) {
	w.t.Helper()
	x, y := w.cfg.Customer("customer-x"), w.cfg.Customer("customer-y")
	tags := func(env, name string) map[string]string {
		return map[string]string{"mcloud:customer": "customer-x", "mcloud:env": env, "Name": name}
	}
	for _, h := range []string{"x-prod-apim-1", "x-prod-apim-2"} {
		prodVols = append(prodVols, w.emu.AddVolume(awsemu.Volume{AccountID: x.AWS.AccountID, Region: x.AWS.Region, SizeGiB: 40, Tags: tags("prod", h)}))
	}
	w.emu.AddVolume(awsemu.Volume{AccountID: x.AWS.AccountID, Region: x.AWS.Region, Tags: tags("staging", "x-stg-apim-1")})
	w.emu.AddVolume(awsemu.Volume{AccountID: x.AWS.AccountID, Region: x.AWS.Region, Tags: map[string]string{"Name": "scratch"}})
	w.emu.AddVolume(awsemu.Volume{AccountID: y.AWS.AccountID, Region: y.AWS.Region, Tags: map[string]string{"mcloud:customer": "customer-y", "mcloud:env": "prod"}})
	if _, err := w.emu.AddDBInstance(awsemu.DBInstance{AccountID: x.AWS.AccountID, Region: x.AWS.Region, Identifier: "x-prod-db", Encrypted: true,
		KMSKeyID: "arn:aws:kms:eu-west-1:111111111111:key/11111111-2222-3333-4444-555555555555", Tags: map[string]string{"mcloud:customer": "customer-x", "mcloud:env": "prod"}}); err != nil {
		w.t.Fatal(err)
	}
	return prodVols
}

func TestBackupNowSnapshotsAndCopiesToDR(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{emu: awsemu.Options{SnapshotDelay: 200 * time.Millisecond, DBSnapshotDelay: 300 * time.Millisecond}})
	prodVols := seedX(w)
	if r := w.svc.Handle(context.Background(), w.as("carol", "customer-x-shared"), "/mcloud backup customer-x prod now"); r.Error != `"backup" is for the DevOps team only; ask them in this channel.` {
		t.Fatalf("customer asking for backup now: %q", r.Error)
	}
	r := w.do(w.as("alice", "devops"), "/mcloud backup customer-x prod now")
	if r.Job != nil || r.Request.Needed != 1 {
		t.Fatalf("backup now must wait for one approver: %+v", r)
	}
	plan := r.Request.Plan
	if !strings.Contains(plan.Summary, "2 EBS volumes (80 GiB) and 1 RDS database (20 GiB) in eu-west-1, copied to eu-central-1") {
		t.Errorf("plan summary = %q", plan.Summary)
	}
	if n := w.emu.Calls("ec2:CreateSnapshot") + w.emu.Calls("rds:CreateDBSnapshot"); n != 0 {
		t.Fatalf("%d snapshots taken before approval", n)
	}
	a := w.do(w.as("bob", "devops"), "/mcloud approve 1")
	j := w.waitJob(a.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, thread)
	}
	for op, want := range map[string]int{"ec2:CreateSnapshot": 2, "rds:CreateDBSnapshot": 1, "ec2:CopySnapshot": 2, "rds:CopyDBSnapshot": 1} {
		if got := w.emu.Calls(op); got != want {
			t.Errorf("%s called %d times, want %d", op, got, want)
		}
	}
	ctx := context.Background()
	acct := w.account("customer-x")
	job := map[string]string{"mcloud:job": "1", "mcloud:customer": "customer-x", "mcloud:env": "prod"}
	src, err := acct.FindSnapshots(ctx, "eu-west-1", job)
	if err != nil || len(src) != 2 {
		t.Fatalf("job's snapshots in eu-west-1: %v, %v", src, err)
	}
	for _, s := range src {
		if s.VolumeID != prodVols[0] && s.VolumeID != prodVols[1] {
			t.Errorf("snapshot %s of volume %s, which is not prod's", s.ID, s.VolumeID)
		}
	}
	copies, err := acct.FindSnapshots(ctx, "eu-central-1", job)
	if err != nil || len(copies) != 2 {
		t.Fatalf("job's copies in eu-central-1: %v, %v", copies, err)
	}
	for _, c := range copies {
		if c.State != "completed" || (c.Tags[aws.TagSourceSnapshot] != src[0].ID && c.Tags[aws.TagSourceSnapshot] != src[1].ID) {
			t.Errorf("copy %+v: want completed, naming its source", c)
		}
	}
	dbCopies, err := acct.FindDBSnapshots(ctx, "eu-central-1", aws.DBSnapshotQuery{Tags: job})
	if err != nil || len(dbCopies) != 1 {
		t.Fatalf("RDS copies in eu-central-1: %v, %v", dbCopies, err)
	}
	if c := dbCopies[0]; c.Identifier != "mcloud-job1-x-prod-db" || c.Status != "available" || c.SourceRegion != "eu-west-1" || !c.Encrypted || c.KMSKeyID != "alias/aws/rds" {
		t.Errorf("RDS copy = %+v", c)
	}
	for _, want := range []string{
		"Job #1: take snapshots: started 2 EBS snapshots (",
		"and 1 RDS snapshot (mcloud-job1-x-prod-db) in eu-west-1",
		"Job #1: wait for DR copies: 2 EBS copies and 1 RDS copy completed in eu-central-1",
		"Job #1 succeeded: customer-x (prod) backed up: EBS and RDS snapshots in eu-west-1, copies in eu-central-1 (DR), tagged mcloud:job=1",
	} {
		if !strings.Contains(thread, want) {
			t.Errorf("thread lacks %q:\n%s", want, thread)
		}
	}
}

// A backup job interrupted while it takes its snapshots finds the ones it
// already made by their job tag when it resumes, and takes no others.
func TestBackupResumeCreatesNoDuplicates(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{attempts: 100, rescueAfter: time.Second,
		emu: awsemu.Options{SnapshotDelay: 100 * time.Millisecond, DBSnapshotDelay: 100 * time.Millisecond}})
	seedX(w)
	// RDS answers "unavailable" for a while: the SDK keeps retrying, and
	// the process stops in the middle of it.
	w.emu.InjectError("rds:CreateDBSnapshot", http.StatusServiceUnavailable, "ServiceUnavailable", 40)
	w.do(w.as("alice", "devops"), "/mcloud backup customer-x now")
	a := w.do(w.as("erin", "devops"), "/mcloud approve 1")
	w.waitFor("the RDS snapshot attempt", func() bool { return w.emu.Calls("rds:CreateDBSnapshot") >= 1 })
	w.stopQueue()
	// prod's volumes, then prod's database (which RDS is refusing);
	// staging's volume comes after.
	if n := w.emu.Calls("ec2:CreateSnapshot"); n != 2 {
		t.Fatalf("%d EBS snapshots before the stop, want prod's 2", n)
	}
	if steps, _ := w.db.JobSteps(context.Background(), a.Job.ID); len(steps) != 0 {
		t.Fatalf("steps done before the stop: %v", steps)
	}
	w.startQueue()
	j := w.waitJob(a.Job.ID)
	if j.Status != mcloud.JobSucceeded || j.Attempt != 2 {
		t.Fatalf("job %s on attempt %d: %s\n%s", j.Status, j.Attempt, j.Error, w.thread())
	}
	if n := w.emu.Calls("ec2:CreateSnapshot"); n != 3 {
		t.Fatalf("%d EBS snapshots taken in all, want 3: prod's 2 again would be duplicates", n)
	}
	snaps, err := w.account("customer-x").FindSnapshots(context.Background(), "eu-west-1", map[string]string{"mcloud:job": "1"})
	if err != nil || len(snaps) != 3 {
		t.Fatalf("the job's EBS snapshots: %d, %v; want 3", len(snaps), err)
	}
	copies, _ := w.account("customer-x").FindSnapshots(context.Background(), "eu-central-1", map[string]string{"mcloud:job": "1"})
	if len(copies) != 3 {
		t.Fatalf("%d DR copies, want 3", len(copies))
	}
}

func TestBackupRefusesWhatItCannotFind(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	alice := w.as("alice", "devops")
	for line, want := range map[string]string{
		"/mcloud backup customer-x prod now":   "Found no EBS volume or RDS database of customer-x (prod) in eu-west-1 tagged mcloud:customer=customer-x and mcloud:env=<env>; nothing to back up.",
		"/mcloud backup customer-x prod":       `Backup runs only when you say "now"; add now: /mcloud backup customer-x prod now`,
		"/mcloud backup customer-x":            `Backup runs only when you say "now"; add now: /mcloud backup customer-x now`,
		"/mcloud backup customer-x prod later": `Expected "now", not "later".`,
		"/mcloud backup customer-x dev now":    `Unknown environment "dev" for customer-x; it has: prod, staging.`,
	} {
		if r := w.svc.Handle(context.Background(), alice, line); r.Error != want {
			t.Errorf("%s:\n error %q\n want  %q", line, r.Error, want)
		}
	}
}

func TestBackupsReportFlagsOldAndMissing(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	x := w.cfg.Customer("customer-x")
	now := time.Now().UTC()
	tags := func(env, name string) map[string]string {
		return map[string]string{"mcloud:customer": "customer-x", "mcloud:env": env, "Name": name}
	}
	snap := func(region, vol string, age time.Duration, t map[string]string, desc string) string {
		return w.emu.AddSnapshot(awsemu.Snapshot{AccountID: x.AWS.AccountID, Region: region, VolumeID: vol, StartTime: now.Add(-age), Tags: t, Description: desc})
	}
	v1 := w.emu.AddVolume(awsemu.Volume{AccountID: x.AWS.AccountID, Region: "eu-west-1", ID: "vol-1", Tags: tags("prod", "x-prod-apim-1")})
	v2 := w.emu.AddVolume(awsemu.Volume{AccountID: x.AWS.AccountID, Region: "eu-west-1", ID: "vol-2", Tags: tags("prod", "x-prod-apim-2")})
	v3 := w.emu.AddVolume(awsemu.Volume{AccountID: x.AWS.AccountID, Region: "eu-west-1", ID: "vol-3", Tags: tags("staging", "x-stg-apim-1")})
	// vol-1: fresh, copied to DR (found by mcloud's source tag); an older
	// snapshot does not count.
	snap("eu-west-1", v1, 34*time.Hour, tags("prod", "x-prod-apim-1"), "")
	s1 := snap("eu-west-1", v1, 10*time.Hour, tags("prod", "x-prod-apim-1"), "")
	c1 := snap("eu-central-1", "vol-ffffffff", 9*time.Hour, map[string]string{"mcloud:customer": "customer-x", "mcloud:env": "prod", aws.TagSourceSnapshot: s1}, "")
	// vol-2: last snapshot 30h old, copied by something else (EC2's own
	// description names the source).
	s2 := snap("eu-west-1", v2, 30*time.Hour, tags("prod", "x-prod-apim-2"), "")
	c2 := snap("eu-central-1", "vol-ffffffff", 29*time.Hour, tags("prod", ""), "[Copied "+s2+" from eu-west-1]")
	// vol-3: fresh, never copied.
	snap("eu-west-1", v3, 5*time.Hour, tags("staging", "x-stg-apim-1"), "")
	if _, err := w.emu.AddDBInstance(awsemu.DBInstance{AccountID: x.AWS.AccountID, Region: "eu-west-1", Identifier: "x-prod-db",
		Tags: map[string]string{"mcloud:customer": "customer-x", "mcloud:env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	for region, name := range map[string]string{"eu-west-1": "rds:x-prod-db-nightly", "eu-central-1": "x-prod-db-dr"} {
		if _, err := w.emu.AddDBSnapshot(awsemu.DBSnapshot{AccountID: x.AWS.AccountID, Region: region, Identifier: name, InstanceIdentifier: "x-prod-db",
			Type: "automated", Created: now.Add(-8 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	written := now.Add(-3 * time.Hour)
	w.put("customer-x-logs",
		awsemu.Object{Key: "logs/prod/x-prod-apim-1/" + written.Format("2006/01/02") + "/a.log.gz", Size: 10, LastModified: written},
		awsemu.Object{Key: "logs/prod/x-prod-apim-1/" + written.Add(-24*time.Hour).Format("2006/01/02") + "/b.log.gz", Size: 10, LastModified: written.Add(-24 * time.Hour)})

	r := w.do(w.as("carol", "customer-x-shared"), "/mcloud backups customer-x")
	text := r.Title + "\n" + strings.Join(r.Lines, "\n")
	lineWith := func(parts ...string) string {
		for _, l := range r.Lines {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(l, p)
			}
			if ok {
				return l
			}
		}
		t.Fatalf("no line with %q in:\n%s", parts, text)
		return ""
	}
	for _, tt := range []struct {
		parts []string
		want  string
	}{
		{[]string{"prod EBS vol-1", "eu-west-1 "}, "10h00m ago"},
		{[]string{"prod EBS vol-1", "eu-west-1 "}, s1},
		{[]string{"prod EBS vol-1", "eu-central-1 (DR)"}, "ok"},
		// The DR row names the copy, which is what a DR restore uses, not
		// its source (which is named in the row above).
		{[]string{"prod EBS vol-1", "eu-central-1 (DR)"}, c1 + ")"},
		{[]string{"prod EBS vol-2", "eu-central-1 (DR)"}, c2 + ")"},
		{[]string{"prod EBS vol-2", "eu-west-1 "}, "FLAGGED: older than the 26h00m policy"},
		{[]string{"prod EBS vol-2", "eu-central-1 (DR)"}, "FLAGGED: older than the 26h00m policy"},
		{[]string{"staging EBS vol-3", "eu-west-1 "}, "ok"},
		{[]string{"staging EBS vol-3", "eu-central-1 (DR)"}, "none  FLAGGED: missing in the DR region"},
		{[]string{"prod RDS x-prod-db", "eu-west-1 "}, "8h00m ago"},
		{[]string{"prod RDS x-prod-db", "eu-central-1 (DR)"}, "x-prod-db-dr)  ok"},
		{[]string{"log archives (s3://customer-x-logs)"}, "3h00m ago"},
		{[]string{"artifact archives (s3://customer-x-artifacts)"}, "none  FLAGGED: missing"},
	} {
		if l := lineWith(tt.parts...); !strings.Contains(l, tt.want) {
			t.Errorf("line %q lacks %q", l, tt.want)
		}
	}
	if !strings.Contains(text, "4 backups flagged:") {
		t.Errorf("report:\n%s", text)
	}
	if !strings.Contains(r.Title, "Backups of customer-x at ") || !strings.Contains(r.Title, "(policy: newest backup at most 26h00m old, copied to eu-central-1)") {
		t.Errorf("title = %q", r.Title)
	}
	// The report reads only: nothing was created or copied.
	if n := w.emu.Calls("ec2:CreateSnapshot") + w.emu.Calls("ec2:CopySnapshot") + w.emu.Calls("rds:CreateDBSnapshot"); n != 0 {
		t.Fatalf("the report changed %d things", n)
	}
	// Another customer's user cannot read it.
	if r := w.svc.Handle(context.Background(), w.as("dave", "customer-y-shared"), "/mcloud backups customer-x"); r.Error != "From this channel you can only act on customer-y." {
		t.Fatalf("dave reading customer-x's backups: %q", r.Error)
	}
}
