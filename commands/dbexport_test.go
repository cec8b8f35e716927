package commands_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// seedXDatabase gives customer-x's prod a database with two nightly
// snapshots and returns the newer one's ARN.
func seedXDatabase(w *awsWorld) string {
	w.t.Helper()
	x := w.cfg.Customer("customer-x")
	if _, err := w.emu.AddDBInstance(awsemu.DBInstance{AccountID: x.AWS.AccountID, Region: "eu-west-1", Identifier: "x-prod-db",
		Tags: map[string]string{"mcloud:customer": "customer-x", "mcloud:env": "prod"}}); err != nil {
		w.t.Fatal(err)
	}
	var newest string
	for _, age := range []time.Duration{44 * time.Hour, 20 * time.Hour} {
		arn, err := w.emu.AddDBSnapshot(awsemu.DBSnapshot{AccountID: x.AWS.AccountID, Region: "eu-west-1", InstanceIdentifier: "x-prod-db",
			Identifier: "rds:x-prod-db-" + time.Now().Add(-age).Format("2006-01-02-15"), Type: "automated", Created: time.Now().Add(-age)})
		if err != nil {
			w.t.Fatal(err)
		}
		newest = arn
	}
	return newest
}

func TestDBExportPostsALinkWhenDone(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{emu: awsemu.Options{ExportDelay: 300 * time.Millisecond}})
	newest := seedXDatabase(w)
	r := w.do(w.as("carol", "customer-x-shared"), "/mcloud db-export customer-x prod")
	if r.Job != nil || r.Request.Needed != 1 {
		t.Fatalf("a customer's export waits for DevOps: %+v", r)
	}
	plan := r.Request.Plan
	if !strings.Contains(plan.Steps[0], "export snapshot rds:x-prod-db-") || !strings.Contains(plan.Steps[0], "(taken 20h00m ago, postgres, 20 GiB) to s3://customer-x-exports/rds-exports/prod/") {
		t.Errorf("plan step = %q", plan.Steps[0])
	}
	if n := w.emu.Calls("rds:StartExportTask"); n != 0 {
		t.Fatalf("export started before approval")
	}
	a := w.do(w.as("bob", "devops"), "/mcloud approve 1")
	j := w.waitJob(a.Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, thread)
	}
	m := regexp.MustCompile(`http://\S+/customer-x-exports/rds-exports/prod/mcloud-job1-x-prod-db/export_info_mcloud-job1-x-prod-db\.json\?\S+`).FindString(thread)
	if m == "" {
		t.Fatalf("no link to the export in the thread:\n%s", thread)
	}
	resp, err := http.Get(m)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		ID        string `json:"exportTaskIdentifier"`
		SourceARN string `json:"sourceArn"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET export link: %s, %v", resp.Status, err)
	}
	if info.ID != "mcloud-job1-x-prod-db" || info.SourceARN != newest {
		t.Fatalf("exported %+v; want task mcloud-job1-x-prod-db of the newest snapshot %s", info, newest)
	}
	for _, want := range []string{
		"Job #1: start export: started mcloud-job1-x-prod-db of snapshot rds:x-prod-db-",
		"Job #1: wait for export: 1 export complete",
		"Job #1 succeeded: customer-x/prod database exported to s3://customer-x-exports/rds-exports/prod/ (mcloud-job1-x-prod-db, 1 file); links posted above, valid until ",
	} {
		if !strings.Contains(thread, want) {
			t.Errorf("thread lacks %q:\n%s", want, thread)
		}
	}
}

// Stopped while it waits for the export, the job resumes and does not
// start a second export.
func TestDBExportResumesWithoutStartingAgain(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{rescueAfter: time.Second, emu: awsemu.Options{ExportDelay: 2 * time.Second}})
	seedXDatabase(w)
	w.do(w.as("alice", "devops"), "/mcloud db-export customer-x prod")
	a := w.do(w.as("bob", "devops"), "/mcloud approve 1")
	w.waitFor("the export to start", func() bool {
		steps, _ := w.db.JobSteps(context.Background(), a.Job.ID)
		return len(steps) == 1
	})
	w.stopQueue()
	w.startQueue()
	j := w.waitJob(a.Job.ID)
	if j.Status != mcloud.JobSucceeded || j.Attempt != 2 {
		t.Fatalf("job %s on attempt %d: %s\n%s", j.Status, j.Attempt, j.Error, w.thread())
	}
	if n := w.emu.Calls("rds:StartExportTask"); n != 1 {
		t.Fatalf("StartExportTask called %d times, want once", n)
	}
}

func TestDBExportRefusals(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	x := w.cfg.Customer("customer-x")
	if _, err := w.emu.AddDBInstance(awsemu.DBInstance{AccountID: x.AWS.AccountID, Region: "eu-west-1", Identifier: "x-stg-db",
		Tags: map[string]string{"mcloud:customer": "customer-x", "mcloud:env": "staging"}}); err != nil {
		t.Fatal(err)
	}
	alice := w.as("alice", "devops")
	for line, want := range map[string]string{
		"/mcloud db-export customer-x prod":    "Found no RDS database of customer-x/prod in eu-west-1 (tagged mcloud:customer=customer-x and mcloud:env=prod, or listed in rds_instances); nothing to export.",
		"/mcloud db-export customer-x staging": "RDS database x-stg-db has no available snapshot in eu-west-1 to export; take one with /mcloud backup customer-x staging now.",
		"/mcloud db-export customer-x":         "Missing <env>: which environment's database.",
	} {
		if r := w.svc.Handle(context.Background(), alice, line); r.Error != want {
			t.Errorf("%s:\n error %q\n want  %q", line, r.Error, want)
		}
	}
	x.AWS.ExportRoleARN = ""
	if r := w.svc.Handle(context.Background(), alice, "/mcloud db-export customer-x staging"); r.Error != "customer-x has no RDS export role and KMS key in mcloud's configuration (aws.export_role_arn, aws.export_kms_key_id); ask the DevOps team to add them." {
		t.Errorf("without an export role: %q", r.Error)
	}
	if n := w.emu.Calls("rds:StartExportTask"); n != 0 {
		t.Fatalf("refused exports started %d tasks", n)
	}
}
