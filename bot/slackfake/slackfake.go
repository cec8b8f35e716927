// Package slackfake is a Slack workspace for tests. It is slack-go's
// slacktest server with the Web API methods mcloud uses added through its
// custom handlers, as real Slack answers them: chat.postMessage (unique ts,
// threads, message metadata), chat.update, chat.postEphemeral,
// conversations.history and conversations.replies (with
// include_all_metadata), conversations.open (direct messages), auth.test, response_url endpoints, and
// apps.connections.open pointing at a Socket Mode WebSocket endpoint
// served with gorilla/websocket. Faults (429 with Retry-After, 5xx, ok:false
// errors, a reset connection, a slow answer, a request Slack accepts but
// never answers) are injected per call. Besides mcloud's bot, a second app
// (OtherBotToken) may post, as another app in a shared channel can.
package slackfake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// Tokens the workspace accepts.
const (
	BotToken = "xoxb-test-bot-token"
	AppToken = "xapp-test-app-token"
	BotUser  = "U0MCLOUDBOT"
	// OtherBotToken is another app's bot token in the same workspace.
	OtherBotToken = "xoxb-other-app-token"
)

// Identity is who posts with a token: the bot user and its app.
type Identity struct {
	User, BotID, AppID string
}

// The identities of the two apps: mcloud's and another one.
var (
	Bot      = Identity{User: BotUser, BotID: "B0MCLOUD", AppID: "A0MCLOUD"}
	OtherBot = Identity{User: "U0OTHERBOT", BotID: "B0OTHERAPP", AppID: "A0OTHERAPP"}
	tokens   = map[string]Identity{BotToken: Bot, OtherBotToken: OtherBot}
)

type identityKey struct{}

// caller is the identity of the token the request came with.
func caller(r *http.Request) Identity {
	id, _ := r.Context().Value(identityKey{}).(Identity)
	return id
}

// Message is a message in a channel.
type Message struct {
	Seq      int
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	Metadata slack.SlackMetadata
	// User, BotID and AppID say who posted it; a person's message has
	// User only.
	User, BotID, AppID string
	// Updates counts the chat.update calls that changed it.
	Updates int
}

// OutboxID is the mcloud outbox id the message carries in its metadata.
func (m Message) OutboxID() string {
	if m.Metadata.EventType != "mcloud_outbox" {
		return ""
	}
	id, _ := m.Metadata.EventPayload["outbox_id"].(string)
	return id
}

// Ephemeral is a message only one user sees: chat.postEphemeral, or an
// ephemeral answer through a response_url.
type Ephemeral struct {
	Channel, User string
	// ResponseURL is the response_url it came through, "" for chat.postEphemeral.
	ResponseURL string
	Text        string
	Blocks      json.RawMessage
}

// Call is one Web API call.
type Call struct {
	Method string
	At     time.Time
	Status int
	Form   url.Values
}

// Fault is what the workspace does to one call instead of answering it.
type Fault struct {
	// Status answers with this HTTP status (429, 500, 503).
	Status int
	// RetryAfter is the Retry-After header of a 429, in seconds.
	RetryAfter int
	// Error answers {"ok": false, "error": Error}.
	Error string
	// Accept records the message before failing, as Slack sometimes does
	// when it answers 5xx.
	Accept bool
	// Hang records the message and then never answers, as when the
	// process dies while waiting for Slack.
	Hang bool
	// Delay holds the call this long before Slack acts on it (a slow page
	// of history, a slow post); the client may give up meanwhile, and the
	// call still takes effect.
	Delay time.Duration
	// Reset drops the connection without an answer, before acting.
	Reset bool
}

// Envelope is a Socket Mode request as Slack sends it.
type Envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	Payload                json.RawMessage `json:"payload"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
}

// Workspace is the fake Slack.
type Workspace struct {
	srv *slacktest.Server

	mu         sync.Mutex
	seq        int
	responses  int
	messages   []*Message
	ephemerals []Ephemeral
	calls      []Call
	fault      func(method string, n int) *Fault
	n          int
	changed    chan struct{}
	sockets    []*sock
	dials      int
	acks       []string
	closing    chan struct{}
	pageSize   int
	// refuseDM: chat.postMessage into a user's DM answers this error.
	refuseDM map[string]string
}

// sock is one Socket Mode connection; gorilla/websocket allows one writer
// at a time.
type sock struct {
	mu sync.Mutex
	c  *websocket.Conn
}

func (s *sock) writeJSON(v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return s.c.WriteJSON(v)
}

// New starts a workspace on 127.0.0.1; it stops when the test ends.
func New(tb interface {
	Helper()
	Cleanup(func())
}) *Workspace {
	tb.Helper()
	w := &Workspace{changed: make(chan struct{}), closing: make(chan struct{})}
	w.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", w.api("chat.postMessage", w.postMessage))
		c.Handle("/chat.update", w.api("chat.update", w.update))
		c.Handle("/chat.postEphemeral", w.api("chat.postEphemeral", w.postEphemeral))
		c.Handle("/conversations.history", w.api("conversations.history", w.history))
		c.Handle("/conversations.replies", w.api("conversations.replies", w.replies))
		c.Handle("/auth.test", w.api("auth.test", w.authTest))
		c.Handle("/conversations.open", w.api("conversations.open", w.openConversation))
		c.Handle("/apps.connections.open", w.connectionsOpen)
		c.Handle("/response/", w.responseURL)
		c.Handle("/socket", w.socket)
	})
	w.srv.Start()
	tb.Cleanup(w.Close)
	return w
}

// Close stops the server and lets hanging requests go.
func (w *Workspace) Close() {
	w.mu.Lock()
	select {
	case <-w.closing:
		w.mu.Unlock()
		return
	default:
	}
	close(w.closing)
	for _, s := range w.sockets {
		s.c.Close()
	}
	w.mu.Unlock()
	w.srv.Stop()
}

// APIURL is the Web API base URL, for slack.api_url.
func (w *Workspace) APIURL() string { return w.srv.GetAPIURL() }

// Host is the server's host:port.
func (w *Workspace) Host() string { return w.srv.ServerAddr }

// ResponseURL makes a new response_url, as Slack puts in each command and
// interaction payload.
func (w *Workspace) ResponseURL(channel, user string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.responses++
	return fmt.Sprintf("%sresponse/%d/%s/%s", w.APIURL(), w.responses, channel, user)
}

// Faults sets what happens to Web API calls from now on: f gets the
// method and the 1-based number of the call among all calls, and returns
// nil to answer normally.
func (w *Workspace) Faults(f func(method string, n int) *Fault) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fault, w.n = f, 0
}

// PageSize caps the messages in one page of conversations.history or
// conversations.replies, as a busy channel spreads its history over many
// pages; 0 means only the caller's limit.
func (w *Workspace) PageSize(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pageSize = n
}

// Messages returns the channel messages in the order Slack accepted them.
func (w *Workspace) Messages() []Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Message, len(w.messages))
	for i, m := range w.messages {
		out[i] = *m
	}
	return out
}

// UserMessage adds a message a person wrote (one a mention comes from),
// and returns its ts.
func (w *Workspace) UserMessage(channel, user, text string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	m := &Message{Seq: w.seq, Channel: channel, TS: fmt.Sprintf("%d.%06d", time.Now().Unix(), w.seq), Text: text, User: user}
	w.messages = append(w.messages, m)
	w.changedLocked()
	return m.TS
}

// Ephemerals returns what single users were shown.
func (w *Workspace) Ephemerals() []Ephemeral {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ephemerals)
}

// Calls returns every Web API call so far.
func (w *Workspace) Calls() []Call {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.calls)
}

// Acks returns the envelope ids acknowledged over Socket Mode.
func (w *Workspace) Acks() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acks)
}

// WaitFor blocks until cond holds, checking on every change, or fails
// after limit; limit is a guard against a hang, not a measurement.
func (w *Workspace) WaitFor(tb interface {
	Helper()
	Fatalf(string, ...any)
}, limit time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.After(limit)
	tick := time.NewTicker(50 * time.Millisecond) // for conditions on state outside the workspace
	defer tick.Stop()
	for {
		w.mu.Lock()
		ch := w.changed
		w.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-tick.C:
		case <-deadline:
			tb.Fatalf("gave up after %s waiting for %s", limit, what)
		}
	}
}

// changedLocked wakes every WaitFor; w.mu is held.
func (w *Workspace) changedLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

type handler func(rw http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) any

// api wraps a Web API method: it checks the bot token, records the call,
// applies any fault, and writes the JSON answer.
func (w *Workspace) api(method string, h handler) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		if r.Header.Get("Content-Type") == "application/json" {
			form = url.Values{}
			var m map[string]any
			json.Unmarshal(body, &m)
			for k, v := range m {
				form.Set(k, fmt.Sprint(v))
			}
		}
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if token == "" {
			token = form.Get("token")
		}
		w.mu.Lock()
		w.n++
		var fault *Fault
		if w.fault != nil {
			fault = w.fault(method, w.n)
		}
		call := Call{Method: method, At: time.Now(), Status: http.StatusOK, Form: form}
		if fault != nil && fault.Status != 0 {
			call.Status = fault.Status
		}
		w.calls = append(w.calls, call)
		w.changedLocked()
		w.mu.Unlock()

		id, ok := tokens[token]
		if !ok {
			writeJSON(rw, map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
		if fault != nil && fault.Reset {
			reset(rw)
			return
		}
		if fault != nil && fault.Delay > 0 {
			t := time.NewTimer(fault.Delay)
			select {
			case <-t.C:
			case <-w.closing:
				t.Stop()
				return
			}
		}
		if fault != nil && fault.Status == http.StatusTooManyRequests {
			rw.Header().Set("Retry-After", strconv.Itoa(fault.RetryAfter))
			http.Error(rw, "rate limited", http.StatusTooManyRequests)
			return
		}
		if fault != nil && fault.Error != "" {
			writeJSON(rw, map[string]any{"ok": false, "error": fault.Error})
			return
		}
		out := h(rw, r, form, fault)
		if out == nil {
			return // the handler answered, or hung
		}
		if fault != nil && fault.Status >= 500 {
			http.Error(rw, "<html>Slack is having trouble</html>", fault.Status)
			return
		}
		writeJSON(rw, out)
	}
}

// reset closes the connection under rw at once, so the client reads a
// connection reset instead of an answer.
func reset(rw http.ResponseWriter) {
	conn, _, err := http.NewResponseController(rw).Hijack()
	if err != nil {
		panic(fmt.Sprintf("slackfake: cannot reset the connection: %v", err))
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST, not FIN
	}
	conn.Close()
}

func writeJSON(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	json.NewEncoder(rw).Encode(v)
}

func (w *Workspace) postMessage(rw http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) any {
	channel := form.Get("channel")
	if channel == "" {
		return map[string]any{"ok": false, "error": "channel_not_found"}
	}
	if form.Get("text") == "" && form.Get("blocks") == "" {
		return map[string]any{"ok": false, "error": "no_text"}
	}
	if fault != nil && fault.Status >= 500 && !fault.Accept {
		return map[string]any{} // fails without posting
	}
	id := caller(r)
	w.mu.Lock()
	if code := w.refuseDM[channel]; code != "" {
		w.mu.Unlock()
		return map[string]any{"ok": false, "error": code}
	}
	w.seq++
	m := &Message{Seq: w.seq, Channel: channel, TS: fmt.Sprintf("%d.%06d", time.Now().Unix(), w.seq),
		ThreadTS: form.Get("thread_ts"), Text: form.Get("text"), Blocks: rawOrNil(form.Get("blocks")),
		User: id.User, BotID: id.BotID, AppID: id.AppID}
	if meta := form.Get("metadata"); meta != "" {
		json.Unmarshal([]byte(meta), &m.Metadata)
	}
	if m.ThreadTS != "" && !slices.ContainsFunc(w.messages, func(p *Message) bool { return p.Channel == channel && p.TS == m.ThreadTS }) {
		w.mu.Unlock()
		return map[string]any{"ok": false, "error": "thread_not_found"}
	}
	w.messages = append(w.messages, m)
	w.changedLocked()
	w.mu.Unlock()
	if fault != nil && fault.Hang {
		w.hang(r)
		return nil
	}
	return map[string]any{"ok": true, "channel": channel, "ts": m.TS, "message": w.wire(m, url.Values{})}
}

// RefuseDMs makes every message to user's DM fail with Slack's error
// code (messages_tab_disabled: the user turned direct messages from apps
// off), after the conversation was opened.
func (w *Workspace) RefuseDMs(user, code string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refuseDM == nil {
		w.refuseDM = map[string]string{}
	}
	w.refuseDM[DMChannel(user)] = code
}

// DMChannel is the id of the bot's direct-message conversation with
// user, as conversations.open answers it.
func DMChannel(user string) string { return "D" + strings.TrimPrefix(user, "U") }

// openConversation opens (or finds) the bot's DM with one user. A fault
// with Error answers as Slack does for a user it cannot reach
// (user_not_found, user_disabled, cannot_dm_bot).
func (w *Workspace) openConversation(rw http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) any {
	users := strings.Split(form.Get("users"), ",")
	if form.Get("users") == "" || len(users) != 1 {
		return map[string]any{"ok": false, "error": "users_list_not_supplied"}
	}
	return map[string]any{"ok": true, "channel": map[string]any{"id": DMChannel(users[0]), "is_im": true, "user": users[0]}}
}

// hang holds the request until the client gives up or the server stops.
func (w *Workspace) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-w.closing:
	}
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func (w *Workspace) update(rw http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) any {
	if fault != nil && fault.Status >= 500 && !fault.Accept {
		return map[string]any{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.messages {
		if m.Channel == form.Get("channel") && m.TS == form.Get("ts") {
			m.Text, m.Blocks = form.Get("text"), rawOrNil(form.Get("blocks"))
			m.Updates++
			w.changedLocked()
			return map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text}
		}
	}
	return map[string]any{"ok": false, "error": "message_not_found"}
}

func (w *Workspace) postEphemeral(rw http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) any {
	if fault != nil && fault.Status >= 500 {
		return map[string]any{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ephemerals = append(w.ephemerals, Ephemeral{Channel: form.Get("channel"), User: form.Get("user"),
		Text: form.Get("text"), Blocks: rawOrNil(form.Get("blocks"))})
	w.changedLocked()
	return map[string]any{"ok": true, "message_ts": fmt.Sprintf("%d.000000", time.Now().Unix())}
}

// history answers conversations.history: top-level messages, newest
// first, newer than oldest; metadata only with include_all_metadata. The
// cursor is the ts of the last message of the page before, so messages
// posted meanwhile are not on later pages, as in Slack.
func (w *Workspace) history(rw http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var all []*Message
	for i := len(w.messages) - 1; i >= 0; i-- {
		m := w.messages[i]
		if m.Channel != form.Get("channel") || m.ThreadTS != "" || !newer(m.TS, form.Get("oldest")) {
			continue
		}
		if c := form.Get("cursor"); c != "" && !newer(c, m.TS) {
			continue
		}
		all = append(all, m)
	}
	return w.page(all, form)
}

// replies answers conversations.replies: the parent, then its replies,
// oldest first; the cursor is the ts of the last message of the page
// before.
func (w *Workspace) replies(rw http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var all []*Message
	found := false
	for _, m := range w.messages {
		if m.Channel != form.Get("channel") || (m.TS != form.Get("ts") && m.ThreadTS != form.Get("ts")) {
			continue
		}
		found = true
		if m.TS != form.Get("ts") && !newer(m.TS, form.Get("oldest")) {
			continue
		}
		if c := form.Get("cursor"); c != "" && !newer(m.TS, c) {
			continue
		}
		all = append(all, m)
	}
	if !found {
		return map[string]any{"ok": false, "error": "thread_not_found"}
	}
	return w.page(all, form)
}

// page answers with the first page of msgs; w.mu is held.
func (w *Workspace) page(msgs []*Message, form url.Values) any {
	n := len(msgs)
	if limit, err := strconv.Atoi(form.Get("limit")); err == nil && limit > 0 {
		n = min(n, limit)
	}
	if w.pageSize > 0 {
		n = min(n, w.pageSize)
	}
	out := []map[string]any{}
	for _, m := range msgs[:n] {
		out = append(out, w.wire(m, form))
	}
	next := ""
	if n < len(msgs) {
		next = msgs[n-1].TS
	}
	return map[string]any{"ok": true, "messages": out, "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next}}
}

func (w *Workspace) wire(m *Message, form url.Values) map[string]any {
	v := map[string]any{"type": "message", "user": m.User, "text": m.Text, "ts": m.TS}
	if m.BotID != "" {
		v["bot_id"], v["app_id"] = m.BotID, m.AppID
		v["bot_profile"] = map[string]any{"id": m.BotID, "app_id": m.AppID}
	}
	if m.ThreadTS != "" {
		v["thread_ts"] = m.ThreadTS
	}
	if form.Get("include_all_metadata") == "1" && m.Metadata.EventType != "" {
		v["metadata"] = m.Metadata
	}
	return v
}

func newer(ts, oldest string) bool {
	if oldest == "" {
		return true
	}
	a, _ := strconv.ParseFloat(ts, 64)
	b, _ := strconv.ParseFloat(oldest, 64)
	return a > b
}

func (w *Workspace) authTest(rw http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) any {
	id := caller(r)
	return map[string]any{"ok": true, "url": "https://mcloud-test.slack.com/", "team": "DevOps", "team_id": "T0DEVOPS",
		"user": "mcloud", "user_id": id.User, "bot_id": id.BotID, "app_id": id.AppID}
}

// responseURL records what the bot answers through a response_url:
// /response/<n>/<channel>/<user>.
func (w *Workspace) responseURL(rw http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/response/"), "/")
	var msg struct {
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
	}
	if len(parts) != 3 || json.NewDecoder(r.Body).Decode(&msg) != nil {
		http.Error(rw, "bad response_url request", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	if msg.ResponseType == "in_channel" {
		w.seq++
		w.messages = append(w.messages, &Message{Seq: w.seq, Channel: parts[1], TS: fmt.Sprintf("%d.%06d", time.Now().Unix(), w.seq),
			Text: msg.Text, Blocks: msg.Blocks, User: Bot.User, BotID: Bot.BotID, AppID: Bot.AppID})
	} else {
		w.ephemerals = append(w.ephemerals, Ephemeral{Channel: parts[1], User: parts[2], ResponseURL: r.URL.String(),
			Text: msg.Text, Blocks: msg.Blocks})
	}
	w.changedLocked()
	w.mu.Unlock()
	writeJSON(rw, map[string]any{"ok": true})
}

func (w *Workspace) connectionsOpen(rw http.ResponseWriter, r *http.Request) {
	ok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") == AppToken
	w.mu.Lock()
	call := Call{Method: "apps.connections.open", At: time.Now(), Status: http.StatusOK, Form: url.Values{}}
	if !ok {
		call.Form.Set("error", "invalid_auth")
	}
	w.calls = append(w.calls, call)
	w.changedLocked()
	w.mu.Unlock()
	if !ok {
		writeJSON(rw, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	writeJSON(rw, map[string]any{"ok": true, "url": "ws://" + w.Host() + "/socket"})
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// socket speaks Slack's Socket Mode: hello on connect, pings to keep the
// client's liveness check happy, and acks read back from the client.
func (w *Workspace) socket(rw http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(rw, r, nil)
	if err != nil {
		return
	}
	s := &sock{c: conn}
	if err := s.writeJSON(map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A0MCLOUD"}, "debug_info": map[string]any{"host": "slackfake"}}); err != nil {
		conn.Close()
		return
	}
	w.mu.Lock()
	w.dials++
	w.sockets = append(w.sockets, s)
	w.changedLocked()
	w.mu.Unlock()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
			}
		}
	}()
	defer func() {
		close(done)
		conn.Close()
		w.mu.Lock()
		w.sockets = slices.DeleteFunc(w.sockets, func(x *sock) bool { return x == s })
		w.changedLocked()
		w.mu.Unlock()
	}()
	for {
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if err := conn.ReadJSON(&ack); err != nil {
			return
		}
		w.mu.Lock()
		w.acks = append(w.acks, ack.EnvelopeID)
		w.changedLocked()
		w.mu.Unlock()
	}
}

// Connected reports how many Socket Mode clients are connected.
func (w *Workspace) Connected() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sockets)
}

// Dials counts the Socket Mode connections ever made.
func (w *Workspace) Dials() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dials
}

// Send delivers an envelope to every connected Socket Mode client.
func (w *Workspace) Send(ctx context.Context, env Envelope) error {
	w.mu.Lock()
	conns := slices.Clone(w.sockets)
	w.mu.Unlock()
	if len(conns) == 0 {
		return fmt.Errorf("no Socket Mode client is connected")
	}
	for _, s := range conns {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.writeJSON(env); err != nil {
			return fmt.Errorf("send envelope %s: %w", env.EnvelopeID, err)
		}
	}
	return nil
}

// Disconnect asks every client to reconnect, as Slack does routinely.
func (w *Workspace) Disconnect() {
	w.mu.Lock()
	conns := slices.Clone(w.sockets)
	w.mu.Unlock()
	for _, s := range conns {
		s.writeJSON(map[string]any{"type": "disconnect", "reason": "refresh_requested"})
	}
}
