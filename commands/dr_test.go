package commands_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/integrations/store"
)

const (
	xAccount = "111111111111"
	xDR      = "eu-central-1"
)

// seedDRCopies puts what `backup` leaves in customer-x's DR region for
// prod: two copies of apim-1's data volume (the newer one is used), one of
// a volume no host owns, and one RDS copy, taken age ago. It returns the
// newest copies' times.
func seedDRCopies(t *testing.T, w *awsWorld, now time.Time, age time.Duration) {
	t.Helper()
	tags := func(name string) map[string]string {
		m := map[string]string{"mcloud:customer": "customer-x", "mcloud:env": "prod", "mcloud:job": "7"}
		if name != "" {
			m["Name"] = name
		}
		return m
	}
	w.emu.AddSnapshot(awsemu.Snapshot{AccountID: xAccount, Region: xDR, ID: "snap-apim1old", VolumeID: "vol-ffffffff", SizeGiB: 50,
		StartTime: now.Add(-age - 24*time.Hour), Tags: tags("x-prod-apim-1-data")})
	w.emu.AddSnapshot(awsemu.Snapshot{AccountID: xAccount, Region: xDR, ID: "snap-apim1new", VolumeID: "vol-ffffffff", SizeGiB: 60,
		StartTime: now.Add(-age), Tags: tags("x-prod-apim-1-data")})
	w.emu.AddSnapshot(awsemu.Snapshot{AccountID: xAccount, Region: xDR, ID: "snap-shared", VolumeID: "vol-ffffffff", SizeGiB: 20,
		StartTime: now.Add(-age + time.Hour), Tags: tags("x-prod-shared")})
	if _, err := w.emu.AddDBSnapshot(awsemu.DBSnapshot{AccountID: xAccount, Region: xDR, Identifier: "mcloud-job7-x-prod-db", InstanceIdentifier: "x-prod-db",
		Created: now.Add(-age + 30*time.Minute), Tags: tags("")}); err != nil {
		t.Fatal(err)
	}
}

// drillLeftovers lists what of job in the DR region still exists.
func drillLeftovers(w *awsWorld, job string) []string {
	var left []string
	for _, v := range w.emu.Volumes(xDR) {
		if v.Tags["mcloud:job"] == job {
			left = append(left, "volume "+v.ID)
		}
	}
	for _, d := range w.emu.DBInstances(xAccount, xDR) {
		left = append(left, "db "+d.Identifier)
	}
	for _, s := range w.emu.Stacks(xDR) {
		left = append(left, "stack "+s)
	}
	return left
}

var (
	rpoRE = regexp.MustCompile(`RPO (\S+) \(target`)
	rtoRE = regexp.MustCompile(`RTO (\S+) \(target`)
)

func parseExact(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}

// The acceptance story: a dry run shows the copies chosen with their ages
// and makes nothing; after one approval the drill rebuilds prod in the DR
// region, restores the database, reports RPO and RTO that match what the
// emulator recorded, tears everything down and leaves nothing tagged.
func TestDRDrillEndToEnd(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{emu: awsemu.Options{DBRestoreDelay: 300 * time.Millisecond}})
	drSandboxHosts(t, w)
	alice, bob := w.as("alice", "devops"), w.as("bob", "devops")
	now := time.Now().UTC()
	age := 5*time.Hour + 12*time.Minute
	seedDRCopies(t, w, now, age)

	dry := w.do(alice, "/mcloud dr drill customer-x prod --dry-run")
	text := planText(dry)
	for _, want := range []string{
		"Drill customer-x/prod in eu-central-1 from the newest DR copies",
		"use EBS snap-apim1new of x-prod-apim-1-data", "(5h12m old), 60 GiB",
		"use RDS mcloud-job7-x-prod-db of x-prod-db",
		"create stack mcloud-drill-customer-x-prod-<job> in eu-central-1",
		"restore 1 RDS database (x-prod-db)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "snap-apim1old") || !dry.DryRun || w.emu.ExecuteChangeSetCalls() != 0 {
		t.Fatalf("dry run used the old copy or built something:\n%s", text)
	}

	r := w.do(alice, "/mcloud dr drill customer-x prod")
	if r.Job != nil || r.Request.Needed != 1 {
		t.Fatalf("a drill needs one approver: %+v", r.Request)
	}
	a := w.do(bob, "/mcloud approve 1")
	j := w.waitJob(a.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("drill %s: %s\n%s", j.Status, j.Error, thread)
	}
	runs, err := w.db.DRRuns(context.Background(), "customer-x")
	if err != nil || len(runs) != 1 {
		t.Fatalf("stored drills: %v %+v", err, runs)
	}
	run := runs[0]
	report := run.Report
	if !strings.HasPrefix(report, "Drill of customer-x/prod in eu-central-1: RPO ") || !strings.Contains(thread, report) {
		t.Fatalf("report:\n%s\nthread:\n%s", report, thread)
	}
	// RPO: drill start minus the oldest chosen copy, as the emulator holds it.
	wantRPO := run.Started.Sub(now.Add(-age))
	if got := parseExact(t, rpoRE.FindStringSubmatch(report)[1]); (got-wantRPO).Abs() > time.Second || (run.RPO-wantRPO).Abs() > time.Second {
		t.Errorf("RPO %s (stored %s), want %s", got, run.RPO, wantRPO)
	}
	// RTO counts from the job's start, as the store recorded it.
	if d := run.Started.Sub(j.StartedAt).Abs(); d > time.Second {
		t.Errorf("the drill's start %s is %s from the job's start %s", run.Started, d, j.StartedAt)
	}
	// RTO: start to all healthy; at least the emulator's restore time, and
	// the steps add up to it.
	got := parseExact(t, rtoRE.FindStringSubmatch(report)[1])
	if (got-run.RTO).Abs() > time.Second || run.RTO < 300*time.Millisecond || (run.Finished.Sub(run.Started)-run.RTO).Abs() > time.Second {
		t.Errorf("RTO %s, stored %s, started %s finished %s", got, run.RTO, run.Started, run.Finished)
	}
	for _, want := range []string{
		"EBS x-prod-apim-1 data | snap-apim1new | 5h12m", "RDS x-prod-db | mcloud-job7-x-prod-db | 4h42m", "| available",
		"EBS x-prod-shared | snap-shared | 4h12m", "host x-prod-apim-2 | - | - | new empty data volume | 200 in ", "Steps: choose DR copies",
		"tear down: deleted stack mcloud-drill-customer-x-prod-1", "nothing tagged mcloud:job=1 is left",
	} {
		if !strings.Contains(thread, want) {
			t.Errorf("thread lacks %q:\n%s", want, thread)
		}
	}
	if left := drillLeftovers(w, "1"); len(left) > 0 {
		t.Errorf("the drill left %v", left)
	}
	for op, n := range map[string]int{"rds:RestoreDBInstanceFromDBSnapshot": 1, "cloudformation:ExecuteChangeSet": 1, "ec2:CreateVolume": 1, "cloudformation:DeleteStack": 1} {
		if got := w.emu.Calls(op); got != n {
			t.Errorf("%s called %d times, want %d", op, got, n)
		}
	}
	// A drill never touches the primary region nor any DNS record.
	if s := w.emu.Stacks("eu-west-1"); len(s) != 0 {
		t.Errorf("primary region stacks: %v", s)
	}
	if n := w.emu.Calls("route53:ChangeResourceRecordSets"); n != 0 {
		t.Errorf("a drill changed DNS records (%d calls)", n)
	}

	h := w.do(alice, "/mcloud dr history customer-x")
	if hist := h.Title + "\n" + strings.Join(h.Lines, "\n"); !strings.Contains(hist, "drill prod in eu-central-1 (job #1): RPO 5h12m") || !strings.Contains(hist, "Trend: one run so far.") {
		t.Errorf("history:\n%s", hist)
	}
}

// A drill whose newest copy is older than the RPO target says so first.
func TestDRDrillOlderThanTargetSaysSoFirst(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	drSandboxHosts(t, w)
	w.cfg.Customer("customer-x").DR.RPOTarget = 4 * 3600 * 1e9
	alice, bob := w.as("alice", "devops"), w.as("bob", "devops")
	seedDRCopies(t, w, time.Now().UTC(), 5*time.Hour)
	w.do(alice, "/mcloud dr drill customer-x prod")
	j := w.waitJob(w.do(bob, "/mcloud approve 1").Job.ID)
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("drill %s: %s\n%s", j.Status, j.Error, w.thread())
	}
	runs, _ := w.db.DRRuns(context.Background(), "customer-x")
	first, _, _ := strings.Cut(runs[0].Report, "\n")
	if !strings.HasPrefix(first, "WARNING: the newest DR copy is older than the RPO target of 4h00m: EBS x-prod-apim-1-data (snap-apim1new, 5h00m old)") {
		t.Fatalf("first line: %q", first)
	}
	if !strings.Contains(runs[0].Report, "missed the RPO target") || runs[0].Outcome != "missed the RPO target" {
		t.Errorf("report: %s", runs[0].Report)
	}
	var _ store.DRRun = runs[0]
}

// failoverWorld is a world whose customer-x/prod has DR copies and two
// records in its Route 53 zone for dr.records.
func failoverWorld(t *testing.T, o awsemu.Options) *awsWorld {
	w := newAWSWorld(t, awsWorldOptions{emu: o})
	drSandboxHosts(t, w)
	seedDRCopies(t, w, time.Now().UTC(), 3*time.Hour)
	w.emu.AddRecord(awsemu.Record{AccountID: xAccount, ZoneID: "ZCUSTX", Name: "apim.customer-x.example.net", Values: []string{"203.0.113.10"}})
	w.emu.AddRecord(awsemu.Record{AccountID: xAccount, ZoneID: "ZCUSTX", Name: "ssh.customer-x.example.net", Values: []string{"203.0.113.11"}})
	w.cfg.Customer("customer-x").DR.Records = []config.DRRecord{
		{Env: "prod", ZoneID: "ZCUSTX", Name: "apim.customer-x.example.net", Host: "x-prod-apim-1"},
		{Env: "prod", ZoneID: "ZCUSTX", Name: "ssh.customer-x.example.net", Host: "bastion"},
	}
	return w
}

// Failover: two approvers other than the requester; afterwards the records
// point at the DR rebuild (which is kept), the schedules are paused, and
// dr status says the DR region is live.
func TestDRFailoverTwoApproversSwitchesDNS(t *testing.T) {
	w := failoverWorld(t, awsemu.Options{DBRestoreDelay: time.Second})
	alice, bob, erin := w.as("alice", "devops"), w.as("bob", "devops"), w.as("erin", "devops")

	dry := w.do(alice, "/mcloud dr failover customer-x prod --dry-run")
	if text := planText(dry); !strings.Contains(text, "switch DNS apim.customer-x.example.net (zone ZCUSTX): 203.0.113.10 → the DR address of x-prod-apim-1") ||
		!strings.Contains(text, "pause the schedules customer-x/backup") || !strings.Contains(text, "create stack mcloud-dr-customer-x-prod in eu-central-1") {
		t.Fatalf("plan:\n%s", text)
	}
	r := w.do(alice, "/mcloud dr failover customer-x prod")
	if r.Request == nil || r.Request.Needed != 2 || r.Job != nil {
		t.Fatalf("failover request: %+v", r)
	}
	id := r.Request.ID
	if own := w.svc.Handle(context.Background(), alice, "/mcloud approve "+itoa(id)); own.Job != nil || own.Error == "" {
		t.Fatalf("the requester approved her own failover: %+v", own)
	}
	if one := w.do(bob, "/mcloud approve "+itoa(id)); one.Job != nil {
		t.Fatalf("one approval started the failover")
	}
	if again := w.svc.Handle(context.Background(), bob, "/mcloud approve "+itoa(id)); again.Job != nil {
		t.Fatalf("the same approver twice started the failover")
	}
	two := w.do(erin, "/mcloud approve "+itoa(id))
	if two.Job == nil {
		t.Fatalf("a second distinct approver did not start it: %+v", two)
	}
	// alice asks again while the first restores: the plan still made
	// sense then.
	w.waitFor("the restore to start", func() bool { return strings.Contains(w.thread(), "restore databases: restoring") })
	late := w.svc.Handle(context.Background(), alice, "/mcloud dr failover customer-x prod")
	if late.Request == nil {
		t.Fatalf("a second failover request while the first runs: %+v", late)
	}
	j := w.waitJob(two.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("failover %s: %s\n%s", j.Status, j.Error, thread)
	}
	apim := w.emu.RecordValues(xAccount, "ZCUSTX", "apim.customer-x.example.net", "A")
	ssh := w.emu.RecordValues(xAccount, "ZCUSTX", "ssh.customer-x.example.net", "A")
	if len(apim) != 1 || !strings.HasPrefix(apim[0], "10.0.") || len(ssh) != 1 || !strings.HasPrefix(ssh[0], "198.51.100.") {
		t.Fatalf("records after failover: apim %v ssh %v\n%s", apim, ssh, thread)
	}
	if !strings.Contains(thread, "apim.customer-x.example.net.: 203.0.113.10 → "+apim[0]) {
		t.Errorf("thread does not show the switch:\n%s", thread)
	}
	if s := w.emu.Stacks(xDR); len(s) != 1 || s[0] != "mcloud-dr-customer-x-prod" || len(w.emu.DBInstances(xAccount, xDR)) != 1 {
		t.Errorf("the failover's rebuild is not kept: stacks %v dbs %v", s, w.emu.DBInstances(xAccount, xDR))
	}
	pauses, err := w.db.Pauses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := pauses["customer-x/backup"]; !ok || !strings.Contains(p.Reason, "prod failed over to eu-central-1") {
		t.Errorf("schedules not paused: %+v", pauses)
	}
	st := w.do(alice, "/mcloud dr status customer-x")
	if text := strings.Join(st.Lines, "\n"); !strings.Contains(text, "prod: live in eu-central-1 (DR) since") || !strings.Contains(text, "staging: live in eu-west-1 (primary)") {
		t.Errorf("dr status:\n%s", text)
	}
	w.cfg.Customer("customer-x").DR.Records[0].Host = "x-prod-apim-9"
	if bad := w.svc.Handle(context.Background(), alice, "/mcloud dr failover customer-x staging --dry-run"); bad.Error == "" {
		t.Errorf("a failover of staging with no records: %+v", bad)
	}
	w.cfg.Customer("customer-x").DR.Records[0].Env = "staging"
	if bad := w.svc.Handle(context.Background(), alice, "/mcloud dr failover customer-x staging --dry-run"); bad.Error != "dr.records of customer-x points apim.customer-x.example.net at x-prod-apim-9, which is not a host of staging (nor \"bastion\"); fix mcloud.yaml." {
		t.Errorf("a record naming an unknown host: %+v", bad.Error)
	}
	// A second failover, from the DR region, has nowhere to go: refused,
	// saying what to do instead, at the plan and (for a request planned
	// before the first ran) when its job starts, making nothing.
	refusal := "customer-x/prod already runs in its DR region eu-central-1 since failover job #" + itoa(j.ID) + ", so there is nothing to fail over to; " +
		"moving it back to eu-west-1 is a failback, which mcloud does not do: follow \"Failing back\" in docs/dr.md."
	if second := w.svc.Handle(context.Background(), alice, "/mcloud dr failover customer-x prod --dry-run"); second.Error != refusal {
		t.Errorf("a second failover: %q", second.Error)
	}
	w.do(bob, "/mcloud approve "+itoa(late.Request.ID))
	lateJob := w.do(erin, "/mcloud approve "+itoa(late.Request.ID)).Job
	if lj := w.waitJob(lateJob.ID); lj.Status != mcloud.JobFailed || lj.Error != refusal {
		t.Errorf("the late failover job %s: %q", lj.Status, lj.Error)
	}
	if n := w.emu.Calls("cloudformation:CreateChangeSet"); n != 1 || w.emu.Calls("route53:ChangeResourceRecordSets") != 1 {
		t.Errorf("the refused failover made something: %d change sets, %d DNS changes", n, w.emu.Calls("route53:ChangeResourceRecordSets"))
	}
	if got := w.emu.RecordValues(xAccount, "ZCUSTX", "apim.customer-x.example.net", "A"); len(got) != 1 || got[0] != apim[0] {
		t.Errorf("the record moved again: %v", got)
	}
}

// A failover cancelled before its DNS switch deletes its rebuild and
// leaves the records and the schedules as they were.
func TestDRFailoverCancelledBeforeSwitch(t *testing.T) {
	w := failoverWorld(t, awsemu.Options{DBRestoreDelay: time.Hour})
	alice, bob, erin := w.as("alice", "devops"), w.as("bob", "devops"), w.as("erin", "devops")
	id := itoa(w.do(alice, "/mcloud dr failover customer-x prod").Request.ID)
	w.do(bob, "/mcloud approve "+id)
	job := w.do(erin, "/mcloud approve "+id).Job
	w.waitFor("the restore to start", func() bool { return strings.Contains(w.thread(), "restore databases: restoring") })
	w.do(alice, "/mcloud cancel "+id)
	j := w.waitJob(job.ID)
	if j.Status != mcloud.JobCancelled {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, w.thread())
	}
	if got := w.emu.RecordValues(xAccount, "ZCUSTX", "apim.customer-x.example.net", "A"); len(got) != 1 || got[0] != "203.0.113.10" {
		t.Errorf("record changed: %v", got)
	}
	if left := drillLeftovers(w, id); len(left) > 0 {
		t.Errorf("the cancelled failover left %v\n%s", left, w.thread())
	}
	if w.emu.Calls("route53:ChangeResourceRecordSets") != 0 {
		t.Errorf("DNS was changed")
	}
	if p, _ := w.db.Pauses(context.Background()); len(p) != 0 {
		t.Errorf("schedules paused: %v", p)
	}
}

// A drill cancelled while its database restores stops and tears down what
// it made.
func TestDRDrillCancelTearsDown(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{emu: awsemu.Options{DBRestoreDelay: time.Hour}})
	drSandboxHosts(t, w)
	alice, bob := w.as("alice", "devops"), w.as("bob", "devops")
	seedDRCopies(t, w, time.Now().UTC(), time.Hour)
	id := itoa(w.do(alice, "/mcloud dr drill customer-x prod").Request.ID)
	job := w.do(bob, "/mcloud approve "+id).Job
	w.waitFor("the restore to start", func() bool { return strings.Contains(w.thread(), "restore databases: restoring") })
	w.do(alice, "/mcloud cancel "+id)
	j := w.waitJob(job.ID)
	if j.Status != mcloud.JobCancelled {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, w.thread())
	}
	if !strings.Contains(w.thread(), "tear down: deleted stack mcloud-drill-customer-x-prod-"+id) {
		t.Errorf("thread:\n%s", w.thread())
	}
	if left := drillLeftovers(w, id); len(left) > 0 {
		t.Errorf("the cancelled drill left %v", left)
	}
}

// Two failovers of one environment, both planned and approved before
// either switched: the second stops before making anything, naming the
// first; when the first is cancelled before its switch, the environment
// may be failed over again.
func TestDRConcurrentFailoversOnlyOneRebuilds(t *testing.T) {
	w := failoverWorld(t, awsemu.Options{DBRestoreDelay: time.Hour})
	alice, bob, erin := w.as("alice", "devops"), w.as("bob", "devops"), w.as("erin", "devops")
	first := itoa(w.do(alice, "/mcloud dr failover customer-x prod").Request.ID)
	w.do(bob, "/mcloud approve "+first)
	a := w.do(erin, "/mcloud approve "+first).Job
	// Asked while the first runs (an identical request waiting would be
	// the same one): its plan still makes sense then.
	second := itoa(w.do(alice, "/mcloud dr failover customer-x prod").Request.ID)
	w.waitFor("the restore to start", func() bool { return strings.Contains(w.thread(), "restore databases: restoring") })
	w.do(bob, "/mcloud approve "+second)
	b := w.do(erin, "/mcloud approve "+second).Job
	want := "customer-x/prod is already being failed over by job #" + itoa(a.ID) + ", so this failover stopped before making anything; " +
		"follow that job's thread, and ask again only if it fails or is cancelled before its DNS switch."
	if bj := w.waitJob(b.ID); bj.Status != mcloud.JobFailed || bj.Error != want {
		t.Fatalf("the second failover %s: %q\n%s", bj.Status, bj.Error, w.thread())
	}
	if n := w.emu.Calls("cloudformation:CreateChangeSet"); n != 1 {
		t.Errorf("%d change sets, want the first failover's only", n)
	}
	w.do(alice, "/mcloud cancel "+first)
	if aj := w.waitJob(a.ID); aj.Status != mcloud.JobCancelled {
		t.Fatalf("the first failover %s: %s", aj.Status, aj.Error)
	}
	if h, err := w.db.ClaimFailover(context.Background(), "customer-x", "prod", 999); err != nil || h != 999 {
		t.Errorf("after the first was cancelled before its switch, prod is held by job #%d (%v)", h, err)
	}
	if w.emu.Calls("route53:ChangeResourceRecordSets") != 0 {
		t.Errorf("DNS was changed")
	}
}
