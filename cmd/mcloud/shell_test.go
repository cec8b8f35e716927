package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// exchange is one command typed in the shell and what came back.
type exchange struct{ prompt, reply string }

var promptRE = regexp.MustCompile(`^[a-z]+@#[a-z0-9-]+> `)

// transcript splits a scripted shell's output at its echoed prompts.
func transcript(out string) []exchange {
	var xs []exchange
	for _, line := range strings.Split(out, "\n") {
		if promptRE.MatchString(line) {
			if strings.Contains(line, "> /mcloud") {
				xs = append(xs, exchange{prompt: line})
				continue
			}
			line = "" // a comment or a shell command: belongs to no reply
		}
		if len(xs) > 0 {
			xs[len(xs)-1].reply += line + "\n"
		}
	}
	return xs
}

// expectReply checks that command i of a transcript is prompt and that its
// reply contains every one of wants.
func expectReply(t *testing.T, xs []exchange, i int, prompt string, wants ...string) {
	t.Helper()
	if xs[i].prompt != prompt {
		t.Fatalf("command %d is %q, want %q", i, xs[i].prompt, prompt)
	}
	for _, w := range wants {
		if !strings.Contains(xs[i].reply, w) {
			t.Errorf("reply to %q lacks %q:\n%s", prompt, w, xs[i].reply)
		}
	}
}

func runShellScript(t *testing.T, script string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	args = append([]string{"shell", "-c", "../../examples/mcloud.yaml", "--database-url", filepath.Join(t.TempDir(), "mcloud.db")}, args...)
	if code := Run(ctx, args, strings.NewReader(script), &out, &errb); code != 0 {
		t.Fatalf("mcloud shell exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	return out.String()
}

func TestShellAcceptanceScript(t *testing.T) {
	script, err := os.ReadFile("testdata/acceptance.mcloud")
	if err != nil {
		t.Fatal(err)
	}
	out := runShellScript(t, string(script))
	xs := transcript(out)
	if len(xs) != 12 {
		t.Fatalf("got %d commands in the transcript, want 12:\n%s", len(xs), out)
	}
	expect := func(i int, prompt string, wants ...string) {
		t.Helper()
		expectReply(t, xs, i, prompt, wants...)
	}
	// The customer may be left out in her channel, so the word may be an
	// environment: both readings are answered (issue 9 item 5).
	expect(0, "carol@#customer-x-shared> /mcloud status customer-y",
		`Error: Unknown environment "customer-y" for customer-x; it has: prod, staging; from this channel you can only act on customer-x.`)
	expect(1, "carol@#customer-x-shared> /mcloud echo customer-x please check the gateway",
		"Plan for request #1: echo for customer-x, asked by carol in #customer-x-shared",
		"Waiting for 1 approval from an approver other than carol", "Approve: /mcloud approve 1")
	expect(2, "carol@#customer-x-shared> /mcloud approve 1", `Error: "approve" is for the DevOps team only`)
	expect(3, "alice@#devops> /mcloud approve 1", "Error: Only an approver can approve requests, and you are not one.")
	expect(4, "bob@#devops> /mcloud approve 1",
		"bob approved request #1 (echo for customer-x); it runs as job #1.",
		"[#customer-x-shared, thread of request #1] Job #1 started: echo for customer-x.",
		`Job #1: step 3: said "please check the gateway"`,
		`[#customer-x-shared, thread of request #1] Job #1 succeeded: repeated "please check the gateway" in 3 steps`)
	expect(5, "bob@#devops> /mcloud approve 1", "You already approved request #1; it runs as job #1, once.")
	expect(6, "carol@#customer-x-shared> /mcloud echo customer-x this one will be denied", "Plan for request #2")
	expect(7, "erin@#devops> /mcloud deny 2 not during the release freeze",
		"erin denied request #2 (echo for customer-x); it will not run. Reason: not during the release freeze",
		"[#customer-x-shared, thread of request #2] erin denied request #2")
	expect(8, "erin@#devops> /mcloud approve 2", "Error: Request #2 was denied by erin and will not run.")
	expect(9, "alice@#devops> /mcloud jobs customer-x", "Job #1 echo for customer-x: succeeded")
	expect(10, "alice@#devops> /mcloud audit customer-x",
		"carol    refused   in customer-x-shared  status: Unknown environment \"customer-y\" for customer-x; it has: prod, staging; from this channel you can only act on customer-x.",
		"#1             carol    requested in customer-x-shared  echo customer=customer-x text=please check the gateway",
		"#1             alice    refused   in devops  approval refused: Only an approver can approve requests",
		"#1             bob      approved  in devops  approval 1 of 1",
		"#1 job 1       bob      queued    in devops  job #1 queued",
		"#1 job 1       mcloud   started",
		`#1 job 1       mcloud   step      in customer-x-shared  step 1: said "please check the gateway"`,
		"#1 job 1       mcloud   succeeded",
		"#2             erin     denied    in devops  denied: not during the release freeze",
		"#2             erin     refused   in devops  approval refused: Request #2 was denied by erin")
	expect(11, "carol@#customer-x-shared> /mcloud audit customer-x", `Error: "audit" is for the DevOps team only`)

	// The job ran exactly once, and the denied request never became a job.
	if n := strings.Count(out, "Job #1 started"); n != 1 {
		t.Errorf("job #1 started %d times, want once", n)
	}
	if strings.Contains(out, "job #2") || strings.Contains(out, "Job #2") {
		t.Errorf("the denied request ran as a job:\n%s", out)
	}
	if n := strings.Count(xs[10].reply, "step      in"); n != 3 {
		t.Errorf("audit shows %d steps, want 3", n)
	}
}

func TestShellBadInputs(t *testing.T) {
	out := runShellScript(t, ":user mallory\n:channel nowhere\n:frob\nhello bot\n/mcloud\n")
	for _, want := range []string{
		`Unknown user "mallory"; users: alice, bob, erin, carol, dave`,
		"You are now in #nowhere, a channel mcloud is not configured for: only you see its answers",
		"Unknown shell command :frob; type :help.",
		"(not a command: start with /mcloud, e.g. /mcloud help)",
		"mcloud commands you can run here:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestShellRefusesUnknownStartingUser(t *testing.T) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"shell", "-c", "../../examples/mcloud.yaml", "--user", "zed",
		"--database-url", filepath.Join(t.TempDir(), "m.db")}, strings.NewReader(""), &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), `unknown user "zed"`) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
