package commands_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
)

// The whole story against real sshd: a customer asks in their shared
// channel, the plan lists the hosts in rollout order with the exact
// commands, DevOps approve, and the job patches one host after the other
// through the bastion, reporting each host in the thread and auditing
// every step.
func TestPatchRollsOutHostByHostThroughBastion(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	const content = "patch bytes \x00\xff v42\n"
	w.writePatch("WSO2-2024-0042", content)

	r := w.do("carol", "customer-x-shared", "/mcloud patch customer-x prod WSO2-2024-0042")
	if r.Error != "" || r.Request == nil {
		t.Fatalf("plan: %+v", r)
	}
	plan := r.Request.Plan
	if len(plan.Steps) != 4 || !strings.HasPrefix(plan.Steps[0], "reach all 3 hosts through the bastion "+w.env.Bastion.Addr()) {
		t.Fatalf("plan steps: %q", plan.Steps)
	}
	for i, h := range w.env.Hosts {
		want := fmt.Sprintf("%s (%s): pre-check `systemctl is-active wso2am`, stop `systemctl stop wso2am`, copy the patch file, "+
			"apply `mcloud-patch apply wso2am WSO2-2024-0042 /tmp/mcloud-WSO2-2024-0042.zip`, start `systemctl start wso2am`, health check GET http://", h.Name, h.Addr())
		if !strings.HasPrefix(plan.Steps[i+1], want) {
			t.Errorf("plan step %d = %q\nwant prefix   %q", i+2, plan.Steps[i+1], want)
		}
	}
	if r.Request.Needed != 1 || r.Request.Status != mcloud.RequestPending {
		t.Fatalf("a customer's patch must wait for one DevOps approval: %+v", r.Request)
	}
	if rr := w.do("carol", "customer-x-shared", fmt.Sprintf("/mcloud approve %d", r.Request.ID)); rr.Error == "" {
		t.Fatal("carol approved her own patch")
	}
	a := w.do("bob", "devops", fmt.Sprintf("/mcloud approve %d", r.Request.ID))
	if a.Job == nil {
		t.Fatalf("approve: %+v", a)
	}
	j := w.waitJob(a.Job.ID)
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s\nthread:\n%s", j.Status, j.Error, strings.Join(w.thread(r.Request.ID), "\n"))
	}
	t.Logf("thread:\n%s", strings.Join(w.thread(r.Request.ID), "\n"))

	// One host at a time, each completely before the next.
	var want []string
	for _, h := range w.env.Hosts {
		want = append(want,
			h.Name+" systemctl is-active wso2am",
			h.Name+" systemctl stop wso2am",
			h.Name+" mcloud-patch apply wso2am WSO2-2024-0042 /tmp/mcloud-WSO2-2024-0042.zip",
			h.Name+" systemctl start wso2am")
	}
	if got := w.ranSequence(); !slices.Equal(got, want) {
		t.Fatalf("what ran where, in order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, h := range w.env.Hosts {
		got, err := os.ReadFile(filepath.Join(h.Dir, "installed-WSO2-2024-0042"))
		if err != nil || string(got) != content {
			t.Errorf("%s: installed patch %q, %v", h.Name, got, err)
		}
		if !w.exists(i, "wso2am.state") {
			t.Errorf("%s: service never touched", h.Name)
		}
	}

	thread := strings.Join(w.thread(r.Request.ID), "\n")
	for _, h := range w.env.Hosts {
		if !strings.Contains(thread, fmt.Sprintf("Job #%d: patch %s: pre-check ok, stopped, copied, applied, started, healthy on attempt 1 in ", j.ID, h.Name)) {
			t.Errorf("thread lacks %s's progress:\n%s", h.Name, thread)
		}
	}
	if !strings.Contains(thread, fmt.Sprintf("Job #%d succeeded: WSO2-2024-0042 is on 3 hosts of customer-x/prod: host-1, host-2, host-3", j.ID)) {
		t.Errorf("thread lacks the outcome:\n%s", thread)
	}
	audit := w.auditDetails(j.ID)
	if !containsInOrder(audit,
		"step: host-1: pre-check `systemctl is-active wso2am` in ",
		"step: host-1: stop `systemctl stop wso2am` in ",
		fmt.Sprintf("step: host-1: copy %s (%d B) to /tmp/mcloud-WSO2-2024-0042.zip: ok", filepath.Join(w.patchDir, "WSO2-2024-0042.zip"), len(content)),
		"step: host-1: apply `mcloud-patch apply wso2am WSO2-2024-0042 /tmp/mcloud-WSO2-2024-0042.zip` in ",
		"step: host-1: start `systemctl start wso2am` in ",
		"step: host-1: health check GET http://",
		"step: patch host-1: ",
		"step: host-3: health check GET http://",
		"succeeded: ") {
		t.Errorf("audit trail:\n%s", strings.Join(audit, "\n"))
	}

	// Where the machine allows it, the hosts live in a network only the
	// bastion reaches: the test itself cannot dial them, yet they were
	// patched, and each saw its SSH connection come from the bastion.
	t.Logf("network namespaces: %v", w.env.Namespaced)
	if w.env.Namespaced {
		for i, h := range w.env.Hosts {
			if c, err := net.DialTimeout("tcp", h.Addr(), 2*time.Second); err == nil {
				c.Close()
				t.Fatalf("%s is reachable directly; the jump proves nothing", h.Name)
			}
			from, _ := os.ReadFile(filepath.Join(w.env.Hosts[i].Dir, "ssh_client"))
			if !strings.HasPrefix(string(from), w.env.BastionSourceIP+" ") {
				t.Errorf("%s saw its session come from %q, want the bastion %s", h.Name, from, w.env.BastionSourceIP)
			}
		}
	}
}

// --hosts picks the hosts and their order; the others are not touched.
func TestPatchHostsFlagPicksHostsAndOrder(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	w.writePatch("P-7", "seven")
	r, job := w.request("alice", "devops", "/mcloud patch customer-x prod P-7 --hosts host-3,host-1")
	if len(r.Request.Plan.Steps) != 3 || !strings.HasPrefix(r.Request.Plan.Steps[1], "host-3 ") || !strings.HasPrefix(r.Request.Plan.Steps[2], "host-1 ") {
		t.Fatalf("plan: %q", r.Request.Plan.Steps)
	}
	if j := w.waitJob(job); j.Status != mcloud.JobSucceeded {
		t.Fatalf("job: %s %s", j.Status, j.Error)
	}
	var order []string
	for _, l := range w.ranSequence() {
		if host := strings.Fields(l)[0]; len(order) == 0 || order[len(order)-1] != host {
			order = append(order, host)
		}
	}
	if !slices.Equal(order, []string{"host-3", "host-1"}) {
		t.Fatalf("hosts worked on, in order: %v", order)
	}
	if log := w.hostLog(1); len(log) != 0 {
		t.Fatalf("host-2 was not asked for, yet ran %q", log)
	}
}

// A host that fails its health check halts the rollout: it is rolled back,
// the hosts before it stay patched, the hosts after it are not touched.
func TestPatchHealthFailureHaltsAndRollsBack(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	w.writePatch("P-66", "bad patch")
	w.mark(1, "breaks")
	r, job := w.request("carol", "customer-x-shared", "/mcloud patch customer-x prod P-66")
	j := w.waitJob(job)

	addr := strings.TrimPrefix(strings.TrimSuffix(w.cfg.Customer("customer-x").Env("prod").Hosts[1].HealthURL, "/health"), "http://")
	want := "Patch P-66 halted at host-2 (2 of 3) because its health check failed (3 attempts, the last: http://" + addr +
		"/health answered 503 Service Unavailable: unhealthy); host-2 was rolled back; patched: host-1; not touched: host-3."
	if j.Status != mcloud.JobFailed || j.Error != want {
		t.Fatalf("job %s: %q\nwant        %q", j.Status, j.Error, want)
	}
	t.Logf("thread:\n%s", strings.Join(w.thread(r.Request.ID), "\n"))
	if got := w.hostLog(1); !slices.Equal(got, []string{
		"systemctl is-active wso2am", "systemctl stop wso2am", "mcloud-patch apply wso2am P-66 /tmp/mcloud-P-66.zip", "systemctl start wso2am",
		"systemctl stop wso2am", "mcloud-patch revert wso2am P-66", "systemctl start wso2am",
	}) {
		t.Fatalf("host-2 ran:\n%s", strings.Join(got, "\n"))
	}
	if w.exists(1, "unhealthy") || w.exists(1, "installed-P-66") {
		t.Error("host-2's rollback did not undo the patch")
	}
	if !w.exists(0, "installed-P-66") {
		t.Error("host-1 should stay patched")
	}
	if got := w.hostLog(2); len(got) != 0 {
		t.Fatalf("host-3 must not be touched after the failure, ran %q", got)
	}
	thread := w.thread(r.Request.ID)
	if !containsInOrder(thread,
		"Job #1: patch host-1: pre-check ok",
		"Job #1: patching host-2 (2 of 3).",
		"Job #1: host-2 is not healthy yet (http://"+addr+"/health answered 503 Service Unavailable: unhealthy); checking again every 100ms, up to 2 more times.",
		"Job #1: host-2 failed its health check (3 attempts, the last: ",
		"rolling back with `systemctl stop wso2am; mcloud-patch revert wso2am P-66 && systemctl start wso2am`.",
		"Job #1: host-2 rolled back.",
		"Job #1 failed: Patch P-66 halted at host-2") {
		t.Fatalf("thread:\n%s", strings.Join(thread, "\n"))
	}
	if audit := w.auditDetails(job); !containsInOrder(audit,
		"step: host-2: health check GET http://"+addr+"/health (attempt 3 of 3): failed: ",
		"step: host-2: rollback `systemctl stop wso2am; mcloud-patch revert wso2am P-66 && systemctl start wso2am` in ",
		"failed: Patch P-66 halted at host-2") {
		t.Fatalf("audit:\n%s", strings.Join(audit, "\n"))
	}
}

// A failure before anything changed on the host (here its pre-check) halts
// without a rollback there.
func TestPatchPreCheckFailureChangesNothing(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	w.writePatch("P-8", "eight")
	if err := os.WriteFile(filepath.Join(w.env.Hosts[0].Dir, "wso2am.state"), []byte("failed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, job := w.request("alice", "devops", "/mcloud patch customer-x prod P-8")
	j := w.waitJob(job)
	want := "Patch P-8 halted at host-1 (1 of 3) because its pre-check failed (`systemctl is-active wso2am` exited 1: failed); " +
		"nothing had been changed on host-1, so it was not rolled back; no host was patched; not touched: host-2, host-3."
	if j.Error != want {
		t.Fatalf("job error %q\nwant      %q", j.Error, want)
	}
	if got := w.ranSequence(); !slices.Equal(got, []string{"host-1 systemctl is-active wso2am"}) {
		t.Fatalf("ran %q", got)
	}
}

// A host whose key changed since it was pinned is refused before any host
// is changed.
func TestPatchRefusesChangedHostKey(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	w.writePatch("P-9", "nine")
	victim := w.env.Hosts[1]
	victim.RotateHostKey()
	_, job := w.request("carol", "customer-x-shared", "/mcloud patch customer-x prod P-9")
	j := w.waitJob(job)
	fp := fingerprint(t, victim.KnownHostsLine)
	want := fmt.Sprintf("Patch P-9 did not start, so no host was changed: refused to connect to host-2 (%s): it presented host key %s, "+
		"not the one pinned in the configuration, so it was rebuilt or someone is intercepting the connection; check the fingerprint before changing its host_key.",
		victim.Addr(), fp)
	if j.Status != mcloud.JobFailed || j.Error != want {
		t.Fatalf("job %s: %q\nwant        %q", j.Status, j.Error, want)
	}
	if got := w.ranSequence(); len(got) != 0 {
		t.Fatalf("commands ran although a host key was wrong: %q", got)
	}
	t.Logf("job #%d %s: %s", j.ID, j.Status, j.Error)
}

// A bastion that is down fails the job with a sentence naming it.
func TestPatchStoppedBastion(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	w.writePatch("P-10", "ten")
	w.env.Bastion.Stop()
	_, job := w.request("alice", "devops", "/mcloud patch customer-x prod P-10")
	j := w.waitJob(job)
	want := fmt.Sprintf("Patch P-10 did not start, so no host was changed: 3 of 3 hosts could not be reached (host-1, host-2, host-3): "+
		"the bastion %s is unreachable (connection refused), so no host behind it could be contacted.", w.env.Bastion.Addr())
	if j.Status != mcloud.JobFailed || j.Error != want {
		t.Fatalf("job %s: %q\nwant        %q", j.Status, j.Error, want)
	}
	t.Logf("job #%d %s: %s", j.ID, j.Status, j.Error)
}

// cancel during a host lets that host finish (stop to health check) and
// stops before the next one.
func TestPatchCancelStopsAfterCurrentHost(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	w.writePatch("P-11", "eleven")
	w.mark(0, "block-apply")
	r, job := w.request("carol", "customer-x-shared", "/mcloud patch customer-x prod P-11")
	w.waitFor("host-1's apply to start", func() bool { return w.exists(0, "apply-started") })
	if c := w.do("carol", "customer-x-shared", fmt.Sprintf("/mcloud cancel %d", job)); c.Error == "" {
		t.Fatal("a customer user cancelled a job; cancel is for DevOps")
	}
	if c := w.do("alice", "devops", fmt.Sprintf("/mcloud cancel %d", job)); c.Error != "" {
		t.Fatalf("cancel: %+v", c)
	}
	w.mark(0, "release")
	j := w.waitJob(job)
	if j.Status != mcloud.JobCancelled {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	if got := w.hostLog(0); len(got) != 4 || got[3] != "systemctl start wso2am" || !w.exists(0, "installed-P-11") {
		t.Fatalf("host-1 must be finished, not abandoned mid-patch: %q", got)
	}
	if a, b := w.hostLog(1), w.hostLog(2); len(a)+len(b) != 0 {
		t.Fatalf("hosts after the cancel were touched: %q %q", a, b)
	}
	thread := w.thread(r.Request.ID)
	if !containsInOrder(thread,
		"Stopping #1: patch for customer-x/prod (asked by carol). alice asked it to stop; it stops after its current step.",
		"Job #1: patch host-1: pre-check ok, stopped, copied, applied, started, healthy on attempt 1",
		"Job #1: cancelled between hosts as asked; patched: host-1; not touched: host-2, host-3.",
		"Job #1 was cancelled: cancelled at a step boundary; completed: reach hosts, downtime host-1, patch host-1") {
		t.Fatalf("thread:\n%s", strings.Join(thread, "\n"))
	}
	t.Logf("thread:\n%s", strings.Join(thread, "\n"))
}

// Everything wrong with a request is said before anything is stored.
func TestPatchRefusesBadRequests(t *testing.T) {
	w := startSSHWorld(t, worldOptions{hosts: 2, network: sshLoopback})
	w.writePatch("P-1", "one")
	for _, tt := range []struct{ user, channel, line, want string }{
		{"carol", "customer-x-shared", "/mcloud patch customer-x prod", "Missing <patch-id>: the patch's id, as the product's update tool names it."},
		{"carol", "customer-x-shared", "/mcloud patch customer-x prod 'P-1;reboot'", `"P-1;reboot" is not a patch id: use letters, digits, dots, dashes, underscores and plus signs, like WSO2-2024-0042.`},
		{"carol", "customer-x-shared", "/mcloud patch customer-x prod P-1 --hosts host-1,host-9", `Unknown host "host-9" in --hosts; customer-x/prod has: host-1, host-2.`},
		{"carol", "customer-x-shared", "/mcloud patch customer-x prod P-1 --hosts host-1,host-1", `"host-1" appears twice in --hosts.`},
		{"carol", "customer-x-shared", "/mcloud patch customer-x prod P-1 --hosts host-1,", "--hosts has an empty host name; write the names like --hosts host-1,host-2."},
		{"carol", "customer-x-shared", "/mcloud patch customer-x prod P-2", "There is no file for patch P-2 on the bot's machine (" + filepath.Join(w.patchDir, "P-2.zip") + "); check the patch id, or ask the DevOps team to put the file there."},
		{"carol", "customer-x-shared", "/mcloud patch customer-y prod P-1", "From this channel you can only act on customer-x."},
		{"alice", "devops", "/mcloud patch customer-x qa P-1", `Unknown environment "qa" for customer-x; it has: prod, staging.`},
	} {
		if r := w.do(tt.user, tt.channel, tt.line); r.Error != tt.want {
			t.Errorf("%s\n got %q\nwant %q", tt.line, r.Error, tt.want)
		}
	}
	r := w.do("alice", "devops", "/mcloud patch customer-x prod P-1 --dry-run")
	if !r.DryRun || r.Request == nil || !strings.Contains(r.Request.Plan.Notes[0], "sha256 ") {
		t.Fatalf("dry run: %+v", r)
	}
	if pending, _ := w.db.PendingRequests(t.Context(), ""); len(pending) != 0 {
		t.Fatalf("refused and dry-run requests were stored: %v", pending)
	}
	if got := w.ranSequence(); len(got) != 0 {
		t.Fatalf("planning ran commands on hosts: %q", got)
	}
}

// An environment without patch settings says so instead of guessing.
func TestPatchNeedsPatchSettings(t *testing.T) {
	w := startSSHWorld(t, worldOptions{hosts: 1, network: sshLoopback, noPatch: true})
	r := w.do("carol", "customer-x-shared", "/mcloud patch customer-x prod P-1")
	want := "customer-x/prod has no patch settings yet (patch.apply and patch.rollback of that environment in mcloud.yaml), so the bot cannot patch it; ask the DevOps team."
	if r.Error != want {
		t.Fatalf("got %q\nwant %q", r.Error, want)
	}
}

// The patch file approvers saw is the one that is copied: a file replaced
// after the plan stops the job before any host is touched.
func TestPatchRefusesFileChangedAfterApproval(t *testing.T) {
	w := startSSHWorld(t, worldOptions{hosts: 2})
	w.writePatch("P-12", "approved bytes")
	r := w.do("carol", "customer-x-shared", "/mcloud patch customer-x prod P-12")
	if r.Request == nil {
		t.Fatalf("plan: %+v", r)
	}
	w.writePatch("P-12", "swapped bytes")
	a := w.do("bob", "devops", fmt.Sprintf("/mcloud approve %d", r.Request.ID))
	j := w.waitJob(a.Job.ID)
	if j.Status != mcloud.JobFailed || !strings.HasPrefix(j.Error, "The file for patch P-12 changed after its plan was approved") {
		t.Fatalf("job %s: %q", j.Status, j.Error)
	}
	if got := w.ranSequence(); len(got) != 0 {
		t.Fatalf("ran %q", got)
	}
}

// A bot stopped (SIGTERM, a deploy) while a host is mid-patch finishes that
// host's sequence rather than leaving its service stopped, starts no other
// host, and leaves the job for the next process to report.
func TestPatchFinishesTheHostWhenTheBotStops(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	w.writePatch("P-12", "twelve")
	w.mark(0, "block-apply")
	_, job := w.request("carol", "customer-x-shared", "/mcloud patch customer-x prod P-12")
	w.waitFor("host-1's apply to start", func() bool { return w.exists(0, "apply-started") })
	stopped := make(chan struct{})
	go func() { w.stop(); close(stopped) }()
	time.Sleep(time.Second) // the shutdown has cancelled the job's context by now
	w.mark(0, "release")
	<-stopped
	if got := w.hostLog(0); len(got) != 4 || got[3] != "systemctl start wso2am" || !w.exists(0, "installed-P-12") {
		t.Fatalf("host-1 must be finished, not left stopped: %q", got)
	}
	if a, b := w.hostLog(1), w.hostLog(2); len(a)+len(b) != 0 {
		t.Fatalf("hosts after the shutdown were touched: %q %q", a, b)
	}
	j, _ := w.db.Job(context.Background(), job)
	steps, _ := w.db.JobSteps(context.Background(), job)
	if j.Status != mcloud.JobRunning || len(steps) != 3 || steps[2].Name != "patch host-1" {
		t.Fatalf("job %s with steps %+v; want running (handed to the next process) with host-1 recorded", j.Status, steps)
	}
}

// A host that fails while the bot is stopping is still rolled back, by the
// rollout's cleanup step, and the job ends failed with the whole story
// instead of being left for the next process, which could only say it was
// interrupted.
func TestPatchRollsBackWhenTheBotStopsMidHost(t *testing.T) {
	w := startSSHWorld(t, worldOptions{})
	w.writePatch("P-13", "thirteen")
	w.mark(0, "block-apply")
	w.mark(0, "breaks")
	_, job := w.request("carol", "customer-x-shared", "/mcloud patch customer-x prod P-13")
	w.waitFor("host-1's apply to start", func() bool { return w.exists(0, "apply-started") })
	stopped := make(chan struct{})
	go func() { w.stop(); close(stopped) }()
	time.Sleep(time.Second) // the shutdown has cancelled the job's context by now
	w.mark(0, "release")
	<-stopped
	if got := w.hostLog(0); len(got) < 3 || got[len(got)-2] != "mcloud-patch revert wso2am P-13" {
		t.Fatalf("host-1 was not rolled back: %q", got)
	}
	j, _ := w.db.Job(context.Background(), job)
	if j.Status != mcloud.JobFailed || !strings.Contains(j.Error, "host-1 was rolled back; no host was patched; not touched: host-2, host-3.") {
		t.Fatalf("job %s: %q; want failed, saying host-1 was rolled back", j.Status, j.Error)
	}
	steps, _ := w.db.JobSteps(context.Background(), job)
	// Steps are listed by completion time to the millisecond, so two
	// cleanups finished within one millisecond may be listed either way.
	if len(steps) != 4 {
		t.Fatalf("steps %+v; want the rollback saved as the job's cleanup step", steps)
	}
	rb, ed := steps[2], steps[3]
	if rb.Name != "roll back" {
		rb, ed = ed, rb
	}
	if rb.Name != "roll back" || ed.Name != "end downtimes" || rb.At.After(ed.At) {
		t.Fatalf("steps %+v; want the rollback saved as the job's cleanup step, then the downtime ended", steps)
	}
}
