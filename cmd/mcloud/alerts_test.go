package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/integrations/monitoring"
)

const alertsToken = "am-webhook-token"

// alertsConfig is the example configuration in HTTP mode against ws, with
// the alert receivers on.
func alertsConfig(t *testing.T, ws *slackfake.Workspace, extra string) string {
	t.Helper()
	return writeConfig(t, func(s string) string {
		out := strings.Replace(s, "  app_token: ${SLACK_APP_TOKEN}     # set it to use Socket Mode (no public URL)\n",
			"  api_url: "+ws.APIURL()+"\n", 1)
		out = strings.Replace(out, "\ncustomers:\n", "\nalerts:\n  alertmanager:\n    token: ${MCLOUD_AM_TOKEN}\n"+extra+"\ncustomers:\n", 1)
		if !strings.Contains(out, "alertmanager:") || !strings.Contains(out, "api_url:") {
			t.Fatal("the example configuration changed under this test")
		}
		return out
	})
}

// freeAddr is a loopback address nobody listens on (for programs that
// cannot be told to pick one themselves).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startAlertmanager runs Debian's prometheus-alertmanager with one
// webhook receiver: mcloud at hook, authenticated by bearer token.
func startAlertmanager(t *testing.T, hook string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		t.Fatalf("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager): %v", err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: mcloud
  group_by: [alertname, instance]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: mcloud
    webhook_configs:
      - url: %s
        send_resolved: true
        http_config:
          authorization: {type: Bearer, credentials: %s}
`, hook, alertsToken)
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "am.yml"), "--storage.path="+dir,
		"--web.listen-address="+addr, "--cluster.listen-address=")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	waitDB(t, time.Minute, "alertmanager to be ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return base
}

func pushAlert(t *testing.T, am string, labels map[string]string, ends time.Time) {
	t.Helper()
	a := map[string]any{"labels": labels, "annotations": map[string]string{"summary": "/var is 97% full"},
		"startsAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}
	if !ends.IsZero() {
		a["endsAt"] = ends.UTC().Format(time.RFC3339)
	}
	body, _ := json.Marshal([]any{a})
	resp, err := http.Post(am+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("push alert to alertmanager: HTTP %d", resp.StatusCode)
	}
}

// TestAlertmanagerFiringThenResolved: a real Alertmanager sends firing,
// then resolved, to `mcloud serve`; the customer's channel gets one
// message, updated in place to resolved, with the resolution in its
// thread; the other customer's channel gets nothing.
func TestAlertmanagerFiringThenResolved(t *testing.T) {
	bin := mcloudBinary(t)
	ws := slackfake.New(t)
	cfg := alertsConfig(t, ws, "")
	t.Setenv("MCLOUD_AM_TOKEN", alertsToken)
	srv := startServe(t, bin, cfg, filepath.Join(t.TempDir(), "mcloud.db"))
	var addr string
	select {
	case addr = <-srv.addr:
	case <-srv.done:
		t.Fatalf("mcloud serve exited:\n%s", srv.output())
	}
	am := startAlertmanager(t, "http://"+addr+"/alerts/alertmanager")

	labels := map[string]string{"alertname": "DiskFull", "severity": "critical", "customer": "customer-x", "instance": "x-prod-apim-1:9100"}
	pushAlert(t, am, labels, time.Time{})
	root := func() *slackfake.Message { return topMessage(ws, "C0CUSTX", "DiskFull") }
	ws.WaitFor(t, 2*time.Minute, "the firing alert in customer-x's channel", func() bool { return root() != nil })
	if m := root(); !strings.Contains(m.Text, "[CRITICAL]") || !strings.Contains(m.Text, "x-prod-apim-1") {
		t.Errorf("firing message: %q", m.Text)
	}

	pushAlert(t, am, labels, time.Now())
	ws.WaitFor(t, 2*time.Minute, "the message updated to resolved", func() bool {
		m := root()
		return m != nil && strings.Contains(m.Text, "[RESOLVED]")
	})
	m := root()
	var roots, replies int
	for _, x := range ws.Messages() {
		switch {
		case x.Channel == "C0CUSTY":
			t.Errorf("customer-y's channel got %q", x.Text)
		case x.Channel == "C0CUSTX" && x.ThreadTS == "":
			roots++
		case x.Channel == "C0CUSTX" && x.ThreadTS == m.TS && strings.HasPrefix(x.Text, "resolved"):
			replies++
		}
	}
	ws.WaitFor(t, time.Minute, "the resolution in the thread", func() bool {
		for _, x := range ws.Messages() {
			if x.Channel == "C0CUSTX" && x.ThreadTS == m.TS && strings.HasPrefix(x.Text, "resolved") {
				return true
			}
		}
		return false
	})
	if roots != 1 || m.Updates == 0 {
		t.Errorf("customer-x's channel: %d top-level messages, the alert's updated %d times; want 1 message updated in place", roots, m.Updates)
	}
	// Acknowledge as a silence (API v2), visible in Alertmanager's own API.
	// (After the resolution: Alertmanager sends nothing, not even the
	// resolution, for a silenced alert.)
	id, err := monitoring.NewAlertmanagerAPI(am).Silence(context.Background(),
		map[string]string{"alertname": "DiskFull", "instance": "x-prod-apim-1:9100"}, time.Now().Add(time.Hour), "alice", "looking at it")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(am + "/api/v2/silence/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var sil struct {
		CreatedBy string `json:"createdBy"`
		Status    struct {
			State string `json:"state"`
		} `json:"status"`
	}
	json.NewDecoder(resp.Body).Decode(&sil)
	resp.Body.Close()
	if sil.CreatedBy != "alice" || sil.Status.State != "active" {
		t.Errorf("silence %s in Alertmanager: %+v", id, sil)
	}

	t.Logf("alert message %s: %q (updated %d times)", m.TS, m.Text, m.Updates)
}

// TestShellListenServesAlertReceivers: `mcloud shell --sandbox --listen`
// takes an alert posted with the sample payload, and the shell shows it in
// customer-x's channel and lists it under `alerts`.
func TestShellListenServesAlertReceivers(t *testing.T) {
	cfg := writeConfig(t, func(s string) string {
		return strings.Replace(s, "\ncustomers:\n", "\nalerts:\n  alertmanager:\n    token: ${MCLOUD_AM_TOKEN}\n\ncustomers:\n", 1)
	})
	t.Setenv("MCLOUD_AM_TOKEN", alertsToken)
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stdin, feed := io.Pipe()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"shell", "-c", cfg, "--sandbox", "--listen", addr, "--database-url", filepath.Join(t.TempDir(), "mcloud.db")},
			stdin, &out, &errb)
	}()
	sample, err := os.ReadFile("../../examples/alerts/alertmanager.json")
	if err != nil {
		t.Fatal(err)
	}
	waitDB(t, time.Minute, "the shell's alert receiver to take the sample", func() bool {
		req, _ := http.NewRequest("POST", "http://"+addr+"/alerts/alertmanager", bytes.NewReader(sample))
		req.Header.Set("Authorization", "Bearer "+alertsToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("sample alert: HTTP %d\n%s", resp.StatusCode, errb.String())
		}
		return true
	})
	io.WriteString(feed, "/mcloud alerts\n")
	feed.Close()
	if code := <-done; code != 0 {
		t.Fatalf("shell exited %d\n%s\n%s", code, out.String(), errb.String())
	}
	got := out.String()
	for _, want := range []string{"[#customer-x-shared, alert #1] [CRITICAL] alert #1: DiskFull on x-prod-apim-1:9100 (customer-x)", "#1 critical DiskFull on x-prod-apim-1:9100 (customer-x), firing"} {
		if !strings.Contains(got, want) {
			t.Errorf("shell output lacks %q:\n%s", want, got)
		}
	}
}

// topMessage is the first message at the top of channel (not in a
// thread) whose text contains want, or nil.
func topMessage(ws *slackfake.Workspace, channel, want string) *slackfake.Message {
	for _, m := range ws.Messages() {
		if m.Channel == channel && m.ThreadTS == "" && strings.Contains(m.Text, want) {
			return &m
		}
	}
	return nil
}
