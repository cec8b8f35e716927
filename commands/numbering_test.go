package commands_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/jobs"
)

// runningService is mustService with a job queue that runs the jobs.
func runningService(t *testing.T) (*commands.Service, *store.DB, func(who mcloud.Caller, line string) commands.Reply) {
	t.Helper()
	svc, db, _ := mustService(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc.Log = log
	q, err := jobs.New(db, svc, jobs.Options{PollInterval: 20 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetQueue(q.Enqueue)
	ctx, cancel := context.WithCancel(context.Background())
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		q.Stop(sctx)
		cancel()
	})
	return svc, db, func(who mcloud.Caller, line string) commands.Reply {
		t.Helper()
		return svc.Handle(context.Background(), who, line)
	}
}

func waitStatus(t *testing.T, db *store.DB, id int64, want mcloud.JobStatus) *mcloud.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := db.Job(context.Background(), id)
		if err == nil && j.Status == want {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job #%d = %+v, %v; want %s", id, j, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The story of issue 9: after a denied #1, customer-x's #2 and
// customer-y's #3 are approved and running. Bob's "cancel 2" means
// request #2, and must stop customer-x's work, saying so, not
// customer-y's.
func TestCancelStopsTheRequestWithThatNumber(t *testing.T) {
	svc, db, do := runningService(t)
	cfg := svc.Config()
	carol := caller(t, cfg, "carol", "customer-x-shared")
	dave := caller(t, cfg, "dave", "customer-y-shared")
	bob := caller(t, cfg, "bob", "devops")

	if r := do(carol, "/mcloud echo customer-x not this one"); r.Request == nil || r.Request.ID != 1 {
		t.Fatalf("#1: %+v", r)
	}
	if r := do(bob, "/mcloud deny 1 wrong text"); r.Error != "" {
		t.Fatalf("deny 1: %s", r.Error)
	}
	long := " --steps 20 --pause 1s"
	if r := do(carol, "/mcloud echo customer-x restore-logs stand-in"+long); r.Request == nil || r.Request.ID != 2 {
		t.Fatalf("#2: %+v", r)
	}
	if r := do(dave, "/mcloud echo customer-y their own work"+long); r.Request == nil || r.Request.ID != 3 {
		t.Fatalf("#3: %+v", r)
	}
	for _, id := range []string{"2", "3"} {
		r := do(bob, "/mcloud approve "+id)
		if r.Job == nil || r.Job.ID != r.Request.ID {
			t.Fatalf("approve %s ran as job %+v; the job must carry the request's number", id, r.Job)
		}
		if !strings.Contains(r.Title, "job #"+id) {
			t.Errorf("approve %s says %q", id, r.Title)
		}
	}
	waitStatus(t, db, 2, mcloud.JobRunning)
	waitStatus(t, db, 3, mcloud.JobRunning)

	if r := do(bob, "/mcloud job 1"); !strings.Contains(r.Title, "#1 (echo for customer-x) was denied by bob; it never ran.") {
		t.Errorf("job 1 (denied) = %+v", r)
	}
	r := do(bob, "/mcloud cancel 2")
	if want := "Stopping #2: echo for customer-x (asked by carol)."; !strings.HasPrefix(r.Title, want) {
		t.Fatalf("cancel 2 = %q, want it to start %q", r.Title+r.Error, want)
	}
	waitStatus(t, db, 2, mcloud.JobCancelled)
	if j, _ := db.Job(context.Background(), 3); j.Status != mcloud.JobRunning || j.Cancel || j.Customer != "customer-y" {
		t.Fatalf("customer-y's #3 = %+v; cancel 2 must not touch it", j)
	}
	if r := do(bob, "/mcloud cancel 3"); !strings.HasPrefix(r.Title, "Stopping #3: echo for customer-y (asked by dave).") {
		t.Fatalf("cancel 3 = %+v", r)
	}
}

// Cancelling twice says the second time that the job is already
// stopping, instead of announcing a second stop in the thread.
func TestCancelTwiceSaysAlreadyStopping(t *testing.T) {
	svc, db, do := runningService(t)
	cfg := svc.Config()
	alice := caller(t, cfg, "alice", "devops")
	bob := caller(t, cfg, "bob", "devops")
	r := do(alice, "/mcloud echo customer-x long --steps 20 --pause 1s")
	do(bob, "/mcloud approve 1")
	waitStatus(t, db, r.Request.ID, mcloud.JobRunning)
	if first := do(bob, "/mcloud cancel 1"); !strings.HasPrefix(first.Title, "Stopping #1") {
		t.Fatalf("first cancel = %+v", first)
	}
	second := do(alice, "/mcloud cancel 1")
	if second.Error != "#1 (echo for customer-x) is already stopping; it stops after its current step. Nothing more to do." {
		t.Fatalf("second cancel = %+v", second)
	}
	waitStatus(t, db, 1, mcloud.JobCancelled)
	posts, _ := db.PendingPosts(context.Background(), 100)
	stops := 0
	for _, p := range posts {
		if strings.Contains(p.Text, "asked it to stop") {
			stops++
		}
	}
	if stops != 1 {
		t.Fatalf("the thread announced %d stops, want 1", stops)
	}
}

// "job N" names the thread that has the output, whichever channel it is
// asked in, and never claims the output is "above".
func TestJobSaysWhereTheOutputIs(t *testing.T) {
	svc, db, do := runningService(t)
	cfg := svc.Config()
	carol := caller(t, cfg, "carol", "customer-x-shared")
	bob := caller(t, cfg, "bob", "devops")
	r := do(carol, "/mcloud echo customer-x hi --steps 1")
	do(bob, "/mcloud approve 1")
	waitStatus(t, db, r.Request.ID, mcloud.JobSucceeded)
	got := do(bob, "/mcloud job 1")
	text := got.Title + "\n" + strings.Join(got.Lines, "\n")
	if !strings.Contains(text, "Progress, output and links are in #customer-x-shared, in the thread of #1.") || strings.Contains(text, "above") {
		t.Fatalf("job 1 from #devops:\n%s", text)
	}
}

// A pending request: the approvers see it in their channel with the
// commands to decide it, "pending" lists it with age and expiry, and
// asking the same again answers with its number instead of filing a
// second one.
func TestPendingAnnouncedListedAndNotDuplicated(t *testing.T) {
	svc, db, do := runningService(t)
	cfg := svc.Config()
	carol := caller(t, cfg, "carol", "customer-x-shared")
	dave := caller(t, cfg, "dave", "customer-y-shared")
	bob := caller(t, cfg, "bob", "devops")
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	svc.Now = func() time.Time { return now }

	first := do(carol, "/mcloud echo customer-x check the gateway")
	do(dave, "/mcloud echo customer-y other business")
	now = now.Add(10 * time.Minute)
	posts, _ := db.PendingPosts(ctx, 100)
	var team []string
	for _, p := range posts {
		if p.ChannelID == cfg.Team.Channels[0].ID {
			team = append(team, p.Text)
		}
	}
	if len(team) != 2 || !strings.Contains(team[0], "Request #1 waits for approval: echo for customer-x, asked by carol in #customer-x-shared") ||
		!strings.Contains(team[0], "Approve: /mcloud approve 1") {
		t.Fatalf("the team channel was told:\n%s", strings.Join(team, "\n"))
	}

	again := do(carol, "/mcloud echo customer-x check the gateway")
	if !strings.HasPrefix(again.Error, "This is already waiting as #1 (echo for customer-x, asked by carol 10m ago;") {
		t.Fatalf("same request again = %+v", again)
	}
	if other := do(carol, "/mcloud echo customer-x something else"); other.Request == nil || other.Request.ID != 3 {
		t.Fatalf("a different request = %+v", other)
	}

	list := do(bob, "/mcloud pending")
	text := strings.Join(list.Lines, "\n")
	if !strings.HasPrefix(text, "#1 echo for customer-x (text=check the gateway), asked by carol in #customer-x-shared 10m ago; 0 of 1 approvals; expires in 23h50m (2026-12-03 03:00 UTC)") ||
		!strings.Contains(text, "#2 echo for customer-y") || strings.Index(text, "#2 ") > strings.Index(text, "#3 ") {
		t.Fatalf("pending for bob:\n%s", text)
	}
	if list := do(carol, "/mcloud pending"); strings.Contains(strings.Join(list.Lines, "\n"), "customer-y") {
		t.Fatalf("carol sees another customer's requests: %v", list.Lines)
	}
	if list := do(caller(t, cfg, "bob", "customer-y-shared"), "/mcloud pending"); len(list.Lines) != 2 || !strings.HasPrefix(list.Lines[0], "#2 ") {
		t.Fatalf("pending in #customer-y-shared: %v", list.Lines)
	}
	do(bob, "/mcloud deny "+itoa(first.Request.ID))
	if list := do(bob, "/mcloud pending customer-x"); strings.Contains(strings.Join(list.Lines, "\n"), "#1 ") {
		t.Fatalf("a denied request is still listed: %v", list.Lines)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
