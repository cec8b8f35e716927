package bot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
	"github.com/mcloud/mcloud/jobs"
)

const testSigningSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// harness is the whole bot against a fake Slack: the real store, the
// real command service, real River jobs, the real handlers over HTTP.
type harness struct {
	t     testing.TB
	ws    *slackfake.Workspace
	db    *store.DB
	cfg   *config.Config
	slack *Slack
	srv   *httptest.Server
	seq   atomic.Int64
	// finished counts the deliveries the bot has done the work of;
	// waited is how many the test has waited for.
	finished atomic.Int64
	poke     chan struct{}
	waited   int64
}

// testLog writes the bot's log into the test's, until the test ends.
type testLog struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func newTestLogger(tb testing.TB) *slog.Logger {
	l := &testLog{t: tb}
	tb.Cleanup(func() { l.mu.Lock(); l.closed = true; l.mu.Unlock() })
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// harnessOptions vary the harness.
type harnessOptions struct {
	mode string // config.SlackHTTP (default) or config.SlackSocket
	dsn  string // default: a fresh SQLite file
	// workers: 1 makes the bot work its deliveries in arrival order.
	workers int
	// lease is how long a claimed delivery waits for its worker.
	lease time.Duration
	// dead: the bot answers HTTP but never works anything (commands or
	// jobs), like a process killed right after its acknowledgements.
	dead bool
	// ws: the Slack workspace, when several processes share one.
	ws *slackfake.Workspace
	// config edits the example configuration.
	config func(*config.Config)
	// log, when set, gets the bot's log at debug level instead of the test's.
	log io.Writer
	// setup, when set, adjusts the configuration and the service's
	// dependencies before anything runs.
	setup func(cfg *config.Config, svc *commands.Service)
	// slackStore, when set, is the store the adapter uses, around the real one.
	slackStore func(db *store.DB) SlackStore
	// taskTimeout, when set, bounds each delivery's work.
	taskTimeout time.Duration
}

func newHarness(tb testing.TB, o harnessOptions) *harness {
	tb.Helper()
	if o.mode == "" {
		o.mode = config.SlackHTTP
	}
	if o.dsn == "" {
		o.dsn = filepath.Join(tb.TempDir(), "mcloud.db")
	}
	ws := o.ws
	if ws == nil {
		ws = slackfake.New(tb)
	}
	if t, ok := tb.(interface{ Setenv(string, string) }); ok {
		t.Setenv("SLACK_BOT_TOKEN", slackfake.BotToken)
		t.Setenv("SLACK_SIGNING_SECRET", testSigningSecret)
		t.Setenv("SLACK_APP_TOKEN", slackfake.AppToken)
	}
	cfg := exampleConfig(tb)
	cfg.Slack.APIURL = ws.APIURL()
	cfg.Slack.Mode = o.mode
	if o.config != nil {
		o.config(cfg)
	}
	log := newTestLogger(tb)
	if o.log != nil {
		log = slog.New(slog.NewTextHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}

	ctx, cancel := context.WithCancel(context.Background())
	db := storetest.Open(tb, o.dsn)
	svc, err := commands.New(cfg, db)
	if err != nil {
		tb.Fatal(err)
	}
	svc.Log = log
	if o.setup != nil {
		o.setup(cfg, svc)
	}
	q, err := jobs.New(db, svc, jobs.Options{Workers: 4, RescueAfter: time.Hour, PollInterval: 50 * time.Millisecond, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	svc.SetQueue(q.Enqueue)
	if !o.dead {
		if err := q.Start(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	var sdb SlackStore = db
	if o.slackStore != nil {
		sdb = o.slackStore(db)
	}
	sl, err := NewSlack(svc, sdb, SlackOptions{Logger: log, Workers: o.workers, Lease: o.lease, Poster: PosterOptions{Interval: 10 * time.Millisecond, Poll: 50 * time.Millisecond}})
	if err != nil {
		tb.Fatal(err)
	}
	svc.Deps.DM = sl
	if o.taskTimeout > 0 {
		sl.taskTimeout = o.taskTimeout
	}
	h := &harness{t: tb, ws: ws, db: db, cfg: cfg, slack: sl, poke: make(chan struct{}, 1)}
	sl.taskDone = func(string) {
		h.finished.Add(1)
		select {
		case h.poke <- struct{}{}:
		default:
		}
	}
	ran := make(chan struct{})
	if o.dead {
		close(ran)
	} else {
		go func() { sl.Run(ctx); close(ran) }()
	}
	h.srv = httptest.NewServer(sl.Handler())
	tb.Cleanup(func() {
		h.srv.Close()
		cancel()
		<-ran
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		q.Stop(sctx)
		db.Close()
	})
	if !o.dead {
		ws.WaitFor(tb, 30*time.Second, "the bot to reach Slack", func() bool { return sl.Ready(ctx) == nil })
	}
	return h
}

func sign(secret, stamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// send posts body to path signed as Slack signs, and returns the status
// and body of the answer.
func (h *harness) send(path string, body []byte, header http.Header) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if strings.HasSuffix(path, "/events") {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func signedHeader(secret string, at time.Time, body []byte) http.Header {
	stamp := strconv.FormatInt(at.Unix(), 10)
	return http.Header{"X-Slack-Request-Timestamp": {stamp}, "X-Slack-Signature": {sign(secret, stamp, body)}}
}

func (h *harness) sendSigned(path string, body []byte) (int, string) {
	h.t.Helper()
	return h.send(path, body, signedHeader(testSigningSecret, time.Now(), body))
}

// who is a Slack user as a payload names them.
type who struct{ user, team, name string }

var (
	alice    = who{"U0ALICE", "T0DEVOPS", "alice"}
	bob      = who{"U0BOB", "T0DEVOPS", "bob"}
	erin     = who{"U0ERIN", "T0DEVOPS", "erin"}
	carol    = who{"U0CAROL", "T0CUSTX", "carol"}
	impostor = who{"U0BOB", "T0EVIL", "bob"} // another workspace, a colleague's id and name
)

const (
	devops    = "C0DEVOPS"
	customerX = "C0CUSTX"
)

func (h *harness) trigger() string {
	return fmt.Sprintf("%d.%d.%x", 1000+h.seq.Add(1), time.Now().UnixNano(), h.seq.Load())
}

// slashBody is a slash command in Slack's documented form encoding.
func (h *harness) slashBody(u who, channel, text string) []byte {
	return []byte(url.Values{
		"token": {"gIkuvaNzQIHg97ATvDxqgjtO"}, "team_id": {u.team}, "team_domain": {"example"},
		"channel_id": {channel}, "channel_name": {h.cfg.ChannelName(channel)}, "user_id": {u.user}, "user_name": {u.name},
		"command": {"/mcloud"}, "text": {text}, "api_app_id": {"A0MCLOUD"}, "is_enterprise_install": {"false"},
		"response_url": {h.ws.ResponseURL(channel, u.user)}, "trigger_id": {h.trigger()},
	}.Encode())
}

// clickBody is a block_actions payload in Slack's documented form: one
// button of the message ts in channel, clicked by u.
func (h *harness) clickBody(u who, channel, ts, actionID, value string) []byte {
	payload := map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": u.user, "username": u.name, "name": u.name, "team_id": u.team},
		"api_app_id": "A0MCLOUD", "token": "gIkuvaNzQIHg97ATvDxqgjtO",
		"container":  map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"trigger_id": h.trigger(),
		"team":       map[string]any{"id": u.team, "domain": "example"},
		"enterprise": nil, "is_enterprise_install": false,
		"channel":      map[string]any{"id": channel, "name": h.cfg.ChannelName(channel)},
		"message":      map[string]any{"type": "message", "ts": ts, "user": slackfake.BotUser, "text": "plan"},
		"state":        map[string]any{"values": map[string]any{}},
		"response_url": h.ws.ResponseURL(channel, u.user),
		"actions": []map[string]any{{"action_id": actionID, "block_id": "request_" + value, "value": value, "type": "button",
			"text": map[string]any{"type": "plain_text", "text": actionID}, "action_ts": fmt.Sprintf("%d.000100", time.Now().Unix())}},
	}
	js, _ := json.Marshal(payload)
	return []byte(url.Values{"payload": {string(js)}}.Encode())
}

// waitTasks waits until the bot finished the work of n more deliveries.
func (h *harness) waitTasks(n int) {
	h.t.Helper()
	h.waited += int64(n)
	limit := time.After(60 * time.Second)
	for h.finished.Load() < h.waited {
		select {
		case <-h.poke:
		case <-limit:
			h.t.Fatalf("the bot finished %d deliveries; waited for %d", h.finished.Load(), h.waited)
		}
	}
}

// botMessages are the messages the bot posted in channel, in order.
func (h *harness) botMessages(channel string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range h.ws.Messages() {
		if m.Channel == channel && m.OutboxID() != "" {
			out = append(out, m)
		}
	}
	return out
}

// planMessage is the bot's message whose blocks belong to request id.
func (h *harness) planMessage(channel string, id int64) (slackfake.Message, bool) {
	for _, m := range h.botMessages(channel) {
		if m.ThreadTS == "" && strings.Contains(m.Text, fmt.Sprintf("Plan for request #%d:", id)) {
			return m, true
		}
	}
	return slackfake.Message{}, false
}

func (h *harness) thread(channel, ts string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range h.botMessages(channel) {
		if m.ThreadTS == ts {
			out = append(out, m)
		}
	}
	return out
}

// count is the number of rows in table.
func (h *harness) count(table string) int {
	h.t.Helper()
	var n int
	if err := h.db.SQL().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// slackCalls are the Web API calls other than the start-up auth.test.
func (h *harness) slackCalls() []slackfake.Call {
	var out []slackfake.Call
	for _, c := range h.ws.Calls() {
		if c.Method != "auth.test" {
			out = append(out, c)
		}
	}
	return out
}
