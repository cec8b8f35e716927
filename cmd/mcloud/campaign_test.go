package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/pgtest"
	"github.com/mcloud/mcloud/internal/storetest"
)

// TestKill9Campaign kills `mcloud serve` with SIGKILL at random moments
// while signed slash commands and Approve clicks arrive and approved jobs
// run: sometimes right after a 200, sometimes mid-job. Restarted each
// time, the last process must finish everything: no delivery Slack was
// told "200" about is lost, and no request, job step or message exists
// twice. On the embedded SQLite store and on PostgreSQL.
func TestKill9Campaign(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testKill9Campaign(t, filepath.Join(t.TempDir(), "mcloud.db")) })
	t.Run("postgres", func(t *testing.T) { testKill9Campaign(t, pgtest.URL(t)) })
}

// campaign is what a kill -9 campaign sent, and what Slack was told.
type campaign struct {
	mu       sync.Mutex
	seq      int
	commands map[string]bool // text → acknowledged
	clicks   map[int64]bool  // request → an Approve click was acknowledged
	unacked  int
}

func testKill9Campaign(t *testing.T, dsn string) {
	const kills = 10
	bin := mcloudBinary(t)
	ws := slackfake.New(t)
	// Jobs and deliveries left by a killed process are taken over after 2 s.
	cfg := slackConfig(t, ws, func(s string) string { return strings.Replace(s, "rescue_after: 1h", "rescue_after: 2s", 1) })
	db := storetest.Open(t, dsn)
	c := &campaign{commands: map[string]bool{}, clicks: map[int64]bool{}}
	client := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()

	for life := 0; life < kills; life++ {
		srv := startServe(t, bin, cfg, dsn)
		base := srv.base(t)
		// Kill after a random number of acknowledgements (1 to 6), right
		// after one of them; or, every other time, after a random while,
		// with jobs midway.
		want, acks := 1+rand.IntN(6), atomic.Int64{}
		if rand.IntN(2) == 0 {
			want = 1 << 30
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if c.send(t, db, client, ws, base) {
						acks.Add(1)
					}
				}
			})
		}
		deadline := time.Now().Add(time.Duration(300+rand.IntN(1500)) * time.Millisecond)
		for acks.Load() < int64(want) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-srv.done
		close(stop)
		wg.Wait()
	}

	// The last process finishes what the others left, and nothing new
	// arrives meanwhile.
	last := startServe(t, bin, cfg, dsn)
	last.base(t)
	waitDB(t, 3*time.Minute, "every delivery worked, every approved job ended and every message sent", func() bool {
		return c.settled(t, db)
	})

	lost, doubledRequests, doubledSteps, doubledMessages, succeeded, resumed := c.verdict(t, db, ws)
	c.mu.Lock()
	nCommands, nClicks := 0, 0
	for _, ok := range c.commands {
		if ok {
			nCommands++
		}
	}
	for _, ok := range c.clicks {
		if ok {
			nClicks++
		}
	}
	unacked := c.unacked
	c.mu.Unlock()
	t.Logf("%d kill -9s in %s: acknowledged %d slash commands and %d Approve clicks (%d sends unanswered); "+
		"acknowledged deliveries lost: %d; doubled: %d requests, %d job steps, %d messages; %d jobs succeeded, %d of them resumed after a kill",
		kills, time.Since(start).Round(time.Second), nCommands, nClicks, unacked, lost, doubledRequests, doubledSteps, doubledMessages, succeeded, resumed)
	if lost != 0 || doubledRequests != 0 || doubledSteps != 0 || doubledMessages != 0 {
		t.Fatalf("lost %d acknowledged deliveries, doubled %d requests, %d steps, %d messages; want 0 of each",
			lost, doubledRequests, doubledSteps, doubledMessages)
	}
	if nCommands < kills || nClicks == 0 || succeeded == 0 {
		t.Fatalf("the campaign did too little to prove anything: %d commands, %d clicks, %d jobs", nCommands, nClicks, succeeded)
	}
}

// send sends one delivery: an Approve click for a pending request not
// clicked yet, or else a new slash command. It reports whether Slack
// would have been told 200.
func (c *campaign) send(t *testing.T, db *store.DB, client *http.Client, ws *slackfake.Workspace, base string) bool {
	pending, _ := db.PendingRequests(context.Background(), "")
	c.mu.Lock()
	c.seq++
	n := c.seq
	var target int64
	for _, r := range pending {
		if !c.clicks[r.ID] && rand.IntN(2) == 0 {
			target = r.ID
			break
		}
	}
	c.mu.Unlock()
	trigger := fmt.Sprintf("%d.%d.campaign", n, time.Now().UnixNano())
	var path, body, text string
	if target != 0 {
		path, body = "/slack/interactivity", approveClick(ws, target, trigger)
	} else {
		text = fmt.Sprintf("campaign %d", n)
		path = "/slack/commands"
		body = url.Values{"team_id": {"T0DEVOPS"}, "channel_id": {"C0DEVOPS"}, "user_id": {"U0ALICE"}, "user_name": {"alice"},
			"command": {"/mcloud"}, "text": {"echo customer-x " + text + " --steps 2 --pause 200ms"},
			"response_url": {ws.ResponseURL("C0DEVOPS", "U0ALICE")}, "trigger_id": {trigger}}.Encode()
	}
	status, err := signedPost(client, base, path, body)
	acked := err == nil && status == http.StatusOK
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !acked:
		c.unacked++
	case target != 0:
		c.clicks[target] = true
	default:
		c.commands[text] = true
	}
	return acked
}

// approveClick is bob's click on Approve of request id, as Slack sends it.
func approveClick(ws *slackfake.Workspace, id int64, trigger string) string {
	v := fmt.Sprint(id)
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "trigger_id": trigger, "api_app_id": "A0MCLOUD",
		"user":         map[string]any{"id": "U0BOB", "username": "bob", "name": "bob", "team_id": "T0DEVOPS"},
		"team":         map[string]any{"id": "T0DEVOPS", "domain": "example"},
		"channel":      map[string]any{"id": "C0DEVOPS", "name": "devops"},
		"message":      map[string]any{"type": "message", "ts": "1.000001", "text": "plan"},
		"container":    map[string]any{"type": "message", "message_ts": "1.000001", "channel_id": "C0DEVOPS"},
		"response_url": ws.ResponseURL("C0DEVOPS", "U0BOB"),
		"actions": []map[string]any{{"action_id": "mcloud_approve", "block_id": "request_" + v, "value": v, "type": "button",
			"action_ts": fmt.Sprintf("%d.000100", time.Now().Unix())}},
	})
	return url.Values{"payload": {string(payload)}}.Encode()
}

// settled: every stored delivery is done and every approved request's job
// has ended. The outbox is not waited for: one channel takes a message a
// second, and a message queued twice is seen in the outbox already.
func (c *campaign) settled(t *testing.T, db *store.DB) bool {
	var open int
	err := db.SQL().QueryRow(`SELECT
		(SELECT COUNT(*) FROM slack_deliveries WHERE done_at = 0) +
		(SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running'))`).Scan(&open)
	if err != nil {
		t.Fatal(err)
	}
	return open == 0
}

// verdict counts what was lost and what was doubled.
func (c *campaign) verdict(t *testing.T, db *store.DB, ws *slackfake.Workspace) (lost, doubledRequests, doubledSteps, doubledMessages, succeeded, resumed int) {
	ctx := context.Background()
	rows, err := db.SQL().Query(`SELECT params FROM requests`)
	if err != nil {
		t.Fatal(err)
	}
	made := map[string]int{}
	for rows.Next() {
		var params string
		var p mcloud.Params
		if err := rows.Scan(&params); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal([]byte(params), &p)
		made[p["text"]]++
	}
	rows.Close()
	approved := map[int64]bool{}
	rows, err = db.SQL().Query(`SELECT request_id FROM approvals WHERE user_id = 'U0BOB'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		approved[id] = true
	}
	rows.Close()

	c.mu.Lock()
	for text, acked := range c.commands {
		if acked && made[text] == 0 {
			t.Errorf("acknowledged slash command %q never became a request", text)
			lost++
		}
	}
	for id, acked := range c.clicks {
		if acked && !approved[id] {
			t.Errorf("acknowledged Approve click on request #%d was never counted", id)
			lost++
		}
	}
	c.mu.Unlock()
	for text, n := range made {
		if n > 1 {
			t.Errorf("%q was made into %d requests", text, n)
			doubledRequests += n - 1
		}
	}

	log, err := db.AuditLog(ctx, "customer-x", time.Time{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]int{}
	resumes := map[int64]int{} // job → times it was resumed
	for _, e := range log {
		switch e.Event {
		case mcloud.AuditStep:
			steps[fmt.Sprintf("job #%d %s", e.JobID, e.Detail)]++
		case mcloud.AuditSucceeded:
			succeeded++
		case mcloud.AuditResumed:
			resumed++
			resumes[e.JobID]++
		}
	}
	for step, n := range steps {
		if n > 1 {
			t.Errorf("%s ran %d times", step, n)
			doubledSteps += n - 1
		}
	}
	seen := map[string]int{}
	for _, m := range ws.Messages() { // those sent so far
		if m.OutboxID() != "" {
			seen[m.Channel+"/"+m.ThreadTS+"/"+m.Text]++
		}
	}
	// A job resumed twice says so twice: those are two messages.
	copies := func(text string) int {
		var job int64
		if _, err := fmt.Sscanf(text, "Job #%d was interrupted", &job); err == nil {
			return max(resumes[job], 1)
		}
		return 1
	}
	for msg, n := range seen {
		if ok := copies(strings.SplitN(msg, "/", 3)[2]); n > ok {
			t.Errorf("message %q is in Slack %d times", msg, n)
			doubledMessages += n - ok
		}
	}
	items, err := db.OutboxItems(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	queued := map[string]int{}
	for _, it := range items {
		// Updates re-render one message in place: several are one message.
		if it.Kind != store.KindUpdate {
			queued[fmt.Sprintf("%s %s #%d: %s", it.Kind, it.ChannelID, it.RequestID, it.Text)]++
		}
	}
	for msg, n := range queued {
		if ok := copies(msg[strings.Index(msg, ": ")+2:]); n > ok {
			t.Errorf("queued %d times: %s", n, msg)
			doubledMessages += n - ok
		}
	}
	return lost, doubledRequests, doubledSteps, doubledMessages, succeeded, resumed
}

// base waits for the server's address and returns its base URL.
func (s *server) base(t *testing.T) string {
	t.Helper()
	select {
	case addr := <-s.addr:
		return "http://" + addr
	case <-time.After(time.Minute):
		t.Fatalf("serve never said where it listens:\n%s", s.output())
		return ""
	}
}
