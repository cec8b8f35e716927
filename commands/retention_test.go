package commands_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// seedOldSnapshots gives customer-x's volume 10 daily EBS snapshots
// 25..34 days old and its database 10 RDS snapshots 25..34 days old, plus
// an untagged one that must stay.
func seedOldSnapshots(w *awsWorld, now time.Time) {
	w.t.Helper()
	x := w.cfg.Customer("customer-x")
	tags := map[string]string{"mcloud:customer": "customer-x", "mcloud:env": "prod"}
	for i := range 10 {
		at := now.Add(-time.Duration(25+i) * 24 * time.Hour)
		w.emu.AddSnapshot(awsemu.Snapshot{AccountID: x.AWS.AccountID, Region: x.AWS.Region, VolumeID: "vol-x1", StartTime: at, Tags: tags})
		if _, err := w.emu.AddDBSnapshot(awsemu.DBSnapshot{AccountID: x.AWS.AccountID, Region: x.AWS.Region, Identifier: fmt.Sprintf("x-db-day-%d", i),
			InstanceIdentifier: "x-prod-db", Created: at, Tags: tags}); err != nil {
			w.t.Fatal(err)
		}
	}
	w.emu.AddSnapshot(awsemu.Snapshot{AccountID: x.AWS.AccountID, Region: x.AWS.Region, VolumeID: "vol-x1", StartTime: now.Add(-400 * 24 * time.Hour)})
}

// What --dry-run lists as deleted is exactly what the run deletes.
func TestRetentionDryRunEqualsRun(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	w := newAWSWorld(t, awsWorldOptions{now: func() time.Time { return now }})
	seedOldSnapshots(w, now)
	ctx := context.Background()
	alice := w.as("alice", "devops")
	dry := w.svc.Handle(ctx, alice, "/mcloud retention customer-x --dry-run")
	if dry.Error != "" || !dry.DryRun {
		t.Fatalf("dry run: %+v", dry)
	}
	var listed []string
	for _, s := range dry.Request.Plan.Steps {
		if strings.Contains(s, ": delete:") {
			listed = append(listed, strings.Fields(s)[1])
		}
	}
	// 31..34 days old are older than 30 days, but the newest 7 of 10 are kept: 3 each.
	if len(listed) != 6 || dry.Request.Plan.Deletes != 6 {
		t.Fatalf("dry run lists %v for deletion:\n%s", listed, strings.Join(dry.Request.Plan.Steps, "\n"))
	}
	// The untagged snapshot is not even looked at (the listing asks for
	// the bot's tags); the count left below shows it survived.
	r := w.do(alice, "/mcloud retention customer-x")
	a := w.do(w.as("bob", "devops"), fmt.Sprintf("/mcloud approve %d", r.Request.ID))
	if j := w.waitJob(a.Job.ID); j.Status != mcloud.JobSucceeded {
		t.Fatalf("retention job %s: %s\n%s", j.Status, j.Error, w.thread())
	}
	acct := w.account("customer-x")
	var left []string
	ebs, _ := acct.FindSnapshots(ctx, "eu-west-1", nil)
	for _, s := range ebs {
		left = append(left, s.ID)
	}
	dbs, _ := acct.FindDBSnapshots(ctx, "eu-west-1", aws.DBSnapshotQuery{})
	for _, s := range dbs {
		left = append(left, s.Identifier)
	}
	for _, id := range listed {
		for _, l := range left {
			if l == id {
				t.Errorf("%s was listed for deletion but is still there", id)
			}
		}
	}
	if want := 21 - len(listed); len(left) != want {
		sort.Strings(left)
		t.Errorf("%d snapshots left, want %d: %v", len(left), want, left)
	}
}

// Unattended, retention beyond its cap deletes nothing and waits for DevOps
// in the team channel, with the list.
func TestRetentionOverCapAsksTeam(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	w := newAWSWorld(t, awsWorldOptions{now: func() time.Time { return now }})
	seedOldSnapshots(w, now)
	w.cfg.Customers[0].Retention.CapCount = 2
	ctx := context.Background()
	r, err := w.svc.StartByPolicy(ctx, commands.System{Key: "customer-x/retention", Title: "snapshot retention of customer-x"}, "retention", "customer-x", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Job != nil || r.Request.Needed != 1 || r.Request.Requester.ChannelID != w.svc.ApprovalsChannel() {
		t.Fatalf("over the cap must wait for DevOps in the team channel: %+v", r.Request)
	}
	if !strings.Contains(strings.Join(r.Request.Plan.Notes, " "), "would delete 6 snapshots, more than its cap of 2") {
		t.Errorf("plan notes %q", r.Request.Plan.Notes)
	}
	if n := w.emu.Calls("ec2:DeleteSnapshot") + w.emu.Calls("rds:DeleteDBSnapshot"); n != 0 {
		t.Errorf("%d deletions before approval", n)
	}
}

// A snapshot one of the account's AMIs uses is kept, and the plan says
// which AMI, though it is old enough to go: EC2 would refuse to delete it,
// failing the run halfway, and the AMI could no longer be launched.
func TestRetentionKeepsSnapshotsAnAMIUses(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	w := newAWSWorld(t, awsWorldOptions{now: func() time.Time { return now }})
	seedOldSnapshots(w, now)
	ctx := context.Background()
	x := w.cfg.Customer("customer-x")
	acct := w.account("customer-x")
	ebs, err := acct.FindSnapshots(ctx, x.AWS.Region, map[string]string{"mcloud:customer": "customer-x"})
	if err != nil || len(ebs) != 10 {
		t.Fatalf("seeded snapshots: %d, %v", len(ebs), err)
	}
	oldest := ebs[0].ID // 34 days old: policy alone would delete it
	ami := w.emu.AddImage(awsemu.Image{AccountID: x.AWS.AccountID, Region: x.AWS.Region, Name: "x-web-golden",
		Snapshots: map[string]string{"/dev/xvda": oldest}})
	why := fmt.Sprintf("EBS %s %s (vol-x1, %s): kept: used by AMI %s", oldest, x.AWS.Region, ebs[0].StartTime.UTC().Format("2006-01-02"), ami)

	alice := w.as("alice", "devops")
	dry := w.svc.Handle(ctx, alice, "/mcloud retention customer-x --dry-run")
	if dry.Error != "" || !dry.DryRun {
		t.Fatalf("dry run: %+v", dry)
	}
	if steps := strings.Join(dry.Request.Plan.Steps, "\n"); !strings.Contains(steps, why) || dry.Request.Plan.Deletes != 5 {
		t.Fatalf("dry run deletes %d, want 5, and must say %q:\n%s", dry.Request.Plan.Deletes, why, steps)
	}

	r := w.do(alice, "/mcloud retention customer-x")
	if !strings.Contains(strings.Join(r.Request.Plan.Steps, "\n"), why) {
		t.Errorf("the request's plan does not say %q:\n%s", why, strings.Join(r.Request.Plan.Steps, "\n"))
	}
	a := w.do(w.as("bob", "devops"), fmt.Sprintf("/mcloud approve %d", r.Request.ID))
	if j := w.waitJob(a.Job.ID); j.Status != mcloud.JobSucceeded {
		t.Fatalf("retention job %s: %s\n%s", j.Status, j.Error, w.thread())
	}
	left, err := acct.FindSnapshots(ctx, x.AWS.Region, map[string]string{"mcloud:customer": "customer-x"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range left {
		ids = append(ids, s.ID)
	}
	if len(left) != 8 || left[0].ID != oldest {
		t.Errorf("left after the run: %v; want the AMI's %s and the newest 7", ids, oldest)
	}
}
