package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/integrations/metrics"
	mssh "github.com/mcloud/mcloud/integrations/ssh"
)

const metricsToken = "metrics-test-token"

// TestServeMetricsAfterAWSTour runs `mcloud serve` in-process in HTTP mode
// against the Slack fake and an AWS emulator seeded like the sandbox, plays
// examples/sandbox-aws.mcloud as signed slash commands (each line as its
// :user in its :channel, waiting for the jobs it starts, as the shell
// does), with Slack answering the first post 429, then scrapes /metrics:
// refused without the bearer token, and with it the commands, jobs, outbox,
// Slack and AWS series carry the tour's labels and counts. Run with -v to
// see the scrape's mcloud_* lines.
func TestServeMetricsAfterAWSTour(t *testing.T) {
	ws := slackfake.New(t)
	cfgPath := withMetrics(t, slackConfig(t, ws), "\nmetrics:\n  token: ${MCLOUD_METRICS_TOKEN}\n")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	emu, err := awsemu.Start("127.0.0.1:0", awsemu.Options{RestoreDelayFor: awsemu.ScaledRestoreTimes(sandboxAWSHour), SnapshotDelay: time.Second,
		DBSnapshotDelay: 1500 * time.Millisecond, ExportDelay: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	ext := map[string]string{"customer-x": "x-ext-metrics", "customer-y": "y-ext-metrics"}
	for i := range cfg.Customers {
		cu := &cfg.Customers[i]
		if cu.AWS.RoleARN != "" {
			if err := seedCustomer(emu, cu, ext[cu.Name], time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k, v := range map[string]string{
		"SLACK_BOT_TOKEN": slackfake.BotToken, "SLACK_SIGNING_SECRET": serveSecret, "SLACK_APP_TOKEN": "",
		"CUSTOMER_X_EXTERNAL_ID": ext["customer-x"], "CUSTOMER_Y_EXTERNAL_ID": ext["customer-y"],
		"MCLOUD_METRICS_TOKEN": metricsToken, "MCLOUD_AWS_ENDPOINT": emu.URL(), "MCLOUD_AWS_POLL_INTERVAL": "100ms",
		"AWS_ACCESS_KEY_ID": "AKIAMCLOUDMETRICS001", "AWS_SECRET_ACCESS_KEY": "metrics-test-secret",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
	} {
		t.Setenv(k, v)
		if v == "" {
			os.Unsetenv(k)
		}
	}
	// The first chat.postMessage is rate limited: the poster waits out
	// Retry-After and delivers it, and the 429 is counted.
	var limited atomic.Bool
	ws.Faults(func(method string, n int) *slackfake.Fault {
		if method == "chat.postMessage" && limited.CompareAndSwap(false, true) {
			return &slackfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 1}
		}
		return nil
	})
	base, logs := serveInProcess(t, cfgPath)

	if code, body := scrapeStatus(t, base, ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d %s", code, body)
	}
	handled, sawWaiting := 0.0, false
	playTour(t, cfg, ws, base, "../../examples/sandbox-aws.mcloud", func() {
		handled++
		waitMetrics(t, base, fmt.Sprintf("command %v handled", handled), func(text string) bool {
			sawWaiting = sawWaiting || strings.Contains(text, "\n"+`mcloud_approvals_waiting{customer="customer-x"} 1`+"\n")
			return sum(text, "mcloud_requests_total{") >= handled
		})
		waitMetrics(t, base, "no job queued or running", func(text string) bool {
			return sum(text, `mcloud_jobs{state="queued"`) == 0 && sum(text, `mcloud_jobs{state="running"`) == 0
		})
	})
	// Everything the jobs said reaches Slack, the 429'd post included.
	waitMetrics(t, base, "an empty outbox", func(text string) bool {
		return strings.Contains(text, "\nmcloud_outbox_messages 0\n")
	})

	if !sawWaiting {
		t.Error(`no scrape showed mcloud_approvals_waiting{customer="customer-x"} 1 while a request waited`)
	}
	text := scrapeOK(t, base)
	t.Logf("GET /metrics after the AWS tour (mcloud_* lines):\n%s", only(text, "mcloud_"))
	for _, line := range []string{
		`mcloud_requests_total{outcome="answered",verb="backups"} 2`,
		`mcloud_requests_total{outcome="waiting_approval",verb="restore-logs"} 1`,
		`mcloud_requests_total{outcome="invalid",verb="restore-logs"} 2`,
		`mcloud_requests_total{outcome="waiting_approval",verb="backup"} 1`,
		`mcloud_requests_total{outcome="approved",verb="approve"} 4`,
		`mcloud_jobs{state="succeeded",verb="restore-logs"} 1`,
		`mcloud_jobs{state="succeeded",verb="restore-artifacts"} 1`,
		`mcloud_jobs{state="succeeded",verb="backup"} 1`,
		`mcloud_jobs{state="succeeded",verb="db-export"} 1`,
		`mcloud_job_duration_seconds_count{state="succeeded",verb="restore-logs"} 1`,
		`mcloud_outbox_messages 0`,
		`mcloud_outbox_oldest_age_seconds 0`,
		`mcloud_slack_api_calls_total{method="chat.postMessage",result="rate_limited"} 1`,
	} {
		if !strings.Contains(text, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	for _, prefix := range []string{
		`mcloud_slack_api_calls_total{method="chat.postMessage",result="ok"}`,
		`mcloud_slack_api_calls_total{method="response_url",result="ok"}`,
		`mcloud_aws_calls_total{operation="AssumeRole",result="ok",service="STS"}`,
		`mcloud_aws_calls_total{operation="RestoreObject",result="ok",service="S3"}`,
		`mcloud_aws_calls_total{operation="CreateSnapshot",result="ok",service="EC2"}`,
		`mcloud_aws_calls_total{operation="StartExportTask",result="ok",service="RDS"}`,
		`mcloud_aws_call_duration_seconds_count{operation="ListObjectsV2",service="S3"}`,
	} {
		if sum(text, prefix) < 1 {
			t.Errorf("/metrics has no %s", prefix)
		}
	}
	if strings.Contains(logs.String(), metricsToken) {
		t.Error("the metrics token is in the log")
	}
}

// withMetrics appends section to the configuration file at path.
func withMetrics(t *testing.T, path, section string) string {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.WriteString(f, section); err != nil {
		t.Fatal(err)
	}
	return path
}

// playTour sends each /mcloud line of a shell script as a signed slash
// command from the script's current :user in its :channel, calling after
// each one.
func playTour(t *testing.T, cfg *config.Config, ws *slackfake.Workspace, base, path string, after func()) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	user, channel, n := "alice", "devops", 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, ":user "):
			user = strings.TrimSpace(strings.TrimPrefix(line, ":user "))
		case strings.HasPrefix(line, ":channel "):
			channel = strings.TrimSpace(strings.TrimPrefix(line, ":channel "))
		case strings.HasPrefix(line, "/mcloud "):
			n++
			id, ok := cfg.UserByName(user)
			ch, ok2 := cfg.ChannelByName(channel)
			if !ok || !ok2 {
				t.Fatalf("%s: user %q or channel %q is not in the configuration", path, user, channel)
			}
			postCommand(t, base, url.Values{"team_id": {id.TeamID}, "channel_id": {ch.ID}, "channel_name": {ch.Name},
				"user_id": {id.UserID}, "user_name": {user}, "command": {"/mcloud"}, "text": {strings.TrimPrefix(line, "/mcloud ")},
				"response_url": {ws.ResponseURL(ch.ID, id.UserID)}, "trigger_id": {"1.2." + strconv.Itoa(n)}})
			after()
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// postCommand sends a slash command signed as Slack signs it.
func postCommand(t *testing.T, base string, form url.Values) {
	t.Helper()
	status, err := signedPost(http.DefaultClient, base, "/slack/commands", form.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK {
		t.Fatalf("slash command %q answered %d", form.Get("text"), status)
	}
}

func scrapeStatus(t *testing.T, base, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func scrapeOK(t *testing.T, base string) string {
	t.Helper()
	code, text := scrapeStatus(t, base, metricsToken)
	if code != http.StatusOK {
		t.Fatalf("/metrics with the token: %d %s", code, text)
	}
	return "\n" + text
}

// waitMetrics scrapes until cond holds.
func waitMetrics(t *testing.T, base, what string, cond func(text string) bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		text := scrapeOK(t, base)
		if cond(text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; /metrics:\n%s", what, only(text, "mcloud_"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sum adds the values of the exposition's samples whose line starts with
// prefix.
func sum(text, prefix string) float64 {
	total := 0.0
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			v, _ := strconv.ParseFloat(l[i+1:], 64)
			total += v
		}
	}
	return total
}

func only(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSSHMetricsByCustomer: the SSH connector serve and the shell build
// reports each connect and command under the customer it was for.
func TestSSHMetricsByCustomer(t *testing.T) {
	cfg, err := config.Load("../../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Options{})
	conn, release, err := sshDeps(context.Background(), cfg, true, slog.New(slog.DiscardHandler), m, newSandboxMachines(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cu := cfg.Customer("customer-x")
	s, err := conn.Connect(context.Background(), cu)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := cu.Environments[0].Hosts[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.Run(ctx, mssh.Target{Name: h.Name, Address: h.Address}, "uptime"); err != nil {
		t.Fatal(err)
	}
	rec := httptestRecorder(t, m.Handler(""))
	for _, line := range []string{
		`mcloud_ssh_call_duration_seconds_count{customer="customer-x",op="connect",result="ok"} 1`,
		`mcloud_ssh_call_duration_seconds_count{customer="customer-x",op="run",result="ok"} 1`,
	} {
		if !strings.Contains(rec, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %s:\n%s", line, only(rec, "mcloud_ssh"))
		}
	}
}

func httptestRecorder(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return "\n" + rec.Body.String()
}

// TestServeMetricsGuard: the Slack listener faces the internet, so without
// metrics.token it refuses /metrics and says what to set; metrics.listen
// moves /metrics to its own address; a token whose variable is unset stops
// serve before it starts.
func TestServeMetricsGuard(t *testing.T) {
	ws := slackfake.New(t)
	for k, v := range map[string]string{"SLACK_BOT_TOKEN": slackfake.BotToken, "SLACK_SIGNING_SECRET": serveSecret,
		"CUSTOMER_X_EXTERNAL_ID": "x", "CUSTOMER_Y_EXTERNAL_ID": "y", "MCLOUD_METRICS_TOKEN": metricsToken, "UNSET_TOKEN": ""} {
		t.Setenv(k, v)
	}
	os.Unsetenv("SLACK_APP_TOKEN")
	os.Unsetenv("UNSET_TOKEN")
	configWith := func(section string) string { return withMetrics(t, slackConfig(t, ws), section) }

	t.Run("neither", func(t *testing.T) {
		base, _ := serveInProcess(t, configWith(""))
		if code, body := scrapeStatus(t, base, metricsToken); code != http.StatusForbidden || !strings.Contains(body, "set metrics.token") {
			t.Errorf("/metrics with no metrics settings: %d %q", code, body)
		}
	})
	t.Run("listen", func(t *testing.T) {
		base, logs := serveInProcess(t, configWith("\nmetrics:\n  listen: 127.0.0.1:0\n  token: ${MCLOUD_METRICS_TOKEN}\n"))
		if code, _ := scrapeStatus(t, base, metricsToken); code != http.StatusNotFound {
			t.Errorf("/metrics on the Slack listener with metrics.listen set: %d, want 404", code)
		}
		m := regexp.MustCompile(`msg="metrics serving" listen=(\S+)`).FindStringSubmatch(logs.String())
		if m == nil {
			t.Fatalf("no metrics listener in the log:\n%s", logs)
		}
		if code, _ := scrapeStatus(t, "http://"+m[1], ""); code != http.StatusUnauthorized {
			t.Errorf("metrics.listen without the token: %d, want 401", code)
		}
		if code, body := scrapeStatus(t, "http://"+m[1], metricsToken); code != http.StatusOK || !strings.Contains(body, "mcloud_outbox_messages ") {
			t.Errorf("metrics.listen with the token: %d\n%s", code, body)
		}
	})
	t.Run("unset token", func(t *testing.T) {
		cfg := configWith("\nmetrics:\n  token: ${UNSET_TOKEN}\n")
		code, _, stderr := run(t, "serve", "--check-config", "-c", cfg)
		if code != 1 || !strings.Contains(stderr, "metrics.token: environment variable UNSET_TOKEN is not set") {
			t.Errorf("check-config: exit %d\n%s", code, stderr)
		}
	})
}
