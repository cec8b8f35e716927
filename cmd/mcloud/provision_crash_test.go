package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// TestKill9MidProvisionResumesWithoutExecutingTwice runs provision in the
// real binary against an emulator that outlives it, kills the process with
// SIGKILL while CloudFormation builds the stack, restarts it, and checks
// that the job finishes, ExecuteChangeSet was called once, and no resource
// exists twice.
func TestKill9MidProvisionResumesWithoutExecutingTwice(t *testing.T) {
	bin := mcloudBinary(t)
	cfg := fastRescueConfig(t)
	dbPath := filepath.Join(t.TempDir(), "mcloud.db")

	emu, env := crashEmulator(t, awsemu.Options{StackStepDelay: 200 * time.Millisecond})
	args := []string{"shell", "-c", cfg, "--database-url", dbPath, "--user", "alice", "--channel", "devops"}

	killWhen(t, bin, args, env, "/mcloud provision customer-x staging\n:user bob\n/mcloud approve 1\n", "Job #1: execute change set:")
	if n := emu.ExecuteChangeSetCalls(); n != 1 {
		t.Fatalf("ExecuteChangeSet called %d times before the kill, want 1", n)
	}
	_, job, steps := jobState(t, dbPath, 1)
	if job.Status != mcloud.JobRunning || len(steps) != 1 {
		t.Fatalf("after kill -9: job %s with steps %v; want running with the change set executed", job.Status, steps)
	}

	out, _ := restart(t, bin, args, env, ":wait\n/mcloud job 1\n")
	for _, want := range []string{
		"Job #1 was interrupted (the process running it stopped) and is resuming from its last completed step.",
		"Job #1 succeeded: customer-x/staging provisioned: stack mcloud-customer-x-staging is CREATE_COMPLETE",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("restarted output lacks %q:\n%s", want, out)
		}
	}
	if n := emu.ExecuteChangeSetCalls(); n != 1 {
		t.Fatalf("ExecuteChangeSet called %d times in all, want once", n)
	}
	for typ, want := range map[string]int{"AWS::EC2::Instance": 2, "AWS::EC2::VPC": 1, "AWS::EC2::Volume": 1} {
		if n := emu.StackResourceCount(typ); n != want {
			t.Errorf("%d resources of type %s, want %d", n, typ, want)
		}
	}
}
