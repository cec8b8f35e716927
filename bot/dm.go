package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud/commands"
)

// A direct message is the one thing the bot says that never goes through
// the outbox: its content (a credential) must not reach the database, so
// it is fetched at the moment of sending and dropped right after. It is
// therefore not durable: a failed send is reported to the caller, who
// decides what to tell the thread (never the content).

var (
	_ commands.DirectMessenger = (*Slack)(nil)
	_ commands.DirectMessenger = (*Shell)(nil)
)

// SendDM opens a direct conversation with userID (conversations.open) and
// posts the text content returns into it (chat.postMessage). content runs
// only once the conversation is open, so nothing is fetched for a user
// Slack cannot reach. The error is *commands.DMError when Slack refused or
// could not be reached; it never carries the content.
func (s *Slack) SendDM(ctx context.Context, userID string, content func(ctx context.Context) (string, error)) error {
	timeout := s.http.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	ch, _, _, err := s.api.OpenConversationContext(cctx, &slack.OpenConversationParameters{Users: []string{userID}, ReturnIM: true})
	cancel()
	if err != nil {
		return &commands.DMError{UserID: userID, Reason: dmReason(err)}
	}
	text, err := content(ctx)
	if err != nil {
		return err
	}
	cctx, cancel = context.WithTimeout(ctx, timeout)
	defer cancel()
	// Not retried: chat.postMessage has no idempotency key and a DM
	// cannot carry outbox metadata to be looked up, so a second attempt
	// after an unclear answer could deliver the credential twice; the
	// job reports the failure instead and can be asked again.
	if _, _, err := s.api.PostMessageContext(cctx, ch.ID, slack.MsgOptionText(text, true)); err != nil {
		return &commands.DMError{UserID: userID, Reason: dmReason(err)}
	}
	return nil
}

// dmReason says why Slack did not deliver a DM, from its error code or
// status; Slack's errors never echo the message text back.
func dmReason(err error) string {
	var se slack.SlackErrorResponse
	var sc slack.StatusCodeError
	var rl *slack.RateLimitedError
	switch {
	case errors.As(err, &se):
		return "Slack answered " + se.Err
	case errors.As(err, &rl):
		return "Slack rate-limited the message"
	case errors.As(err, &sc):
		return fmt.Sprintf("Slack answered HTTP %d", sc.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "Slack did not answer in time"
	}
	return "Slack could not be reached"
}

// SendDM prints a direct message as Slack would show it to userID alone:
// "[DM to carol] ...". Like Slack's, it is not stored.
func (s *Shell) SendDM(ctx context.Context, userID string, content func(ctx context.Context) (string, error)) error {
	name := s.Service.Config().UserName(userID)
	text, err := content(ctx)
	if err != nil {
		return err
	}
	s.println(indent("[DM to " + name + "] " + text))
	return nil
}
