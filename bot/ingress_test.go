package bot

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
)

// TestSlackAckedDeliveryOutlivesItsProcess: a process that answered 200
// to a slash command and then to an Approve click, and died before working
// either, leaves them to the next process on the same database, which
// creates the request, posts its plan, approves it and runs its job. On
// SQLite and PostgreSQL.
func TestSlackAckedDeliveryOutlivesItsProcess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		dead := newHarness(t, harnessOptions{dsn: dsn, dead: true})
		if status, _ := dead.sendSigned("/slack/commands", dead.slashBody(alice, devops, "echo customer-x acknowledged then killed --steps 1")); status != http.StatusOK {
			t.Fatalf("slash command answered %d", status)
		}
		next := newHarness(t, harnessOptions{dsn: dsn, lease: 500 * time.Millisecond})
		var plan slackfake.Message
		next.ws.WaitFor(t, time.Minute, "the next process to post the plan of the acknowledged command", func() bool {
			var ok bool
			plan, ok = next.planMessage(devops, 1)
			return ok
		})
		if status, _ := dead.sendSigned("/slack/interactivity", dead.clickBody(bob, devops, plan.TS, ActionApprove, "1")); status != http.StatusOK {
			t.Fatalf("click answered %d", status)
		}
		next.ws.WaitFor(t, time.Minute, "the acknowledged click's job to run", func() bool {
			for _, m := range next.thread(devops, plan.TS) {
				if strings.Contains(m.Text, `Job #1 succeeded: repeated "acknowledged then killed"`) {
					return true
				}
			}
			return false
		})
		if n := next.count("requests"); n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})
}

// TestSlackDeliveryWorkedAgainIsNotRepeated: a process claims a stored
// slash command, creates its request and dies before marking it done;
// the next process works it again after the lease and must not create a
// second request nor post the plan twice. On SQLite and PostgreSQL.
func TestSlackDeliveryWorkedAgainIsNotRepeated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		dead := newHarness(t, harnessOptions{dsn: dsn, dead: true})
		if status, _ := dead.sendSigned("/slack/commands", dead.slashBody(alice, devops, "echo customer-x made once --steps 1")); status != http.StatusOK {
			t.Fatalf("slash command answered %d", status)
		}
		ctx := context.Background()
		d, err := dead.db.ClaimDelivery(ctx, dead.slack.owner, 300*time.Millisecond)
		if err != nil || d == nil {
			t.Fatalf("claim = %v, %v", d, err)
		}
		// The work, up to the crash: the request exists, the plan message
		// was to be queued with the delivery's end, which never came.
		dead.slack.run(store.WithDelivery(withCollector(ctx, &collector{}), d.Key), d)
		if n := dead.count("requests"); n != 1 {
			t.Fatalf("the first run made %d requests", n)
		}

		next := newHarness(t, harnessOptions{dsn: dsn, lease: 500 * time.Millisecond})
		next.waitTasks(1)
		if n := next.count("requests"); n != 1 {
			t.Fatalf("%d requests after the delivery was worked again, want 1", n)
		}
		items, err := next.db.OutboxItems(ctx, devops)
		if err != nil {
			t.Fatal(err)
		}
		plans := 0
		for _, it := range items {
			if it.Kind == store.KindPlan {
				plans++
			}
		}
		if plans != 1 {
			t.Fatalf("%d plan messages queued, want 1", plans)
		}
		next.ws.WaitFor(t, time.Minute, "the plan message", func() bool { _, ok := next.planMessage(devops, 1); return ok })
		if r, err := next.db.Request(ctx, 1); err != nil || r.Status != mcloud.RequestPending {
			t.Fatalf("request #1 = %+v, %v", r, err)
		}
	})
}

// TestSlackClickWorkedAgainRefreshesThePlan: an Approve click counted by a
// process that died before refreshing the plan message is worked again by
// the next one, which finds it already counted ("you already approved")
// and must still bring the message up to date.
func TestSlackClickWorkedAgainRefreshesThePlan(t *testing.T) {
	two := 2
	needTwo := func(c *config.Config) { c.Approvals.Rules["echo"] = config.Rule{DevOps: &two, Customer: &two} }
	ws := slackfake.New(t)
	dsn := filepath.Join(t.TempDir(), "mcloud.db")
	var plan slackfake.Message
	t.Run("first process posts the plan", func(t *testing.T) {
		h := newHarness(t, harnessOptions{dsn: dsn, ws: ws, config: needTwo})
		h.sendSigned("/slack/commands", h.slashBody(alice, devops, "echo customer-x two keys --steps 1"))
		ws.WaitFor(t, time.Minute, "the plan message", func() bool { var ok bool; plan, ok = h.planMessage(devops, 1); return ok })
	})
	dead := newHarness(t, harnessOptions{dsn: dsn, ws: ws, dead: true, config: needTwo})
	if status, _ := dead.sendSigned("/slack/interactivity", dead.clickBody(bob, devops, plan.TS, ActionApprove, "1")); status != http.StatusOK {
		t.Fatalf("click answered %d", status)
	}
	ctx := context.Background()
	d, err := dead.db.ClaimDelivery(ctx, dead.slack.owner, 300*time.Millisecond)
	if err != nil || d == nil {
		t.Fatalf("claim = %v, %v", d, err)
	}
	dead.slack.run(store.WithDelivery(withCollector(ctx, &collector{}), d.Key), d) // counted, then the crash
	if r, _ := dead.db.Request(ctx, 1); len(r.Approvals) != 1 {
		t.Fatalf("the first run did not count the click: %+v", r)
	}

	next := newHarness(t, harnessOptions{dsn: dsn, ws: ws, lease: 500 * time.Millisecond, config: needTwo})
	next.waitTasks(1)
	ws.WaitFor(t, time.Minute, "the plan message to show bob's approval", func() bool {
		m, _ := next.planMessage(devops, 1)
		return blocksHave(m, "*Approvals*\\n1 of 2")
	})
}

// TestDeliveryPayloadRoundTrip: what is stored of a delivery is what its
// work needs, identities included.
func TestDeliveryPayloadRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	in := input{channel: customerX, text: "status customer-x", responseURL: "https://hooks.slack.com/x", threadTS: "1.2", ephemeralTS: "1.2", at: at}
	in.id.UserID, in.id.TeamID, in.id.EnterpriseID, in.id.Name = "U0CAROL", "T0CUSTX", "E0GRID", "carol"
	acts := []action{{input: in, actionID: ActionApprove, value: "7"}, {input: in, actionID: ActionDeny, value: "8"},
		{input: in, actionID: ActionAck, value: "9", choice: "4h"}}
	for _, p := range []deliveryPayload{commandPayload(in), actionPayload(acts)} {
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back deliveryPayload
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		if got := back.input(); got != in {
			t.Errorf("%s: input %+v, want %+v", p.Kind, got, in)
		}
		if p.Kind == kindAction && (len(back.Actions) != 3 || back.Actions[1] != (payloadAction{ID: ActionDeny, Value: "8"}) ||
			back.Actions[2] != (payloadAction{ID: ActionAck, Value: "9", Choice: "4h"})) {
			t.Errorf("actions = %+v", back.Actions)
		}
	}
}

// TestSlackHeaders: what is refused before a body is read.
func TestSlackHeaders(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	good := "v0=" + strings.Repeat("ab", 32)
	stamp := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	for _, c := range []struct {
		name, sig, stamp string
		ok               bool
	}{
		{"well-formed", good, stamp(0), true},
		{"four minutes old", good, stamp(-4 * time.Minute), true},
		{"no signature", "", stamp(0), false},
		{"no timestamp", good, "", false},
		{"no v0 prefix", strings.Repeat("ab", 32), stamp(0), false},
		{"v1 signature", "v1=" + strings.Repeat("ab", 32), stamp(0), false},
		{"short digest", "v0=abcd", stamp(0), false},
		{"not hex", "v0=" + strings.Repeat("zz", 32), stamp(0), false},
		{"timestamp not a number", good, "yesterday", false},
		{"six minutes old (a replay)", good, stamp(-6 * time.Minute), false},
		{"six minutes ahead", good, stamp(6 * time.Minute), false},
	} {
		h := http.Header{}
		if c.sig != "" {
			h.Set("X-Slack-Signature", c.sig)
		}
		if c.stamp != "" {
			h.Set("X-Slack-Request-Timestamp", c.stamp)
		}
		if err := slackHeaders(h, now); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// slowToFinish is the store, reached only once a delivery's work has
// taken longer than the task timeout (its last step was slow).
type slowToFinish struct {
	*store.DB
	after    time.Duration
	finishes atomic.Int32
}

func (s *slowToFinish) FinishDelivery(ctx context.Context, key, owner string, msgs []store.OutboxItem) (bool, error) {
	s.finishes.Add(1)
	time.Sleep(s.after)
	return s.DB.FinishDelivery(ctx, key, owner, msgs)
}

// TestSlackCommandEndingAfterTheTaskTimeoutIsWorkedOnce: a command whose
// work ends after the task timeout is still marked done, with its plan
// message: it is not worked again after the lease (repeating what it did).
func TestSlackCommandEndingAfterTheTaskTimeoutIsWorkedOnce(t *testing.T) {
	slow := &slowToFinish{after: 300 * time.Millisecond}
	h := newHarness(t, harnessOptions{lease: 500 * time.Millisecond, taskTimeout: 100 * time.Millisecond,
		slackStore: func(db *store.DB) SlackStore { slow.DB = db; return slow }})
	if status, _ := h.sendSigned("/slack/commands", h.slashBody(alice, devops, "echo customer-x slow to end --steps 1")); status != http.StatusOK {
		t.Fatalf("slash command answered %d", status)
	}
	h.ws.WaitFor(t, 30*time.Second, "the plan message of the command that ended after its timeout", func() bool {
		_, ok := h.planMessage(devops, 1)
		return ok
	})
	if n := slow.finishes.Load(); n != 1 {
		t.Errorf("the delivery was worked %d times, want once", n)
	}
	if n := h.count("requests"); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestSlackSlowCommitIsNotCalledNothingDone: a slash command whose
// delivery was being committed when Slack's time ran out (the database
// held by another writer) is not answered "nothing was done": the commit
// goes on and the command runs, so the caller is told it may have been
// taken and to look before asking again.
func TestSlackSlowCommitIsNotCalledNothingDone(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "mcloud.db")
	h := newHarness(t, harnessOptions{dsn: dsn})
	other, err := sql.Open("sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	hold, err := other.BeginTx(ctx, nil) // the write lock, until Rollback
	if err != nil {
		t.Fatal(err)
	}
	status, body := h.sendSigned("/slack/commands", h.slashBody(alice, devops, "echo customer-x committed late --steps 1"))
	hold.Rollback()
	if status != http.StatusOK || strings.Contains(body, "nothing was done") || !strings.Contains(body, "may have taken this on") {
		t.Fatalf("answer while the commit was held: %d %s; want one saying it may have been taken", status, body)
	}
	h.ws.WaitFor(t, 30*time.Second, "the command to run once its commit went through", func() bool {
		_, ok := h.planMessage(devops, 1)
		return ok
	})
}
