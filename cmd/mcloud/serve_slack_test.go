package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/integrations/store"
)

const serveSecret = "serve-test-signing-secret"

// slackConfig is the example configuration in HTTP mode against ws,
// without its schedules, with more edits applied after.
func slackConfig(t *testing.T, ws *slackfake.Workspace, more ...func(string) string) string {
	t.Helper()
	return writeConfig(t, func(s string) string {
		out := strings.Replace(s, "  app_token: ${SLACK_APP_TOKEN}     # set it to use Socket Mode (no public URL)\n",
			"  api_url: "+ws.APIURL()+"\n", 1)
		if out == s {
			t.Fatal("the example configuration no longer has the app_token line this test replaces")
		}
		out = quietSchedules(out)
		for _, edit := range more {
			out = edit(out)
		}
		return out
	})
}

// signedPost sends body to base+path signed with serveSecret as Slack
// signs, and returns the status, or an error when no answer came.
func signedPost(client *http.Client, base, path, body string) (int, error) {
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(serveSecret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// server is one `mcloud serve` process.
type server struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  strings.Builder
	addr chan string
	done chan struct{}
}

var listenRE = regexp.MustCompile(`msg="mcloud serving" listen=(\S+)`)

func startServe(t *testing.T, bin, cfg, dbPath string) *server {
	return startServeEnv(t, bin, cfg, dbPath, nil)
}

// startServeEnv is startServe with more environment (later entries win).
func startServeEnv(t *testing.T, bin, cfg, dbPath string, env []string) *server {
	t.Helper()
	s := &server{addr: make(chan string, 1), done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "-c", cfg, "--database-url", dbPath, "--listen", "127.0.0.1:0")
	s.cmd.Env = append(append(os.Environ(), "SLACK_BOT_TOKEN="+slackfake.BotToken, "SLACK_SIGNING_SECRET="+serveSecret,
		"CUSTOMER_X_EXTERNAL_ID=x-ext", "CUSTOMER_Y_EXTERNAL_ID=y-ext", "SLACK_APP_TOKEN="), env...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				s.addr <- m[1]
			}
		}
		s.cmd.Wait()
	}()
	t.Cleanup(func() { s.cmd.Process.Kill(); <-s.done })
	return s
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// waitDB polls the database until cond holds.
func waitDB(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServeOutboxSurvivesOutageAndKill9: `mcloud serve` delivers a
// backlog while Slack answers 429 Retry-After: 2 and then 500 (having
// posted some of those anyway); it is killed with SIGKILL while Slack holds
// a message it accepted without answering; restarted, it delivers the
// rest. Every message ends up in Slack exactly once, in order within each
// thread. Then the restarted process answers a signed slash command on
// its --listen address, and reports ready.
func TestServeOutboxSurvivesOutageAndKill9(t *testing.T) {
	bin := mcloudBinary(t)
	ws := slackfake.New(t)
	cfg := slackConfig(t, ws)
	dbPath := filepath.Join(t.TempDir(), "mcloud.db")
	ctx := context.Background()

	db, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	noQueue := func(context.Context, *sql.Tx, mcloud.Job) error { return errors.New("no job expected") }
	request := func(channel string) int64 {
		now := time.Now()
		r := &mcloud.Request{Verb: "echo", Customer: "customer-x", Params: mcloud.Params{"text": "hi"}, Plan: mcloud.Plan{Summary: "say hi"},
			Requester: mcloud.Caller{UserID: "U0ALICE", TeamID: "T0DEVOPS", Name: "alice", ChannelID: channel, Role: mcloud.RoleDevOps},
			Needed:    1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if _, err := db.Submit(ctx, r, noQueue); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	queue := func(it store.OutboxItem) {
		if _, err := db.QueueMessage(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	r1, r2 := request("C0CUSTX"), request("C0DEVOPS")
	queue(store.OutboxItem{Post: mcloud.Post{ChannelID: "C0CUSTX", RequestID: r1, Text: "plan"}, Kind: store.KindPlan})
	queue(store.OutboxItem{Post: mcloud.Post{ChannelID: "C0DEVOPS", RequestID: r2, Text: "plan"}, Kind: store.KindPlan})
	for i := 1; i <= 5; i++ {
		queue(store.OutboxItem{Post: mcloud.Post{ChannelID: "C0CUSTX", RequestID: r1, Text: fmt.Sprintf("request 1, step %d", i)}})
		queue(store.OutboxItem{Post: mcloud.Post{ChannelID: "C0DEVOPS", RequestID: r2, Text: fmt.Sprintf("request 2, step %d", i)}})
		queue(store.OutboxItem{Post: mcloud.Post{ChannelID: "C0CUSTX", Text: fmt.Sprintf("channel note %d", i)}})
	}

	var hung atomic.Bool
	ws.Faults(func(method string, n int) *slackfake.Fault {
		switch {
		case n == 1:
			return &slackfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2}
		case n <= 7:
			return &slackfake.Fault{Status: http.StatusInternalServerError, Accept: n%2 == 1}
		case method == "chat.postMessage" && n >= 12 && hung.CompareAndSwap(false, true):
			return &slackfake.Fault{Hang: true}
		}
		return nil
	})
	first := startServe(t, bin, cfg, dbPath)
	ws.WaitFor(t, 2*time.Minute, "Slack to hold a message it took without answering", hung.Load)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	items, err := db.OutboxItems(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	sentBefore, inflight := 0, 0
	for _, it := range items {
		if !it.SentAt.IsZero() {
			sentBefore++
		} else if !it.InflightAt.IsZero() {
			inflight++
		}
	}
	if sentBefore == len(items) || inflight == 0 {
		t.Fatalf("killed with %d of %d sent and %d in flight; want some unsent, one of them in flight\n%s",
			sentBefore, len(items), inflight, first.output())
	}
	t.Logf("killed -9 with %d of %d messages sent, %d in flight", sentBefore, len(items), inflight)

	ws.Faults(nil)
	second := startServe(t, bin, cfg, dbPath)
	waitDB(t, 3*time.Minute, "the restarted process to send everything", func() bool {
		items, err = db.OutboxItems(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.SentAt.IsZero() {
				return false
			}
		}
		return true
	})
	checkOutbox(t, items, ws.Messages())
	if !strings.Contains(second.output(), "message was already in Slack; not posting it again") {
		t.Errorf("the restarted process did not find the message Slack took before the kill:\n%s", second.output())
	}

	var addr string
	select {
	case addr = <-second.addr:
	case <-time.After(time.Minute):
		t.Fatalf("serve never said where it listens:\n%s", second.output())
	}
	base := "http://" + addr
	waitDB(t, time.Minute, "/readyz", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	form := url.Values{"team_id": {"T0DEVOPS"}, "channel_id": {"C0DEVOPS"}, "user_id": {"U0ALICE"}, "user_name": {"alice"},
		"command": {"/mcloud"}, "text": {"help"}, "response_url": {ws.ResponseURL("C0DEVOPS", "U0ALICE")}, "trigger_id": {"1.2.serve"}}
	postCommand(t, base, form)
	ws.WaitFor(t, time.Minute, "the help answer", func() bool {
		for _, e := range ws.Ephemerals() {
			if e.User == "U0ALICE" && strings.Contains(e.Text, "mcloud commands you can run here") {
				return true
			}
		}
		return false
	})

	second.cmd.Process.Signal(syscall.SIGTERM)
	<-second.done
	if code := second.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("serve exited %d after SIGTERM:\n%s", code, second.output())
	}
	for _, secret := range []string{serveSecret, slackfake.BotToken} {
		if strings.Contains(first.output()+second.output(), secret) {
			t.Errorf("a secret is in the log")
		}
	}
}

// checkOutbox asserts every outbox message is in Slack exactly once, in
// its request's thread, and in outbox order within each thread.
func checkOutbox(t *testing.T, items []store.OutboxItem, msgs []slackfake.Message) {
	t.Helper()
	byID := map[string][]slackfake.Message{}
	bot := 0
	for _, m := range msgs {
		if id := m.OutboxID(); id != "" {
			byID[id] = append(byID[id], m)
			bot++
		}
	}
	roots := map[int64]string{}
	for _, it := range items {
		if it.Kind == store.KindPlan {
			roots[it.RequestID] = it.TS
		}
	}
	lastSeq := map[string]int{}
	for _, it := range items {
		got := byID[strconv.FormatInt(it.ID, 10)]
		if len(got) != 1 {
			t.Errorf("outbox %d (%q) is in Slack %d times, want exactly once", it.ID, it.Text, len(got))
			continue
		}
		m := got[0]
		want := ""
		if it.Kind == store.KindPost && it.RequestID != 0 {
			want = roots[it.RequestID]
		}
		if m.ThreadTS != want || m.TS != it.TS {
			t.Errorf("outbox %d (%q): Slack has it at %s in thread %q; want thread %q, recorded ts %s", it.ID, it.Text, m.TS, m.ThreadTS, want, it.TS)
		}
		key := m.Channel + "/" + m.ThreadTS
		if m.Seq < lastSeq[key] {
			t.Errorf("outbox %d (%q) reached %s out of order", it.ID, it.Text, key)
		}
		lastSeq[key] = m.Seq
	}
	if bot != len(items) {
		t.Errorf("Slack has %d bot messages for %d outbox messages", bot, len(items))
	}
}

// quietSchedules empties the customers' schedules: the example's are real
// times of day (a report at 07:00 UTC), and serve fires them, so a test
// running across one would see a job nobody asked for. Tests of schedules
// write their own.
func quietSchedules(yaml string) string {
	return regexp.MustCompile(`(?m)^    schedules:\n(?:      .*\n)+`).ReplaceAllString(yaml, "    schedules: {}\n")
}
