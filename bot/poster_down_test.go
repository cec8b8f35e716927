package bot

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/slack-go/slack"
)

// Only Slack not answering makes it unreachable (the mail fallback's
// clock); an answer, even a refusal, or our own store failing does not.
func TestUnreachable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &url.Error{Op: "Post", URL: "https://slack.com/api/chat.postMessage", Err: errors.New("connection refused")}, true},
		{"timeout", &url.Error{Op: "Post", URL: "https://slack.com/api/chat.postMessage", Err: context.DeadlineExceeded}, true},
		{"500", slack.StatusCodeError{Code: 500}, true},
		{"internal_error", slack.SlackErrorResponse{Err: "internal_error"}, true},
		{"failed look-up of a 503", &lookupError{id: 1, err: slack.StatusCodeError{Code: 503}}, true},
		{"429", slack.StatusCodeError{Code: 429}, false},
		{"not_in_channel", slack.SlackErrorResponse{Err: "not_in_channel"}, false},
		{"store", errors.New("read thread root: database is locked"), false},
	} {
		if got := unreachable(c.err); got != c.want {
			t.Errorf("%s: unreachable = %v, want %v", c.name, got, c.want)
		}
	}
}
