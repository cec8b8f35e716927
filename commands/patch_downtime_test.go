package commands_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/jobs"
)

// testDowntimes stands in for the monitoring APIs here (the real Icinga2
// is in cmd/mcloud's TestIcinga2DowntimeWhilePatching): it writes what
// it is asked into the hosts' shared sequence, so the test sees it in
// order with the commands run on the hosts.
type testDowntimes struct {
	w            *sshWorld
	mu           sync.Mutex
	n            int
	failSchedule bool
	open         map[string]string // id: host
	comments     []string
	commented    map[string]string // id: author + ": " + comment
}

func newTestDowntimes(w *sshWorld) *testDowntimes {
	d := &testDowntimes{w: w, open: map[string]string{}, commented: map[string]string{}}
	w.svc.Deps.Downtimes = d
	return d
}

func (d *testDowntimes) Systems() []string { return []string{"a test downtime"} }

func (d *testDowntimes) Schedule(ctx context.Context, customer, host, address string, end time.Time, author, comment string) ([]mcloud.Downtime, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failSchedule {
		return nil, errors.New("HTTP 503: monitoring is down")
	}
	d.n++
	id := fmt.Sprintf("dt-%d", d.n)
	d.open[id] = host
	d.comments = append(d.comments, author+": "+comment)
	d.commented[id] = author + ": " + comment
	d.record(host + " downtime set")
	return []mcloud.Downtime{{Source: "test", ID: id}}, nil
}

func (d *testDowntimes) Remove(ctx context.Context, ds []mcloud.Downtime) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, dt := range ds {
		if host, ok := d.open[dt.ID]; ok {
			d.record(host + " downtime removed")
			delete(d.open, dt.ID)
		}
	}
	return nil
}

func (d *testDowntimes) RemoveCommented(ctx context.Context, author, prefix string) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for id, host := range d.open {
		if strings.HasPrefix(d.commented[id], author+": "+prefix) {
			d.record(host + " downtime removed by its comment")
			delete(d.open, id)
			n++
		}
	}
	return n, nil
}

func (d *testDowntimes) record(line string) {
	f, err := os.OpenFile(d.w.sequence, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		d.w.t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

func (d *testDowntimes) stillOpen() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.open)
}

// alert posts one Alertmanager-style alert through the alert pipeline,
// as the receiver would.
func (w *sshWorld) alert(key, name, host string) {
	w.t.Helper()
	p := alerts.New(w.db, w.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a := mcloud.Alert{Source: "alertmanager", Key: key, Status: mcloud.AlertFiring, Severity: mcloud.SeverityCritical, Name: name, Host: host, At: time.Now()}
	if err := p.Receive(context.Background(), []mcloud.Alert{a}); err != nil {
		w.t.Fatal(err)
	}
}

// topLevel is the alert messages of its own (not thread replies) queued
// for channel.
func (w *sshWorld) topLevel(channel string) []string {
	w.t.Helper()
	items, err := w.db.OutboxItems(context.Background(), channel)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		if it.RequestID < 0 && it.Kind == "plan" {
			out = append(out, it.Text)
		}
	}
	return out
}

// While a patch changes a host, the host is in downtime and its alerts go
// to the job's thread, marked expected, not to the customer's channel;
// the downtime ends when the host is done, before the next host's starts,
// and afterwards an alert for the host is a problem in the channel again.
func TestPatchQuietsEachHostAndRoutesItsAlerts(t *testing.T) {
	w := startSSHWorld(t, worldOptions{hosts: 2})
	d := newTestDowntimes(w)
	w.writePatch("P-21", "twenty-one")
	w.mark(0, "block-apply")

	r := w.do("carol", "customer-x-shared", "/mcloud patch customer-x prod P-21")
	if r.Request == nil {
		t.Fatalf("plan: %+v", r)
	}
	if notes := strings.Join(r.Request.Plan.Notes, "\n"); !strings.Contains(notes,
		"While a host is being patched it is quiet in monitoring: a test downtime, by mcloud, for at most 14m0s, removed when the host is done or the job ends; "+
			"alerts that still come for a host while it is being patched are posted in this job's thread, marked expected, not as new problems in the channel.") {
		t.Errorf("the plan does not mention the downtime:\n%s", notes)
	}
	a := w.do("bob", "devops", fmt.Sprintf("/mcloud approve %d", r.Request.ID))
	if a.Job == nil {
		t.Fatalf("approve: %+v", a)
	}
	w.waitFor("host-1's apply to start", func() bool { return w.exists(0, "apply-started") })

	// The service is down on purpose: monitoring notices.
	w.alert("fp-down-1", "ServiceDown", "host-1")
	w.alert("fp-down-2", "ServiceDown", "host-2") // not being changed yet
	w.mark(0, "release")
	j := w.waitJob(a.Job.ID)
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	thread := w.thread(r.Request.ID)
	t.Logf("thread:\n%s", strings.Join(thread, "\n"))
	if !containsInOrder(thread,
		"Job #1: downtime host-1: host-1 is in downtime until ",
		"expected: patch #1 is changing host-1. [CRITICAL] alert #1: ServiceDown on host-1, firing",
		"Job #1: patch host-1: pre-check ok",
		"Job #1: end downtime host-1: the downtime of host-1 is removed; its alerts go to the channels again",
		"Job #1: downtime host-2: host-2 is in downtime until ",
		"Job #1: end downtime host-2: the downtime of host-2 is removed") {
		t.Errorf("thread:\n%s", strings.Join(thread, "\n"))
	}
	for _, l := range thread {
		if strings.Contains(l, "host-2, firing") {
			t.Errorf("host-2's alert came before its work, yet is in the thread: %q", l)
		}
	}
	top := strings.Join(w.topLevel("C0CUSTX"), "\n")
	if strings.Contains(top, "ServiceDown on host-1") || !strings.Contains(top, "ServiceDown on host-2") {
		t.Errorf("customer-x's channel got:\n%s\nwant host-2's alert only", top)
	}
	if l := w.do("alice", "devops", "/mcloud alerts customer-x"); !strings.Contains(strings.Join(l.Lines, "\n"), "ServiceDown on host-1") {
		t.Errorf("alerts does not list the expected alert: %+v", l)
	}

	// One host at a time, its downtime around it.
	var seq []string
	for _, l := range w.ranSequence() {
		if strings.HasSuffix(l, "downtime set") || strings.HasSuffix(l, "downtime removed") || strings.Contains(l, "systemctl stop") || strings.Contains(l, "systemctl start") {
			seq = append(seq, l)
		}
	}
	want := []string{"host-1 downtime set", "host-1 systemctl stop wso2am", "host-1 systemctl start wso2am", "host-1 downtime removed",
		"host-2 downtime set", "host-2 systemctl stop wso2am", "host-2 systemctl start wso2am", "host-2 downtime removed"}
	if strings.Join(seq, "\n") != strings.Join(want, "\n") {
		t.Errorf("order:\n%s\nwant:\n%s", strings.Join(seq, "\n"), strings.Join(want, "\n"))
	}
	if d.stillOpen() != 0 || len(d.comments) == 0 || d.comments[0] != "mcloud: mcloud job #1: patch P-21 of customer-x/prod" {
		t.Errorf("downtimes left open %d, comments %q", d.stillOpen(), d.comments)
	}

	// The work is over: a new alert for host-1 is a problem in the channel.
	w.alert("fp-disk-1", "DiskFull", "host-1")
	if top := strings.Join(w.topLevel("C0CUSTX"), "\n"); !strings.Contains(top, "DiskFull on host-1") {
		t.Errorf("after the patch, host-1's new alert is not in the channel:\n%s", top)
	}
}

// A patch that fails or is cancelled mid-host, or whose downtime cannot
// be set, leaves no downtime behind; a downtime that cannot be set does
// not stop the patch.
func TestPatchEndsTheDowntimeHoweverItEnds(t *testing.T) {
	w := startSSHWorld(t, worldOptions{hosts: 2})
	d := newTestDowntimes(w)
	w.writePatch("P-22", "twenty-two")

	// Failed: host-1 is rolled back, then its downtime ends.
	w.mark(0, "breaks")
	r, job := w.request("carol", "customer-x-shared", "/mcloud patch customer-x prod P-22")
	if j := w.waitJob(job); j.Status != mcloud.JobFailed {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	seq := w.ranSequence()
	if n := len(seq); n < 2 || seq[n-2] != "host-1 systemctl start wso2am" || seq[n-1] != "host-1 downtime removed" {
		t.Errorf("the rollback must come before the downtime ends:\n%s", strings.Join(seq, "\n"))
	}
	if d.stillOpen() != 0 {
		t.Errorf("a failed patch left %d downtimes", d.stillOpen())
	}
	if th := w.thread(r.Request.ID); !containsInOrder(th, "Job #1: host-1 rolled back.", "Job #1: end downtimes: the downtime of host-1 is removed", "Job #1 failed: ") {
		t.Errorf("thread:\n%s", strings.Join(th, "\n"))
	}
	os.Remove(w.env.Hosts[0].Dir + "/breaks")

	// Cancelled while host-1 is being patched: host-1 is finished, then
	// the cleanup ends its downtime.
	w.mark(0, "block-apply")
	r, job = w.request("carol", "customer-x-shared", "/mcloud patch customer-x prod P-22")
	w.waitFor("host-1's apply to start", func() bool { return w.exists(0, "apply-started") })
	if c := w.do("alice", "devops", fmt.Sprintf("/mcloud cancel %d", job)); c.Error != "" {
		t.Fatalf("cancel: %+v", c)
	}
	w.mark(0, "release")
	if j := w.waitJob(job); j.Status != mcloud.JobCancelled {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	if d.stillOpen() != 0 {
		t.Errorf("a cancelled patch left %d downtimes", d.stillOpen())
	}
	if th := w.thread(r.Request.ID); !containsInOrder(th, fmt.Sprintf("Job #%d: end downtimes: the downtime of host-1 is removed", job)) {
		t.Errorf("thread:\n%s", strings.Join(th, "\n"))
	}
	for _, f := range []string{"block-apply", "release", "apply-started"} {
		os.Remove(w.env.Hosts[0].Dir + "/" + f)
	}

	// The downtime cannot be set: said, and the patch goes on.
	d.failSchedule = true
	r, job = w.request("carol", "customer-x-shared", "/mcloud patch customer-x prod P-22")
	if j := w.waitJob(job); j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	if th := w.thread(r.Request.ID); !containsInOrder(th,
		fmt.Sprintf("Job #%d: downtime host-1: the monitoring downtime of host-1 could not be set (the DevOps team has the details in the bot's log); the patch goes on, and alerts for host-1 come to this thread until it is done", job),
		fmt.Sprintf("Job #%d succeeded", job)) {
		t.Errorf("thread:\n%s", strings.Join(th, "\n"))
	}
	if hw, _ := w.db.HostWork(context.Background(), "customer-x"); len(hw) != 0 {
		t.Errorf("hosts still under work after the jobs: %+v", hw)
	}
}

// A patch whose process stops mid-host is not resumed (it fails for a
// person to look at), but the next process still ends the downtime it
// set, from the ids saved with its step.
func TestPatchInterruptedStillEndsItsDowntime(t *testing.T) {
	w := startSSHWorld(t, worldOptions{hosts: 2})
	d := newTestDowntimes(w)
	reqID, job := w.interruptMidHost(d, "P-23")
	w.nextProcess()
	j := w.waitJob(job)
	if j.Status != mcloud.JobFailed || !strings.Contains(j.Error, "not resumed because patch is not safe to repeat automatically") {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	if d.stillOpen() != 0 {
		t.Errorf("the interrupted patch left %d downtimes", d.stillOpen())
	}
	if got := w.hostLog(1); len(got) != 0 {
		t.Errorf("host-2 was touched after the interruption: %q", got)
	}
	if th := w.thread(reqID); !containsInOrder(th, "Job #1: end downtimes: the downtime of host-1 is removed", "Job #1 failed: interrupted") {
		t.Errorf("thread:\n%s", strings.Join(th, "\n"))
	}
}

// The process often dies because the bastion went away; and the patch
// file may change before the next one starts. Ending the downtime needs
// neither: the next process ends it without SSH and without the file.
func TestPatchInterruptedEndsItsDowntimeWithoutBastionOrPatchFile(t *testing.T) {
	w := startSSHWorld(t, worldOptions{hosts: 2})
	d := newTestDowntimes(w)
	reqID, job := w.interruptMidHost(d, "P-24")
	w.env.Bastion.Stop()
	w.writePatch("P-24", "a different file")
	ssh := &refusingSSH{}
	w.svc.Deps.SSH = ssh
	w.nextProcess()
	j := w.waitJob(job)
	if j.Status != mcloud.JobFailed || !strings.Contains(j.Error, "not resumed because patch is not safe to repeat automatically") {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	if d.stillOpen() != 0 {
		t.Errorf("with the bastion unreachable and the patch file changed, the interrupted patch left %d downtimes", d.stillOpen())
	}
	if n := ssh.calls.Load(); n != 0 {
		t.Errorf("unwinding the job set up SSH %d times", n)
	}
	if th := w.thread(reqID); !containsInOrder(th, "Job #1: end downtimes: the downtime of host-1 is removed", "Job #1 failed: interrupted") {
		t.Errorf("thread:\n%s", strings.Join(th, "\n"))
	}
}

// A process that dies after setting a host's downtime but before saving
// its ids leaves nothing behind either: the next process finds it by the
// job's comment, and leaves another job's downtime alone.
func TestPatchInterruptedRemovesAnUnsavedDowntimeByItsComment(t *testing.T) {
	w := startSSHWorld(t, worldOptions{hosts: 2})
	d := newTestDowntimes(w)
	reqID, job := w.interruptMidHost(d, "P-25")
	// The crash came between the downtime and its checkpoint.
	if _, err := w.db.SQL().ExecContext(context.Background(), `DELETE FROM job_steps WHERE job_id = $1 AND name = 'downtime host-1'`, job); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	d.open["other"], d.commented["other"] = "host-2", "mcloud: mcloud job #10: patch P-9 of customer-x/prod"
	d.mu.Unlock()
	w.nextProcess()
	if j := w.waitJob(job); j.Status != mcloud.JobFailed {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	d.mu.Lock()
	_, other := d.open["other"]
	open := len(d.open)
	d.mu.Unlock()
	if !other || open != 1 {
		t.Errorf("downtimes open after the job: %d (job #10's still open: %v); want only job #10's", open, other)
	}
	if th := w.thread(reqID); !containsInOrder(th, "Job #1: end downtimes: 1 downtime whose ids were not saved, found by the job's comment, removed", "Job #1 failed: interrupted") {
		t.Errorf("thread:\n%s", strings.Join(th, "\n"))
	}
}

// refusingSSH is an SSH set-up that cannot work (a key gone, a bastion
// away): it counts who asks.
type refusingSSH struct{ calls atomic.Int64 }

func (s *refusingSSH) Connect(context.Context, *config.Customer) (commands.SSHSession, error) {
	s.calls.Add(1)
	return nil, errors.New("ssh: the key file is gone")
}

// interruptMidHost starts a patch and stops the bot's process while the
// patch is applied on host-1, with host-1's downtime set and saved.
func (w *sshWorld) interruptMidHost(d *testDowntimes, patch string) (requestID, job int64) {
	t := w.t
	t.Helper()
	w.writePatch(patch, "the file of "+patch)
	w.mark(0, "block-apply")
	r, job := w.request("carol", "customer-x-shared", "/mcloud patch customer-x prod "+patch)
	w.waitFor("host-1's apply to start", func() bool { return w.exists(0, "apply-started") })
	stopped := make(chan struct{})
	go func() { w.stop(); close(stopped) }()
	time.Sleep(time.Second) // the shutdown has cancelled the job's context by now
	w.mark(0, "release")
	<-stopped
	if j, _ := w.db.Job(context.Background(), job); j.Status != mcloud.JobRunning || d.stillOpen() != 1 {
		t.Fatalf("job %s with %d downtimes open; want it left running with host-1's downtime", j.Status, d.stillOpen())
	}
	return r.Request.ID, job
}

// nextProcess starts the job queue again, as the next process would.
func (w *sshWorld) nextProcess() {
	t := w.t
	q, err := jobs.New(w.db, w.svc, jobs.Options{PollInterval: 50 * time.Millisecond, RescueAfter: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), time.Minute)
		defer c()
		q.Stop(sctx)
	})
}

// A failed host whose rollback cannot even start (the bot can no longer
// set up SSH) is named in the thread and the job's error for a person to
// check, and its downtime is removed all the same, after the rollback.
func TestPatchRollbackThatCannotStartStillEndsTheDowntime(t *testing.T) {
	w := startSSHWorld(t, worldOptions{hosts: 2})
	d := newTestDowntimes(w)
	w.writePatch("P-26", "twenty-six")
	w.mark(0, "breaks")
	ssh := &firstSSHOnly{SSHConnector: w.svc.Deps.SSH}
	w.svc.Deps.SSH = ssh
	r, job := w.request("carol", "customer-x-shared", "/mcloud patch customer-x prod P-26")
	j := w.waitJob(job)
	if j.Status != mcloud.JobFailed || !strings.Contains(j.Error, "the rollback on host-1 could not start") || !strings.Contains(j.Error, "so it needs a person now") {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	if d.stillOpen() != 0 {
		t.Errorf("the failed patch left %d downtimes", d.stillOpen())
	}
	if th := w.thread(r.Request.ID); !containsInOrder(th,
		"Job #1: the rollback on host-1 could not start (",
		"Job #1: end downtimes: the downtime of host-1 is removed",
		"Job #1 failed: ") {
		t.Errorf("thread:\n%s", strings.Join(th, "\n"))
	}
	if n := ssh.calls.Load(); n != 2 {
		t.Errorf("SSH was set up %d times, want 2 (the job, its rollback)", n)
	}
}

// firstSSHOnly sets up SSH once, then fails like a key that went away.
type firstSSHOnly struct {
	commands.SSHConnector
	calls atomic.Int64
}

func (s *firstSSHOnly) Connect(ctx context.Context, cu *config.Customer) (commands.SSHSession, error) {
	if s.calls.Add(1) > 1 {
		return nil, errors.New("ssh: the key file is gone")
	}
	return s.SSHConnector.Connect(ctx, cu)
}
