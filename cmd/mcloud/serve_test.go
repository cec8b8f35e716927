package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/config/configtest"
)

// syncBuffer is a bytes.Buffer safe to write from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveInProcess runs `mcloud serve` in this process until the test ends
// and returns its base URL and log.
func serveInProcess(t *testing.T, cfg string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "-c", cfg, "--database-url", filepath.Join(t.TempDir(), "m.db"), "--listen", "127.0.0.1:0"},
			strings.NewReader(""), &out, &errb)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d:\n%s", code, errb.String())
		}
	})
	re := regexp.MustCompile(`msg="mcloud serving" listen=(\S+)`)
	deadline := time.Now().Add(time.Minute)
	for {
		if m := re.FindStringSubmatch(errb.String()); m != nil {
			return "http://" + m[1], &errb
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeSocketMode: with an app token and no public URL, serve opens
// Socket Mode by default, is ready only once connected, and handles an
// envelope; with a token Slack refuses it stays alive but not ready.
func TestServeSocketMode(t *testing.T) {
	ws := slackfake.New(t)
	cfg := configtest.Example(t).Set("slack.api_url", ws.APIURL()).Write()
	t.Setenv("SLACK_BOT_TOKEN", slackfake.BotToken)
	t.Setenv("SLACK_SIGNING_SECRET", "unused-in-socket-mode")
	t.Setenv("CUSTOMER_X_EXTERNAL_ID", "x")
	t.Setenv("CUSTOMER_Y_EXTERNAL_ID", "y")

	t.Run("refused token", func(t *testing.T) {
		t.Setenv("SLACK_APP_TOKEN", "xapp-revoked")
		base, log := serveInProcess(t, cfg)
		ws.WaitFor(t, time.Minute, "Slack to refuse the token", func() bool {
			return strings.Contains(log.String(), "Slack refused the app-level token")
		})
		if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
			t.Fatalf("/healthz = %d", code)
		}
		if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "Socket Mode not connected") {
			t.Fatalf("/readyz = %d %q; want 503, not connected", code, body)
		}
		if strings.Contains(log.String(), "xapp-revoked") {
			t.Fatal("the app token is in the log")
		}
	})

	t.Run("connected", func(t *testing.T) {
		t.Setenv("SLACK_APP_TOKEN", slackfake.AppToken)
		base, log := serveInProcess(t, cfg)
		ws.WaitFor(t, time.Minute, "/readyz", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK })
		if !strings.Contains(log.String(), "slack=socket") {
			t.Fatalf("serve did not choose Socket Mode:\n%s", log.String())
		}
		payload, _ := json.Marshal(map[string]string{"team_id": "T0DEVOPS", "channel_id": "C0DEVOPS", "user_id": "U0ALICE",
			"user_name": "alice", "command": "/mcloud", "text": "help", "trigger_id": "9.9.serve",
			"response_url": ws.ResponseURL("C0DEVOPS", "U0ALICE")})
		if err := ws.Send(context.Background(), slackfake.Envelope{EnvelopeID: "env-serve-1", Type: "slash_commands", Payload: payload}); err != nil {
			t.Fatal(err)
		}
		ws.WaitFor(t, time.Minute, "the envelope to be acknowledged and answered", func() bool {
			acked := false
			for _, id := range ws.Acks() {
				acked = acked || id == "env-serve-1"
			}
			for _, e := range ws.Ephemerals() {
				if acked && strings.Contains(e.Text, "mcloud commands you can run here") {
					return true
				}
			}
			return false
		})
	})
}

func TestServeCheckConfigSlackMode(t *testing.T) {
	for _, v := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "CUSTOMER_X_EXTERNAL_ID", "CUSTOMER_Y_EXTERNAL_ID"} {
		t.Setenv(v, "set")
	}
	code, stdout, _ := run(t, "serve", "--check-config", "-c", "../../examples/mcloud.yaml")
	if code != 0 || !strings.Contains(stdout, "Slack over Socket Mode") {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	httpMode := configtest.Example(t).Set("slack.mode", "http").Write()
	if code, stdout, _ := run(t, "serve", "--check-config", "-c", httpMode); code != 0 || !strings.Contains(stdout, "Slack over HTTP") {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	bad := configtest.Example(t).Set("slack.mode", "carrier-pigeon").Write()
	if code, _, stderr := run(t, "serve", "--check-config", "-c", bad); code != 1 || !strings.Contains(stderr, `slack.mode: must be "socket" or "http", not "carrier-pigeon"`) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	noSecret := configtest.Example(t).Delete("slack.signing_secret").Set("slack.mode", "http").Write()
	if code, _, stderr := run(t, "serve", "--check-config", "-c", noSecret); code != 1 || !strings.Contains(stderr, "slack.signing_secret: missing; HTTP mode verifies") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
