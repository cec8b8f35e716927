package commands_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
)

// run on every host of an environment through the bastion: the thread
// shows failures first and identical outputs once, with their hosts.
func TestRunSummarisesOutputPerHost(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	for i, v := range []string{"4.2.0", "", "4.2.0"} {
		if v != "" {
			os.WriteFile(filepath.Join(w.env.Hosts[i].Dir, "version"), []byte(v+"\n"), 0o644)
		}
	}
	r, job := w.request("alice", "devops", `/mcloud run customer-x prod -- cat $MCLOUD_HOST_DIR/version`)
	plan := r.Request.Plan
	if plan.Summary != "Run this command on 3 hosts of customer-x/prod, up to 10 at a time:" || plan.Command != "cat $MCLOUD_HOST_DIR/version" ||
		len(plan.Steps) != 3 || plan.Steps[0] != fmt.Sprintf("host-1 (%s) as %s", w.env.Hosts[0].Addr(), w.env.User) {
		t.Fatalf("plan: %+v", plan)
	}
	j := w.waitJob(job)
	want := "`cat $MCLOUD_HOST_DIR/version` failed on 1 of 3 hosts of customer-x/prod (host-2); each host's output is in the thread of #1."
	if j.Status != mcloud.JobFailed || j.Error != want {
		t.Fatalf("job %s: %q\nwant        %q", j.Status, j.Error, want)
	}
	wantOutput := fmt.Sprintf("Job #1: `cat $MCLOUD_HOST_DIR/version` on 3 hosts of customer-x/prod: 1 failed, 2 ok\n"+
		"FAILED on host-2: exit 1\n"+
		"    ! cat: %s/version: No such file or directory\n"+
		"ok on host-1, host-3 (2 hosts): exit 0\n"+
		"    | 4.2.0", w.env.Hosts[1].Dir)
	thread := w.thread(r.Request.ID)
	if !containsInOrder(thread, wantOutput, "Job #1: run on 3 hosts: host-2: exit 1; host-1, host-3: exit 0") {
		t.Fatalf("thread:\n%s\n\nwant the output:\n%s", strings.Join(thread, "\n"), wantOutput)
	}
	t.Logf("thread:\n%s", strings.Join(thread, "\n"))
	// Asked elsewhere (alice's DM with the bot), "job 1" says where the
	// output is instead of "above".
	alice, _ := w.cfg.UserByName("alice")
	jr := w.svc.Handle(context.Background(), w.cfg.Resolve(alice, "D0ALICE"), "/mcloud job 1")
	if text := jr.Title + "\n" + strings.Join(jr.Lines, "\n"); strings.Contains(text, "above") || !strings.Contains(text, "Progress, output and links are in #devops, in the thread of #1.") {
		t.Fatalf("job 1 in alice's DM:\n%s%s", text, jr.Error)
	}
	if audit := w.auditDetails(job); !containsInOrder(audit, "step: run on 3 hosts: host-2: exit 1; host-1, host-3: exit 0", "failed: `cat") {
		t.Fatalf("audit:\n%s", strings.Join(audit, "\n"))
	}
}

// run is the DevOps team's tool: customers cannot use it, it waits for an
// approver, and --hosts narrows it.
func TestRunAccessAndHosts(t *testing.T) {
	w := startSSHWorld(t, worldOptions{network: sshLoopback})
	if r := w.do("carol", "customer-x-shared", "/mcloud run customer-x prod -- uptime"); r.Error != `"run" is for the DevOps team only; ask them in this channel.` {
		t.Fatalf("customer: %+v", r)
	}
	if r := w.do("alice", "devops", "/mcloud run customer-x prod"); r.Error != "Missing <command>: the command to run on each host, after --." {
		t.Fatalf("no command: %+v", r)
	}
	if r := w.do("alice", "devops", "/mcloud run customer-x prod --hosts host-4 -- uptime"); r.Error != `Unknown host "host-4" in --hosts; customer-x/prod has: host-1, host-2, host-3.` {
		t.Fatalf("unknown host: %+v", r)
	}
	r, job := w.request("alice", "devops", "/mcloud run customer-x prod --hosts host-2 -- hostname --short")
	if r.Request.Needed != 1 {
		t.Fatalf("run must wait for an approver: %+v", r.Request)
	}
	if j := w.waitJob(job); j.Status != mcloud.JobSucceeded || j.Error != "" {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	if !containsInOrder(w.thread(r.Request.ID),
		"Job #1: `hostname --short` on 1 host of customer-x/prod: 1 ok\nok on host-2: exit 0\n    | host-2",
		"Job #1 succeeded: ran `hostname --short` on 1 host of customer-x/prod; every one exited 0") {
		t.Fatalf("thread:\n%s", strings.Join(w.thread(r.Request.ID), "\n"))
	}
}

// A bastion that is down: every host is reported not run, with the reason
// said once for all of them.
func TestRunStoppedBastion(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	w.env.Bastion.Stop()
	r, job := w.request("alice", "devops", "/mcloud run customer-x prod -- uptime")
	j := w.waitJob(job)
	if j.Status != mcloud.JobFailed || !strings.HasPrefix(j.Error, "`uptime` failed on 3 of 3 hosts") {
		t.Fatalf("job %s: %q", j.Status, j.Error)
	}
	want := fmt.Sprintf("FAILED on host-1, host-2, host-3 (3 hosts): not run: the bastion %s is unreachable (connection refused), so no host behind it could be contacted", w.env.Bastion.Addr())
	if !containsInOrder(w.thread(r.Request.ID), want) {
		t.Fatalf("thread:\n%s\nwant %q", strings.Join(w.thread(r.Request.ID), "\n"), want)
	}
}

// BenchmarkRunHostname50 measures the run verb's own job, start to finish,
// running `hostname` on 50 real sshd hosts behind one bastion: with the
// default fan-out, one host at a time (ssh.parallelism: 1), and against
// `ansible all -m command -a hostname` with default forks through the same
// bastion (ProxyJump). Each iteration is a fresh request, approval and job,
// so connecting is included, as it is for a person typing the command.
//
//	go test -run '^$' -bench RunHostname50 -benchtime 1x ./commands/
func BenchmarkRunHostname50(b *testing.B) {
	const hosts = 50
	figures := map[string]time.Duration{}
	w := startSSHWorld(b, worldOptions{hosts: hosts})
	fanout := fmt.Sprintf("run-verb-fanout-%d", config.DefaultSSHParallelism)
	for _, mode := range []struct {
		name  string
		world *sshWorld
	}{{fanout, w}, {"run-verb-serial", w.withParallelism(1)}} {
		b.Run(mode.name, func(b *testing.B) {
			world := *mode.world
			world.t = b // fail the sub-benchmark, from its own goroutine
			var total time.Duration
			for i := 0; i < b.N; i++ {
				_, job := world.request("alice", "devops", "/mcloud run customer-x prod -- hostname")
				j := world.waitJob(job)
				if j.Status != mcloud.JobSucceeded {
					b.Fatalf("job %s: %s", j.Status, j.Error)
				}
				total += j.EndedAt.Sub(j.StartedAt)
			}
			figures[mode.name] = total / time.Duration(b.N)
			b.ReportMetric(figures[mode.name].Seconds(), "s/run")
		})
	}
	b.Run("ansible", func(b *testing.B) {
		ansible, err := exec.LookPath("ansible")
		if err != nil {
			b.Fatalf("ansible not installed (Debian package ansible): %v", err)
		}
		inv, env, err := w.env.AnsibleSetup(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		var total time.Duration
		for i := 0; i < b.N; i++ {
			cmd := exec.CommandContext(context.Background(), ansible, "all", "-i", inv, "-m", "command", "-a", "hostname")
			cmd.Env = env
			start := time.Now()
			out, err := cmd.CombinedOutput()
			total += time.Since(start)
			if err != nil {
				b.Fatalf("ansible: %v\n%s", err, out)
			}
			if ok := regexp.MustCompile(`(?m)^host-\d+ \| CHANGED \| rc=0 >>\nhost-\d+$`).FindAllIndex(out, -1); len(ok) != hosts {
				b.Fatalf("ansible succeeded on %d of %d hosts:\n%s", len(ok), hosts, out)
			}
		}
		figures["ansible"] = total / time.Duration(b.N)
		b.ReportMetric(figures["ansible"].Seconds(), "s/run")
	})
	fmt.Printf("hostname on %d sshd hosts via one bastion (network namespaces: %v), wall time per run:\n", hosts, w.env.Namespaced)
	for _, name := range []string{fanout, "run-verb-serial", "ansible"} {
		if d, ok := figures[name]; ok {
			fmt.Printf("  %-24s %7.2fs\n", name, d.Seconds())
		}
	}
}

// What follows -- reaches the host's shell exactly as typed: quotes keep
// their spaces and the command's own options are not mcloud's.
func TestRunKeepsQuotesAfterDashes(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	r, job := w.request("alice", "devops", `/mcloud run customer-x prod --hosts host-1 -- printf '[%s]' "two  spaces" --hosts`)
	if got := r.Request.Params["command"]; got != `printf '[%s]' "two  spaces" --hosts` {
		t.Fatalf("command = %q", got)
	}
	if j := w.waitJob(job); j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	thread := strings.Join(w.thread(r.Request.ID), "\n")
	if !strings.Contains(thread, "| [two  spaces][--hosts]") {
		t.Fatalf("thread:\n%s", thread)
	}
}

// Issue 9 item 4: mcloud's options typed after -- reach the hosts; the
// plan says so, first, and shows the command exactly as it will run.
func TestRunWarnsAboutOptionsAfterDashes(t *testing.T) {
	w := startSSHWorld(t, worldOptions{network: sshLoopback})
	for _, line := range []string{
		"/mcloud run customer-x prod -- rm -rf / --no-preserve-root --dry-run",
		"/mcloud run customer-x prod — rm -rf / --no-preserve-root —dry-run",
	} {
		r := w.do("alice", "devops", line)
		if r.Error != "" || r.Request == nil {
			t.Fatalf("%s: %+v", line, r)
		}
		p := r.Request.Plan
		want := "--dry-run after -- is sent to the hosts, not read by mcloud; put mcloud's options before --."
		if len(p.Warnings) != 1 || p.Warnings[0] != want {
			t.Errorf("%s: warnings %q, want %q", line, p.Warnings, want)
		}
		if cmd := strings.SplitN(line, " ", 6)[5]; p.Command != cmd {
			t.Errorf("%s: plan command %q, want %q", line, p.Command, cmd)
		}
	}
	// The audit log keeps what the approver was shown.
	if audit := w.auditDetails(0); !containsInOrder(audit, "planned: Run this command on 3 hosts of customer-x/prod, up to 10 at a time: "+
		"`rm -rf / --no-preserve-root --dry-run` (warning: --dry-run after -- is sent to the hosts, not read by mcloud; put mcloud's options before --)") {
		t.Errorf("audit:\n%s", strings.Join(audit, "\n"))
	}
	// Before --, it is mcloud's: a dry run, no warning.
	r := w.do("alice", "devops", "/mcloud run customer-x prod --dry-run -- uptime")
	if !r.DryRun || len(r.Request.Plan.Warnings) != 0 || r.Request.Plan.Command != "uptime" {
		t.Fatalf("dry run before --: %+v", r)
	}
}
