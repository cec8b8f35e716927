package aws_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// ebsBackupJob is the shape of the bot's "snapshot prod volumes to DR" job:
// every step finds what an earlier (crashed) run already created before
// creating anything.
func ebsBackupJob(ctx context.Context, a *mcaws.Account, jobID string) (createdSnaps, createdCopies int, copies []string, err error) {
	vols, err := a.FindVolumes(ctx, a.Region(), map[string]string{"customer": "acme", "env": "prod"})
	if err != nil {
		return 0, 0, nil, err
	}
	tags := map[string]string{"mcloud:job-id": jobID, "customer": "acme"}
	var snaps []string
	for _, v := range vols {
		s, created, err := a.EnsureSnapshot(ctx, a.Region(), v.ID, "mcloud DR backup "+jobID, tags)
		if err != nil {
			return 0, 0, nil, err
		}
		if created {
			createdSnaps++
		}
		snaps = append(snaps, s.ID)
	}
	if err := a.WaitSnapshotsCompleted(ctx, a.Region(), snaps, 20*time.Second); err != nil {
		return 0, 0, nil, err
	}
	for _, id := range snaps {
		c, created, err := a.EnsureSnapshotCopy(ctx, mcaws.SnapshotCopy{
			SourceRegion: a.Region(), SourceSnapshotID: id, Description: "mcloud DR copy " + jobID,
			Tags: map[string]string{"mcloud:job-id": jobID},
		})
		if err != nil {
			return 0, 0, nil, err
		}
		if created {
			createdCopies++
		}
		copies = append(copies, c.ID)
	}
	if err := a.WaitSnapshotsCompleted(ctx, a.DRRegion(), copies, 20*time.Second); err != nil {
		return 0, 0, nil, err
	}
	return createdSnaps, createdCopies, copies, nil
}

func TestEBSSnapshotCopyToDRAndResume(t *testing.T) {
	e := newEnv(t, awsemu.Options{SnapshotDelay: 200 * time.Millisecond, PageLimit: 5})
	for i := range 3 {
		e.emu.AddVolume(awsemu.Volume{AccountID: testAccountID, Region: primaryRegion, SizeGiB: int32(100 * (i + 1)),
			Tags: map[string]string{"customer": "acme", "env": "prod", "Name": fmt.Sprintf("acme-prod-%d", i)}})
	}
	e.emu.AddVolume(awsemu.Volume{AccountID: testAccountID, Region: primaryRegion, Tags: map[string]string{"customer": "acme", "env": "staging"}})
	e.emu.AddVolume(awsemu.Volume{AccountID: testAccountID, Region: drRegion, Tags: map[string]string{"customer": "acme", "env": "prod"}})
	e.emu.AddVolume(awsemu.Volume{AccountID: "444455556666", Region: primaryRegion, Tags: map[string]string{"customer": "acme", "env": "prod"}})
	old := time.Now().Add(-48 * time.Hour)
	for i := range 12 {
		e.emu.AddSnapshot(awsemu.Snapshot{AccountID: testAccountID, Region: primaryRegion, VolumeID: "vol-old",
			StartTime: old.Add(time.Duration(i) * time.Minute), Tags: map[string]string{"customer": "acme", "mcloud:job-id": "nightly-old"}})
	}
	ctx := ctxT(t)

	snaps, copiesMade, copies, err := ebsBackupJob(ctx, e.acct, "job-42")
	if err != nil {
		t.Fatalf("first run: %v (%s)", err, mcaws.Describe(err))
	}
	if snaps != 3 || copiesMade != 3 {
		t.Fatalf("first run created %d snapshots and %d copies, want 3 and 3", snaps, copiesMade)
	}

	found, err := e.acct.FindSnapshots(ctx, drRegion, map[string]string{"mcloud:job-id": "job-42"})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 3 {
		t.Fatalf("found %d DR copies by tag, want 3", len(found))
	}
	for _, s := range found {
		if s.State != "completed" || s.Region != drRegion || s.Tags[mcaws.TagSourceSnapshot] == "" || s.OwnerID != testAccountID {
			t.Errorf("DR copy %+v", s)
		}
	}

	// The job crashed after copying; the resumed run must find everything.
	snaps, copiesMade, again, err := ebsBackupJob(ctx, e.acct, "job-42")
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if snaps != 0 || copiesMade != 0 {
		t.Fatalf("resumed run created %d snapshots and %d copies, want none", snaps, copiesMade)
	}
	if fmt.Sprint(again) != fmt.Sprint(copies) {
		t.Errorf("resumed run found copies %v, first run made %v", again, copies)
	}
	if c, p := e.emu.Calls("ec2:CreateSnapshot"), e.emu.Calls("ec2:CopySnapshot"); c != 3 || p != 3 {
		t.Errorf("CreateSnapshot called %d times, CopySnapshot %d; want 3 and 3", c, p)
	}

	// Twelve older snapshots only come back across several pages of five.
	before := e.emu.Calls("ec2:DescribeSnapshots")
	olds, err := e.acct.FindSnapshots(ctx, primaryRegion, map[string]string{"mcloud:job-id": "nightly-old"})
	if err != nil {
		t.Fatal(err)
	}
	if len(olds) != 12 || e.emu.Calls("ec2:DescribeSnapshots")-before != 3 {
		t.Errorf("found %d old snapshots in %d calls, want 12 in 3", len(olds), e.emu.Calls("ec2:DescribeSnapshots")-before)
	}
	newest, ok, err := e.acct.NewestSnapshot(ctx, primaryRegion, map[string]string{"customer": "acme"})
	if err != nil || !ok || newest.Tags["mcloud:job-id"] != "job-42" {
		t.Errorf("newest acme snapshot: %+v %v %v", newest, ok, err)
	}
}

func TestCopyOfPendingSnapshotIsRefused(t *testing.T) {
	e := newEnv(t, awsemu.Options{SnapshotDelay: time.Hour})
	vol := e.emu.AddVolume(awsemu.Volume{AccountID: testAccountID, Region: primaryRegion})
	ctx := ctxT(t)
	s, err := e.acct.CreateSnapshot(ctx, primaryRegion, vol, "pending", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != "pending" {
		t.Fatalf("new snapshot state %q", s.State)
	}
	_, err = e.acct.CopySnapshot(ctx, mcaws.SnapshotCopy{SourceRegion: primaryRegion, SourceSnapshotID: s.ID})
	if mcaws.Code(err) != "IncorrectState" {
		t.Fatalf("copy of pending snapshot: %v", err)
	}
	err = e.acct.WaitSnapshotsCompleted(ctx, primaryRegion, []string{s.ID}, 150*time.Millisecond)
	if mcaws.Code(err) != "" || mcaws.Describe(err) != "AWS did not finish in time; the job can be resumed later." {
		t.Fatalf("wait past maxWait: %v (%s)", err, mcaws.Describe(err))
	}
}

// Retention must keep a snapshot an AMI still uses: the account's own AMIs
// are listed across pages, another account's are not, and EC2 refuses to
// delete such a snapshot the way the real one does.
func TestSnapshotsUsedByImages(t *testing.T) {
	e := newEnv(t, awsemu.Options{PageLimit: 5})
	ctx := ctxT(t)
	want := map[string]string{}
	var used string
	for i := range 7 {
		root := e.emu.AddSnapshot(awsemu.Snapshot{AccountID: testAccountID, Region: primaryRegion, VolumeID: "vol-1"})
		data := e.emu.AddSnapshot(awsemu.Snapshot{AccountID: testAccountID, Region: primaryRegion, VolumeID: "vol-2"})
		ami := e.emu.AddImage(awsemu.Image{AccountID: testAccountID, Region: primaryRegion, Name: fmt.Sprintf("web-%d", i),
			Snapshots: map[string]string{"/dev/xvda": root, "/dev/xvdb": data}})
		want[root], want[data], used = ami, ami, root
	}
	free := e.emu.AddSnapshot(awsemu.Snapshot{AccountID: testAccountID, Region: primaryRegion, VolumeID: "vol-1"})
	e.emu.AddImage(awsemu.Image{AccountID: "444455556666", Region: primaryRegion, Snapshots: map[string]string{"/dev/xvda": free}})
	e.emu.AddImage(awsemu.Image{AccountID: testAccountID, Region: drRegion, Snapshots: map[string]string{"/dev/xvda": free}})

	before := e.emu.Calls("ec2:DescribeImages")
	got, err := e.acct.SnapshotsUsedByImages(ctx, primaryRegion)
	if err != nil {
		t.Fatalf("%v (%s)", err, mcaws.Describe(err))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("snapshots used by AMIs:\n got %v\nwant %v", got, want)
	}
	if n := e.emu.Calls("ec2:DescribeImages") - before; n != 2 {
		t.Errorf("seven AMIs in pages of five took %d DescribeImages calls, want 2", n)
	}

	err = e.acct.DeleteSnapshot(ctx, primaryRegion, used)
	if mcaws.Code(err) != "InvalidSnapshot.InUse" || !strings.Contains(err.Error(), "is currently in use by "+want[used]) {
		t.Fatalf("delete of a snapshot an AMI uses: %v", err)
	}
	if err := e.acct.DeleteSnapshot(ctx, primaryRegion, free); err != nil {
		t.Fatalf("delete of a snapshot only other accounts' or regions' AMIs name: %v", err)
	}
}
