package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/integrations/store"
)

const xStagingStack = "mcloud-customer-x-staging"

func planText(r commands.Reply) string {
	if r.Request == nil {
		return r.Title + "\n" + strings.Join(r.Lines, "\n")
	}
	p := r.Request.Plan
	return p.Summary + "\n" + strings.Join(p.Steps, "\n") + "\n" + strings.Join(p.Notes, "\n")
}

// The acceptance story: a dry run lists what would be built and leaves
// nothing behind; provision after approval builds it with progress in the
// thread and records the inventory; a second dry run has nothing to change;
// a rule added behind mcloud's back shows in drift and in the next plan.
func TestProvisionBuildsConvergesAndReportsDrift(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	alice, bob := w.as("alice", "devops"), w.as("bob", "devops")

	dry := w.do(alice, "/mcloud provision customer-x staging --dry-run")
	text := planText(dry)
	for _, want := range []string{
		"Build customer-x/staging through CloudFormation stack mcloud-customer-x-staging: creates 34 resources",
		"creates the bastion instance", "creates instance x-stg-apim-1", "creates private hosted zone Zone", "creates the VPC", "creates SES email identity (DKIM) MailIdentity",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("dry-run plan lacks %q:\n%s", want, text)
		}
	}
	if !dry.DryRun || w.emu.StackResource(xStagingStack, "VPC") != "" || w.emu.ExecuteChangeSetCalls() != 0 {
		t.Fatalf("the dry run built something (dry=%v, executes=%d)", dry.DryRun, w.emu.ExecuteChangeSetCalls())
	}

	r := w.do(alice, "/mcloud provision customer-x staging")
	if r.Job != nil || r.Request.Needed != 1 {
		t.Fatalf("a build needs one approver first: %+v", r.Request)
	}
	a := w.do(bob, "/mcloud approve 1")
	j := w.waitJob(a.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, thread)
	}
	for _, want := range []string{"Stack progress: created ", "customer-x/staging provisioned: stack mcloud-customer-x-staging is CREATE_COMPLETE; 2 hosts recorded"} {
		if !strings.Contains(thread, want) {
			t.Errorf("thread lacks %q:\n%s", want, thread)
		}
	}
	if n := w.emu.ExecuteChangeSetCalls(); n != 1 {
		t.Errorf("ExecuteChangeSet called %d times, want 1", n)
	}
	inv, err := w.db.Inventory(context.Background(), "customer-x", "staging")
	if err != nil {
		t.Fatal(err)
	}
	if len(inv) != 2 || inv[1].Host != "x-stg-apim-1" || !strings.HasPrefix(inv[1].Address, "10.20.") || !strings.HasPrefix(inv[1].HostKey, "ssh-ed25519 ") {
		t.Fatalf("inventory = %+v", inv)
	}

	again := w.do(alice, "/mcloud provision customer-x staging --dry-run")
	if got := planText(again); !strings.Contains(got, "Nothing to change: customer-x/staging (stack mcloud-customer-x-staging) already matches mcloud.yaml.") {
		t.Fatalf("second dry run:\n%s", got)
	}

	sg := w.emu.StackResource(xStagingStack, "HostsSecurityGroup")
	if err := w.emu.AuthorizeIngressBehindBack(sg, 22, "0.0.0.0/0"); err != nil {
		t.Fatal(err)
	}
	d := w.do(alice, "/mcloud drift customer-x staging")
	wantDrift := "staging: security group HostsSecurityGroup (" + sg + "): inbound 0.0.0.0/0:22 added outside mcloud"
	if got := planText(d); !strings.Contains(got, wantDrift) || !strings.Contains(got, "Drift of customer-x: 1 property changed outside mcloud") {
		t.Fatalf("drift:\n%s\nwant %q", got, wantDrift)
	}
	next := w.do(alice, "/mcloud provision customer-x staging --dry-run")
	if got := planText(next); !strings.Contains(got, "Drift: security group HostsSecurityGroup ("+sg+"): inbound 0.0.0.0/0:22 added outside mcloud") {
		t.Fatalf("the next plan does not mention the drift:\n%s", got)
	}
}

// A change that replaces a volume (a new VPC range ripples to the hosts and
// their data volumes) needs two approvers, and the stack policy lets it
// through only when the approved change set executes.
func TestProvisionReplacingAVolumeNeedsTwoApprovers(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	alice, bob, erin := w.as("alice", "devops"), w.as("bob", "devops"), w.as("erin", "devops")
	w.do(alice, "/mcloud provision customer-x staging")
	if j := w.waitJob(w.do(bob, "/mcloud approve 1").Job.ID); j.Status != mcloud.JobSucceeded {
		t.Fatalf("build: %s %s", j.Status, j.Error)
	}
	oldVol := w.emu.StackResource(xStagingStack, "HostXStgApim1Data")

	w.cfg.Customer("customer-x").Env("staging").Provision.VPCCIDR = "10.21.0.0/16"
	r := w.do(alice, "/mcloud provision customer-x staging")
	text := planText(r)
	if r.Request.Needed != 2 || !strings.Contains(text, "replaces volume of x-stg-apim-1 (HostXStgApim1Data): a new, empty volume") ||
		!strings.Contains(text, "Two approvers are needed") || !strings.Contains(text, "replaces the bastion instance: it gets a new address and host key") {
		t.Fatalf("needed %d; plan:\n%s", r.Request.Needed, text)
	}
	one := w.do(bob, "/mcloud approve 2")
	if one.Job != nil {
		t.Fatalf("one approval started the job")
	}
	j := w.waitJob(w.do(erin, "/mcloud approve 2").Job.ID)
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, w.thread())
	}
	if v := w.emu.StackResource(xStagingStack, "HostXStgApim1Data"); v == oldVol || v == "" {
		t.Fatalf("volume %q after the approved replacement (was %s)", v, oldVol)
	}
}

// A new database class is changed in place and needs one approver; a new
// database name replaces the instance (a new, empty one), which needs two:
// one approval does not start it, a second approver's does.
func TestProvisionReplacingTheDatabaseNeedsTwoApprovers(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	alice, bob, erin := w.as("alice", "devops"), w.as("bob", "devops"), w.as("erin", "devops")
	w.do(alice, "/mcloud provision customer-x staging")
	if j := w.waitJob(w.do(bob, "/mcloud approve 1").Job.ID); j.Status != mcloud.JobSucceeded {
		t.Fatalf("build: %s %s", j.Status, j.Error)
	}
	oldDB := w.emu.StackResource(xStagingStack, "Database")
	db := w.cfg.Customer("customer-x").Env("staging").Database

	db.Class = "db.t3.large"
	r := w.do(alice, "/mcloud provision customer-x staging --dry-run")
	if text := planText(r); !strings.Contains(text, "changes the database in place (DBInstanceClass)") || strings.Contains(text, "Two approvers") {
		t.Fatalf("a new class:\n%s", text)
	}

	db.Class, db.Name = "db.t3.medium", "apim2"
	r = w.do(alice, "/mcloud provision customer-x staging")
	text := planText(r)
	if r.Request.Needed != 2 || !strings.Contains(text, "replaces the database: a new, empty database; restore it from a snapshot (DBName)") ||
		!strings.Contains(text, "This replaces or removes the database: data there is lost. Two approvers are needed") {
		t.Fatalf("needed %d; plan:\n%s", r.Request.Needed, text)
	}
	if one := w.do(bob, "/mcloud approve 2"); one.Job != nil || w.emu.ExecuteChangeSetCalls() != 1 {
		t.Fatalf("one approval started the job")
	}
	j := w.waitJob(w.do(erin, "/mcloud approve 2").Job.ID)
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, w.thread())
	}
	if now := w.emu.StackResource(xStagingStack, "Database"); now == oldDB || now == "" {
		t.Fatalf("database %q after the approved replacement (was %s)", now, oldDB)
	}
}

// A resource that fails: the thread names it and CloudFormation's reason,
// and reports the rollback.
func TestProvisionFailureReportsResourceAndRollback(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	w.emu.FailResource(xStagingStack, "HostXStgApim1", "We currently do not have sufficient t3.medium capacity in the Availability Zone you requested")
	w.do(w.as("alice", "devops"), "/mcloud provision customer-x staging")
	j := w.waitJob(w.do(w.as("bob", "devops"), "/mcloud approve 1").Job.ID)
	if j.Status != mcloud.JobFailed {
		t.Fatalf("job %s, want failed", j.Status)
	}
	want := "Stack mcloud-customer-x-staging did not converge: instance x-stg-apim-1 (HostXStgApim1) failed: We currently do not have sufficient t3.medium capacity in the Availability Zone you requested; the rollback completed: nothing of the new stack remains"
	if !strings.Contains(j.Error, want) {
		t.Fatalf("job error %q\nwant %q\nthread:\n%s", j.Error, want, w.thread())
	}
}

// Stopped while CloudFormation builds, the job resumes waiting and never
// executes the change set a second time; nothing exists twice.
func TestProvisionResumesWithoutExecutingTwice(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{rescueAfter: time.Second, emu: awsemu.Options{StackStepDelay: 40 * time.Millisecond}})
	w.do(w.as("alice", "devops"), "/mcloud provision customer-x staging")
	a := w.do(w.as("bob", "devops"), "/mcloud approve 1")
	w.waitFor("the change set to execute", func() bool {
		steps, _ := w.db.JobSteps(context.Background(), a.Job.ID)
		return len(steps) == 1
	})
	w.stopQueue()
	w.startQueue()
	j := w.waitJob(a.Job.ID)
	if j.Status != mcloud.JobSucceeded || j.Attempt != 2 {
		t.Fatalf("job %s on attempt %d: %s\n%s", j.Status, j.Attempt, j.Error, w.thread())
	}
	if n := w.emu.ExecuteChangeSetCalls(); n != 1 {
		t.Fatalf("ExecuteChangeSet called %d times, want once", n)
	}
	if n := w.emu.StackResourceCount("AWS::EC2::Instance"); n != 2 {
		t.Fatalf("%d instances, want 2 (bastion and x-stg-apim-1)", n)
	}
}

var _ = store.InventoryHost{}

// With external DNS no zone is built: the job posts the name → address
// list and the DKIM records for the customer's DNS. A host whose console
// output shows no host key is reported and recorded without one.
func TestProvisionExternalDNSAndUnreadableHostKey(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{emu: awsemu.Options{StackStepDelay: 30 * time.Millisecond}})
	p := w.cfg.Customer("customer-x").Env("staging").Provision
	p.ExternalDNS, p.DNSZone = true, ""
	r := w.do(w.as("alice", "devops"), "/mcloud provision customer-x staging")
	if strings.Contains(planText(r), "hosted zone") {
		t.Fatalf("external DNS plan builds a zone:\n%s", planText(r))
	}
	a := w.do(w.as("bob", "devops"), "/mcloud approve 1")
	w.waitFor("the host's instance", func() bool { return w.emu.StackResource(xStagingStack, "HostXStgApim1") != "" })
	if err := w.emu.SetConsoleOutput(w.emu.StackResource(xStagingStack, "HostXStgApim1"), "cloud-init finished\nlogin: "); err != nil {
		t.Fatal(err)
	}
	j := w.waitJob(a.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, thread)
	}
	for _, want := range []string{
		"For the customer's DNS (external_dns), the names and addresses:\nx-stg-apim-1 → 10.20.",
		"DKIM records for mail.customer-x.example.com (add them to the customer's DNS):\n",
		"._domainkey.mail.customer-x.example.com CNAME ",
		"no host key for x-stg-apim-1 (patch and run refuse them until a key is configured)",
	} {
		if !strings.Contains(thread, want) {
			t.Errorf("thread lacks %q:\n%s", want, thread)
		}
	}
	inv, _ := w.db.Inventory(context.Background(), "customer-x", "staging")
	for _, h := range inv {
		if h.Host == "x-stg-apim-1" && (h.HostKey != "" || !strings.Contains(h.KeyProblem, "shows no SSH host keys")) {
			t.Fatalf("x-stg-apim-1 recorded as %+v", h)
		}
	}
}
