package main

import (
	"regexp"
	"strings"
	"testing"
)

// Issue 15's acceptance in the shell: carol's handover waits for DevOps;
// once bob approves, the URLs are in #customer-x-shared and the
// credential only in carol's DM; the audit log says who handed what to
// whom.
func TestShellSandboxHandover(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	out := runShellScript(t, strings.Join([]string{
		"/mcloud handover customer-x prod",
		":user bob",
		"/mcloud approve 1",
		":wait",
		":user alice",
		":channel devops",
		"/mcloud audit customer-x",
	}, "\n")+"\n", "--sandbox", "--user", "carol", "--channel", "customer-x-shared")
	xs := transcript(out)
	if len(xs) != 3 {
		t.Fatalf("got %d commands in the transcript, want 3:\n%s", len(xs), out)
	}
	expectReply(t, xs, 0, "carol@#customer-x-shared> /mcloud handover customer-x prod",
		"Plan for request #1: handover for customer-x, asked by carol in #customer-x-shared (prod)",
		"send the admin credential of API Publisher (secret customer-x/prod/apim-admin) to carol by direct message only",
		"Waiting for 1 approval from an approver other than carol")
	expectReply(t, xs, 1, "bob@#customer-x-shared> /mcloud approve 1",
		"[#customer-x-shared, thread of request #1] customer-x/prod is ready. Its products:",
		"• API Publisher: https://apim.customer-x.example.net/publisher",
		"[DM to carol] Admin credential of API Publisher for customer-x/prod",
		"username: admin",
		"Please change this password after your first login.",
		"Job #1 succeeded: customer-x/prod handed over")
	expectReply(t, xs, 2, "alice@#devops> /mcloud audit customer-x",
		"handed the customer-x/prod API Publisher credential (secret customer-x/prod/apim-admin) to carol (U0CAROL) by direct message")
	password := regexp.MustCompile(`password: (sandbox-[0-9a-f]+)`).FindStringSubmatch(out)
	if password == nil {
		t.Fatalf("no password in carol's DM:\n%s", out)
	}
	if n := strings.Count(out, password[1]); n != 1 {
		t.Errorf("the password appears %d times in the shell's output, want once (the DM):\n%s", n, out)
	}
	dm := strings.Index(out, "[DM to carol]")
	end := strings.Index(out[dm:], "\n  mcloud:") // the next message
	if at := strings.Index(out, password[1]); dm < 0 || at < dm || (end > 0 && at > dm+end) {
		t.Errorf("the password is outside carol's DM:\n%s", out)
	}
}
