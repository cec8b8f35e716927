package config

// Slack connection modes (slack.mode).
const (
	SlackSocket = "socket"
	SlackHTTP   = "http"
)

// SlackMode is how `mcloud serve` talks to Slack: slack.mode when set,
// otherwise Socket Mode when an app token is configured, HTTP when not.
func (c *Config) SlackMode() string {
	switch {
	case c.Slack.Mode != "":
		return c.Slack.Mode
	case c.Slack.AppToken.Set():
		return SlackSocket
	}
	return SlackHTTP
}

// CheckSlack reports what `mcloud serve` needs of the slack keys beyond
// CheckSecrets: a known mode, and the credential that mode uses. Each
// problem starts with its key's path.
func (c *Config) CheckSlack() []string {
	var p []string
	switch c.Slack.Mode {
	case "", SlackSocket, SlackHTTP:
	default:
		return append(p, "slack.mode: must be \"socket\" or \"http\", not \""+c.Slack.Mode+"\"")
	}
	switch c.SlackMode() {
	case SlackSocket:
		if !c.Slack.AppToken.Set() {
			p = append(p, "slack.app_token: missing; Socket Mode needs an app-level token (xapp-...) with connections:write")
		}
	case SlackHTTP:
		if !c.Slack.SigningSecret.Set() {
			p = append(p, "slack.signing_secret: missing; HTTP mode verifies every request with the app's signing secret")
		}
	}
	return p
}
