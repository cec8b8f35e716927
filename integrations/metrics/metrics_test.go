package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/integrations/metrics"
)

// scrape GETs the exposition from h with the given Authorization header.
func scrape(t *testing.T, h http.Handler, auth string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func expectLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains("\n"+text, "\n"+l+"\n") {
			t.Errorf("exposition lacks %q; its mcloud lines:\n%s", l, mcloudLines(text))
		}
	}
}

func mcloudLines(text string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "mcloud_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSlackTransportCountsByMethodAndResult drives the real slack-go
// client against the Slack fake through the transport: a post, a 429, an
// {"ok": false}, a 500 and a response_url answer are each counted under
// their method with their result.
func TestSlackTransportCountsByMethodAndResult(t *testing.T) {
	ws := slackfake.New(t)
	m := metrics.New(metrics.Options{})
	api := slack.New(slackfake.BotToken, slack.OptionAPIURL(ws.APIURL()),
		slack.OptionHTTPClient(&http.Client{Transport: m.SlackTransport(nil)}))
	faults := map[int]*slackfake.Fault{
		2: {Status: http.StatusTooManyRequests, RetryAfter: 1},
		3: {Error: "channel_not_found"},
		4: {Status: http.StatusInternalServerError},
	}
	ws.Faults(func(method string, n int) *slackfake.Fault { return faults[n] })
	ctx := context.Background()
	for i := 1; i <= 4; i++ {
		_, _, err := api.PostMessageContext(ctx, "C0DEVOPS", slack.MsgOptionText("hello", false))
		var limited *slack.RateLimitedError
		if (i == 1) != (err == nil) || (i == 2) != errors.As(err, &limited) {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionText("via response_url", false),
		slack.MsgOptionResponseURL(ws.ResponseURL("C0DEVOPS", "U0ALICE"), slack.ResponseTypeEphemeral)); err != nil {
		t.Fatal(err)
	}
	_, text := scrape(t, m.Handler(""), "")
	expectLines(t, text,
		`mcloud_slack_api_calls_total{method="chat.postMessage",result="ok"} 1`,
		`mcloud_slack_api_calls_total{method="chat.postMessage",result="rate_limited"} 1`,
		`mcloud_slack_api_calls_total{method="chat.postMessage",result="error"} 1`,
		`mcloud_slack_api_calls_total{method="chat.postMessage",result="http_error"} 1`,
		`mcloud_slack_api_calls_total{method="response_url",result="ok"} 1`,
		`mcloud_slack_api_call_duration_seconds_count{method="chat.postMessage"} 4`,
	)
}

// TestHandlerToken: with a token, a scrape without it or with another is
// refused 401; with it, the exposition is served.
func TestHandlerToken(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.Request("status", "answered")
	h := m.Handler("s3cret-token")
	for _, auth := range []string{"", "Bearer wrong", "s3cret-token", "Basic s3cret-token"} {
		if code, body := scrape(t, h, auth); code != http.StatusUnauthorized || strings.Contains(body, "mcloud_") {
			t.Errorf("Authorization %q: %d, want 401 and no series", auth, code)
		}
	}
	code, body := scrape(t, h, "Bearer s3cret-token")
	if code != http.StatusOK {
		t.Fatalf("with the token: %d", code)
	}
	expectLines(t, body, `mcloud_requests_total{outcome="answered",verb="status"} 1`)
}

// TestStoreCollector reads the source at each scrape: approvals waiting
// by customer, jobs by verb and state, the outbox depth and its oldest
// message's age; when the source fails, those series are left out and
// the rest is still served.
func TestStoreCollector(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	fail := false
	m := metrics.New(metrics.Options{Now: func() time.Time { return now }, Source: func(ctx context.Context) (metrics.Snapshot, error) {
		if fail {
			return metrics.Snapshot{}, errors.New("database is locked")
		}
		return metrics.Snapshot{
			ApprovalsWaiting: map[string]int{"customer-x": 2},
			Jobs:             []metrics.JobCount{{Verb: "backup", State: "running", N: 1}, {Verb: "backup", State: "succeeded", N: 7}},
			OutboxDepth:      3, OutboxOldest: now.Add(-6 * time.Minute),
		}, nil
	}})
	m.JobFinished("backup", "succeeded", 90*time.Second)
	_, text := scrape(t, m.Handler(""), "")
	expectLines(t, text,
		`mcloud_approvals_waiting{customer="customer-x"} 2`,
		`mcloud_jobs{state="running",verb="backup"} 1`,
		`mcloud_jobs{state="succeeded",verb="backup"} 7`,
		`mcloud_outbox_messages 3`,
		`mcloud_outbox_oldest_age_seconds 360`,
		`mcloud_job_duration_seconds_bucket{state="succeeded",verb="backup",le="60"} 0`,
		`mcloud_job_duration_seconds_bucket{state="succeeded",verb="backup",le="300"} 1`,
	)
	fail = true
	code, text := scrape(t, m.Handler(""), "")
	if code != http.StatusOK || strings.Contains(text, "mcloud_outbox_messages") || !strings.Contains(text, "mcloud_job_duration_seconds_count") {
		t.Errorf("with the store down: %d\n%s", code, mcloudLines(text))
	}
}
