package bot

// Socket Mode: the same commands and buttons over a WebSocket the bot
// opens with its app-level token, so it needs no public URL. Each envelope
// is stored, then acknowledged, then worked like its HTTP counterpart.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/mcloud/mcloud/commands"
)

// runSocketMode keeps a Socket Mode connection until ctx ends. slack-go
// reconnects by itself when Slack asks or the socket drops; when it gives
// up (bad token, Slack unreachable) this starts it again after a backoff.
func (s *Slack) runSocketMode(ctx context.Context) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		start := s.now()
		lctx, cancel := context.WithCancel(ctx)
		client := socketmode.New(s.api, socketmode.OptionLog(slogOutput{s.log}))
		errc := make(chan error, 1)
		go func() { errc <- client.RunContext(lctx) }()
		err := s.socketEvents(lctx, client, errc)
		cancel()
		s.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if s.now().Sub(start) > 5*time.Minute {
			attempt = 0 // it ran a good while: this is a new outage
		}
		if slackError(err, "invalid_auth", "not_authed", "token_revoked", "account_inactive") {
			s.refusedToken()
		}
		wait := backoff(attempt, time.Minute)
		s.log.Error("Slack Socket Mode stopped; reconnecting", "err", err, "retry_in", wait.Round(time.Millisecond))
		if sleep(ctx, wait) != nil {
			return
		}
	}
}

// socketEvents handles the client's events until it stops. They are read
// here in order rather than through slack-go's SocketmodeHandler, whose
// handlers each run in their own goroutine: "connecting" could then land
// after "connected" and leave the bot not ready while connected. Envelopes
// are stored and acknowledged in their own goroutines.
func (s *Slack) socketEvents(ctx context.Context, c *socketmode.Client, errc <-chan error) error {
	for {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			return <-errc
		case e := <-c.Events:
			switch e.Type {
			case socketmode.EventTypeConnecting:
				s.connected.Store(false)
			case socketmode.EventTypeConnected:
				s.connected.Store(true)
				s.log.Info("connected to Slack", "mode", s.mode)
			case socketmode.EventTypeConnectionError:
				if ce, ok := e.Data.(*slack.ConnectionErrorEvent); ok {
					s.log.Warn("Slack Socket Mode connection failed; retrying", "attempt", ce.Attempt, "retry_in", ce.Backoff, "err", ce.ErrorObj)
				}
			case socketmode.EventTypeInvalidAuth:
				s.refusedToken()
			case socketmode.EventTypeSlashCommand:
				go s.socketCommand(e, c)
			case socketmode.EventTypeInteractive:
				go s.socketInteraction(e, c)
			case socketmode.EventTypeEventsAPI:
				go s.socketEventsAPI(e, c)
			default:
				s.ack(e, c) // nothing mcloud handles; acknowledged so Slack does not resend it
				s.log.Debug("ignored a Socket Mode event", "type", e.Type)
			}
		}
	}
}

func (s *Slack) refusedToken() {
	s.log.Error("Slack refused the app-level token (slack.app_token): it must be a valid xapp- token with connections:write")
}

// ack acknowledges an envelope; Slack resends what is not acknowledged
// within 3 seconds.
func (s *Slack) ack(e socketmode.Event, c *socketmode.Client) {
	if e.Request == nil || e.Request.EnvelopeID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.AckCtx(ctx, e.Request.EnvelopeID, nil); err != nil {
		s.log.Warn("acknowledge Socket Mode envelope", "envelope", e.Request.EnvelopeID, "err", err)
	}
}

func (s *Slack) socketCommand(e socketmode.Event, c *socketmode.Client) {
	cmd, ok := e.Data.(slack.SlashCommand)
	if !ok {
		s.ack(e, c)
		s.log.Warn("malformed Socket Mode slash command", "type", e.Type)
		return
	}
	d, err := commandDelivery(cmd, s.now())
	if err != nil {
		s.ack(e, c)
		s.log.Warn("malformed Socket Mode slash command", "err", err)
		return
	}
	s.acceptEnvelope(e, c, d)
}

func (s *Slack) socketInteraction(e socketmode.Event, c *socketmode.Client) {
	cb, ok := e.Data.(slack.InteractionCallback)
	if !ok {
		s.ack(e, c)
		return
	}
	d, err := interactionDelivery(cb, s.now())
	if err != nil {
		s.ack(e, c)
		if !errors.Is(err, errIgnored) {
			s.log.Warn("malformed Socket Mode interaction", "err", err)
		}
		return
	}
	s.acceptEnvelope(e, c, d)
}

// socketEventsAPI takes app mentions; other events are only acknowledged.
func (s *Slack) socketEventsAPI(e socketmode.Event, c *socketmode.Client) {
	ev, ok := e.Data.(slackevents.EventsAPIEvent)
	if !ok || ev.InnerEvent.Type != string(slackevents.AppMention) {
		s.ack(e, c)
		return
	}
	cb, _ := ev.Data.(*slackevents.EventsAPICallbackEvent)
	m, _ := ev.InnerEvent.Data.(*slackevents.AppMentionEvent)
	if cb == nil || m == nil {
		s.ack(e, c)
		return
	}
	env := eventEnvelope{Type: ev.Type, TeamID: ev.TeamID, EnterpriseID: ev.EnterpriseID, EventID: cb.EventID}
	d, ok := mentionDelivery(env, mentionEvent{Type: m.Type, User: m.User, UserTeam: m.UserTeam, Text: m.Text, TS: m.TimeStamp,
		ThreadTS: m.ThreadTimeStamp, Channel: m.Channel, BotID: m.BotID}, s.now())
	if !ok {
		s.ack(e, c)
		return
	}
	s.acceptEnvelope(e, c, d)
}

// acceptEnvelope is accept for Socket Mode: the delivery is submitted before
// the envelope is acknowledged. When the database does not answer it is
// acknowledged anyway (Slack would only show the caller an error) and
// the caller is told directly that nothing was done, or that it may have
// been taken when it was being stored as time ran out.
func (s *Slack) acceptEnvelope(e socketmode.Event, c *socketmode.Client, d delivery) {
	err := s.submit(context.Background(), d, "")
	s.ack(e, c)
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		in := d.payload.input()
		s.ephemeral(ctx, s.caller(in.id, in.channel), in, newResponder(in.responseURL, in.at),
			ReplyMessage(commands.Reply{Error: busyAnswer(err)}, s.cfg, s.now()))
	}
}

// slogOutput sends slack-go's Socket Mode log lines to our log at debug
// level; they are its own machinery, and it redacts credentials.
type slogOutput struct{ log *slog.Logger }

func (o slogOutput) Output(_ int, line string) error {
	o.log.Debug(strings.TrimSpace(line), "component", "slack-socketmode")
	return nil
}
