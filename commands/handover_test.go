package commands_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/integrations/web"
	"github.com/mcloud/mcloud/provision"
)

// --to naming a user of another customer, or someone who is neither the
// customer's nor the team's, is refused before anything is read from
// Secrets Manager; the plan names secrets, never values.
func TestHandoverRefusesOtherRecipients(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	cu := w.cfg.Customer("customer-x")
	w.emu.AddSecret(awsemu.Secret{AccountID: cu.AWS.AccountID, Region: cu.AWS.Region, Name: "customer-x/prod/apim-admin", Value: `{"username":"admin","password":"never-shown"}`})
	carol, alice := w.as("carol", "customer-x-shared"), w.as("alice", "devops")
	for _, tt := range []struct {
		who  mcloud.Caller
		line string
		want string
	}{
		{alice, "handover customer-x prod --to @dave", "dave is a user of customer-y, not of customer-x"},
		{carol, "handover customer-x prod --to <@U0DAVE|dave>", "dave is a user of customer-y, not of customer-x"},
		{carol, "handover customer-x prod --to @mallory", "@mallory is neither a user of customer-x nor on the DevOps team"},
		{alice, "handover customer-x prod --to @mallory --dry-run", "@mallory is neither a user of customer-x nor on the DevOps team"},
	} {
		r := w.svc.Handle(t.Context(), tt.who, tt.line)
		if r.Code != mcloud.EUNAUTHORIZED || !strings.Contains(r.Error, tt.want) {
			t.Errorf("%s by %s = %q (%s), want refused: %s", tt.line, tt.who.Name, r.Error, r.Code, tt.want)
		}
	}
	if r := w.svc.Handle(t.Context(), carol, "handover customer-y prod"); r.Code != mcloud.EUNAUTHORIZED {
		t.Errorf("carol handing over customer-y = %q (%s), want refused", r.Error, r.Code)
	}
	for _, op := range []string{"GetSecretValue", "DescribeSecret", "RotateSecret"} {
		if n := w.emu.Calls("secretsmanager:" + op); n != 0 {
			t.Errorf("Secrets Manager %s was called %d times for refused handovers", op, n)
		}
	}
	if n := len(w.thread()); n != 0 {
		t.Errorf("refused handovers posted:\n%s", w.thread())
	}

	// DevOps may hand customer-x's credentials to carol; the plan says
	// what goes where, by the secret's name.
	r := w.do(alice, "handover customer-x prod --to @carol --dry-run")
	plan := r.Request.Plan
	text := plan.Summary + "\n" + strings.Join(plan.Steps, "\n") + "\n" + strings.Join(plan.Notes, "\n")
	for _, want := range []string{"Hand customer-x/prod over: 2 product URLs in #customer-x-shared, 1 credential to carol by direct message",
		"send the admin credential of API Publisher (secret customer-x/prod/apim-admin) to carol by direct message only",
		"check https://apim.customer-x.example.net/devportal from bot and post it in #customer-x-shared"} {
		if !strings.Contains(text, want) {
			t.Errorf("the plan lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "never-shown") || w.emu.Calls("secretsmanager:GetSecretValue") != 0 {
		t.Errorf("the plan read the secret:\n%s", text)
	}
	if r.Request.Params["to"] != "U0CAROL" {
		t.Errorf("the request sends to %q, want carol's id", r.Request.Params["to"])
	}
}

// A product whose url is left out takes it from the provisioning stack's
// output its url_output names, read from CloudFormation when the handover
// runs; a product whose output the stack lacks is posted flagged, not
// left out.
func TestHandoverURLsFromStackOutputs(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(site.Close)
	w.svc.Deps.URLs = web.Checker{}
	env := w.cfg.Customer("customer-x").Env("staging")
	env.Products = []config.Product{{Name: "API Publisher", URLOutput: "PublisherUrl"}, {Name: "Gateway", URLOutput: "GatewayUrl"}}

	acct := w.account("customer-x")
	stack := provision.StackName("customer-x", "staging")
	tpl := `{"Resources": {"VPC": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.20.0.0/16"}}},
  "Outputs": {"PublisherUrl": {"Description": "publisher", "Value": "` + site.URL + `/publisher"}}}`
	if _, err := acct.CreateChangeSet(t.Context(), aws.ChangeSetRequest{Stack: stack, Name: "c1", Template: tpl, Create: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := acct.WaitChangeSet(t.Context(), stack, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := acct.ExecuteChangeSet(t.Context(), stack, "c1"); err != nil {
		t.Fatal(err)
	}

	carol := w.as("carol", "customer-x-shared")
	r := w.do(carol, "handover customer-x staging")
	if steps := strings.Join(r.Request.Plan.Steps, "\n"); !strings.Contains(steps, "check the URL in output PublisherUrl of stack "+stack+" from bot") {
		t.Errorf("the plan does not say where the URL comes from:\n%s", steps)
	}
	a := w.do(w.as("bob", "customer-x-shared"), fmt.Sprintf("/mcloud approve %d", r.Request.ID))
	if a.Job == nil {
		t.Fatalf("approve: %+v", a)
	}
	if j := w.waitJob(a.Job.ID); j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\n%s", j.Status, j.Error, w.thread())
	}
	thread := w.thread()
	for _, want := range []string{
		"• API Publisher: " + site.URL + "/publisher\n",
		"• Gateway: no URL yet (stack " + stack + " has no output GatewayUrl); the DevOps team will look at it",
	} {
		if !strings.Contains(thread, want) {
			t.Errorf("the thread lacks %q:\n%s", want, thread)
		}
	}
}
