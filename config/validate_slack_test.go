package config

import (
	"reflect"
	"testing"
)

func TestSlackMode(t *testing.T) {
	cases := []struct {
		name    string
		slack   Slack
		mode    string
		missing []string
	}{
		{"app token: Socket Mode by default", Slack{AppToken: Secret{"APP"}, SigningSecret: Secret{"SIG"}}, SlackSocket, nil},
		{"no app token: HTTP", Slack{SigningSecret: Secret{"SIG"}}, SlackHTTP, nil},
		{"HTTP chosen despite an app token", Slack{Mode: "http", AppToken: Secret{"APP"}, SigningSecret: Secret{"SIG"}}, SlackHTTP, nil},
		{"Socket Mode without an app token", Slack{Mode: "socket", SigningSecret: Secret{"SIG"}}, SlackSocket,
			[]string{"slack.app_token: missing; Socket Mode needs an app-level token (xapp-...) with connections:write"}},
		{"HTTP without a signing secret", Slack{}, SlackHTTP,
			[]string{"slack.signing_secret: missing; HTTP mode verifies every request with the app's signing secret"}},
		{"unknown mode", Slack{Mode: "rtm"}, "rtm", []string{`slack.mode: must be "socket" or "http", not "rtm"`}},
	}
	for _, c := range cases {
		cfg := &Config{Slack: c.slack}
		if got := cfg.SlackMode(); got != c.mode {
			t.Errorf("%s: mode %q, want %q", c.name, got, c.mode)
		}
		if got := cfg.CheckSlack(); !reflect.DeepEqual(got, c.missing) {
			t.Errorf("%s: problems %q, want %q", c.name, got, c.missing)
		}
	}
}
