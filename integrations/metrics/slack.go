package metrics

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

// SlackTransport wraps next (http.DefaultTransport when nil) so every call
// the bot makes to Slack is counted by method and result and timed. Give it
// to slack-go with slack.OptionHTTPClient (bot.SlackOptions.HTTPClient),
// which also carries the response_url posts.
func (m *Metrics) SlackTransport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &slackTransport{m: m, next: next}
}

type slackTransport struct {
	m    *Metrics
	next http.RoundTripper
}

// slackMethod is what a Web API method's name looks like (chat.postMessage,
// apps.connections.open); anything else is a response_url.
var slackMethod = regexp.MustCompile(`^[a-z]+(\.[a-zA-Z]+)+$`)

// maxSniff bounds what is read to find Slack's "ok": Web API answers are
// small, and a larger body is passed on untouched.
const maxSniff = 1 << 20

func (t *slackTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := path.Base(req.URL.Path)
	if !slackMethod.MatchString(method) {
		method = "response_url"
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	t.m.slackLatency.WithLabelValues(method).Observe(time.Since(start).Seconds())
	if err != nil {
		t.m.slackCalls.WithLabelValues(method, "network_error").Inc()
		return resp, err
	}
	var result string
	resp.Body, result = slackResult(resp)
	t.m.slackCalls.WithLabelValues(method, result).Inc()
	return resp, nil
}

// slackResult classifies a Slack answer; the Web API says most failures
// with HTTP 200 and {"ok": false}, so a JSON body is read (and handed on
// intact) to tell.
func slackResult(resp *http.Response) (io.ReadCloser, string) {
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return resp.Body, "rate_limited"
	case resp.StatusCode >= 300:
		return resp.Body, "http_error"
	}
	if !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		return resp.Body, "ok"
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxSniff+1))
	body := struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	if err != nil {
		return body, "network_error"
	}
	var answer struct {
		OK *bool `json:"ok"`
	}
	if len(head) <= maxSniff && json.Unmarshal(head, &answer) == nil && answer.OK != nil && !*answer.OK {
		return body, "error"
	}
	return body, "ok"
}
