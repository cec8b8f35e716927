package aws_test

import (
	"context"
	"strings"
	"testing"
	"time"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// A database restored from a snapshot is "creating" for the emulator's
// restore delay, then available; asking again finds it instead of
// restoring twice; deleting it twice is not an error.
func TestEnsureDBRestoreOnceAndDelete(t *testing.T) {
	e := newEnv(t, awsemu.Options{DBRestoreDelay: 300 * time.Millisecond})
	ctx := context.Background()
	if _, err := e.emu.AddDBSnapshot(awsemu.DBSnapshot{AccountID: testAccountID, Region: drRegion, Identifier: "db-copy", InstanceIdentifier: "app-db"}); err != nil {
		t.Fatal(err)
	}
	// The embedder sees the restored database and may say where it answers.
	var seen awsemu.Machine
	e.emu.SetMachines(func(m *awsemu.Machine) {
		seen = *m
		if m.Kind == "db" {
			m.Address, m.Port = "127.0.0.1", 15432
		}
	})
	in := mcaws.DBRestore{Region: drRegion, SnapshotID: "db-copy", Identifier: "mcloud-drill9-app-db", Tags: map[string]string{"mcloud:job": "9"}}
	d, created, err := e.acct.EnsureDBRestore(ctx, in)
	if seen.Kind != "db" || seen.LogicalID != in.Identifier || !strings.HasPrefix(seen.Address, in.Identifier+".c") || seen.Port != 5432 {
		t.Errorf("the embedder saw %+v", seen)
	}
	if err != nil || !created || d.Status != "creating" || d.Engine != "postgres" || d.Endpoint != "" {
		t.Fatalf("first restore: %+v created=%v err=%v", d, created, err)
	}
	d, created, err = e.acct.EnsureDBRestore(ctx, in)
	if err != nil || created || d.Identifier != in.Identifier {
		t.Fatalf("second ask: %+v created=%v err=%v", d, created, err)
	}
	if n := e.emu.Calls("rds:RestoreDBInstanceFromDBSnapshot"); n != 1 {
		t.Fatalf("restored %d times", n)
	}
	time.Sleep(350 * time.Millisecond)
	found, err := e.acct.FindDBInstances(ctx, drRegion, mcaws.DBInstanceQuery{Tags: map[string]string{"mcloud:job": "9"}})
	if err != nil || len(found) != 1 || found[0].Status != "available" || found[0].Endpoint != "127.0.0.1:15432" {
		t.Fatalf("after the delay: %+v %v", found, err)
	}
	for range 2 {
		if err := e.acct.DeleteDBInstance(ctx, drRegion, in.Identifier); err != nil {
			t.Fatal(err)
		}
	}
	if left := e.emu.DBInstances(testAccountID, drRegion); len(left) != 0 {
		t.Fatalf("left: %+v", left)
	}
	if _, _, err := e.acct.EnsureDBRestore(ctx, mcaws.DBRestore{Region: drRegion, SnapshotID: "nope", Identifier: "x"}); !mcaws.IsCode(err, "DBSnapshotNotFound") {
		t.Fatalf("restore from a missing snapshot: %v", err)
	}
}

// A volume made from a snapshot has its size and tags, is found again by
// its tags, and deletes.
func TestEnsureVolumeFromSnapshot(t *testing.T) {
	e := newEnv(t, awsemu.Options{})
	ctx := context.Background()
	snap := e.emu.AddSnapshot(awsemu.Snapshot{AccountID: testAccountID, Region: drRegion, SizeGiB: 42})
	tags := map[string]string{"mcloud:job": "9", "Name": "data"}
	v, created, err := e.acct.EnsureVolumeFromSnapshot(ctx, drRegion, snap, drRegion+"a", tags)
	if err != nil || !created || v.SizeGiB != 42 || v.Tags["Name"] != "data" {
		t.Fatalf("%+v %v %v", v, created, err)
	}
	again, created, err := e.acct.EnsureVolumeFromSnapshot(ctx, drRegion, snap, drRegion+"a", tags)
	if err != nil || created || again.ID != v.ID {
		t.Fatalf("second ask made another: %+v %v %v", again, created, err)
	}
	if err := e.acct.DeleteVolume(ctx, drRegion, v.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.acct.DeleteVolume(ctx, drRegion, v.ID); err != nil {
		t.Fatalf("deleting a deleted volume: %v", err)
	}
}

// Route 53 through the real SDK: list, upsert in one batch waited to
// INSYNC, and the new values listed.
func TestUpsertRecords(t *testing.T) {
	e := newEnv(t, awsemu.Options{})
	ctx := context.Background()
	e.emu.AddRecord(awsemu.Record{AccountID: testAccountID, ZoneID: "ZONE1", Name: "app.example.net", Values: []string{"203.0.113.1"}})
	recs, err := e.acct.Records(ctx, "ZONE1")
	if err != nil || len(recs) != 1 || recs[0].Name != "app.example.net." || recs[0].Values[0] != "203.0.113.1" {
		t.Fatalf("records: %+v %v", recs, err)
	}
	if err := e.acct.UpsertRecords(ctx, "ZONE1", "test", []mcaws.Record{{Name: "app.example.net.", Type: "A", TTL: 60, Values: []string{"10.0.2.14"}}}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := e.emu.RecordValues(testAccountID, "ZONE1", "app.example.net", "A"); strings.Join(got, ",") != "10.0.2.14" {
		t.Fatalf("after upsert: %v", got)
	}
	if e.emu.Calls("route53:GetChange") == 0 {
		t.Errorf("the change was not waited for")
	}
	// The same zone id in another account is another zone.
	if got := e.emu.RecordValues("999999999999", "ZONE1", "app.example.net", "A"); got != nil {
		t.Errorf("another account sees %v", got)
	}
}

// A stack deleted takes its instances and volumes with it; deleting a
// stack that does not exist succeeds.
func TestDeleteStackInRegion(t *testing.T) {
	e := newEnv(t, awsemu.Options{})
	ctx := context.Background()
	dr := e.acct.InRegion(drRegion)
	if dr.Region() != drRegion || e.acct.Region() != primaryRegion {
		t.Fatalf("regions %s %s", dr.Region(), e.acct.Region())
	}
	if err := dr.DeleteStack(ctx, "no-such-stack"); err != nil {
		t.Fatal(err)
	}
}
