package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/mail"
	"github.com/mcloud/mcloud/integrations/store"
)

// TeamAudience is the audience of mails for the team channel.
const TeamAudience = ""

// Mails decides which mails would stand in for a problem's Slack
// messages, should Slack be unreachable: a critical problem's only, one
// per channel it goes to, to the audience that reads that channel (the
// customer's contacts, or the team). An unmatched alert goes to the team
// channel only, so its mail goes to the team only.
func Mails(r Routes, d Destination, p mcloud.Problem) []store.AlertMail {
	if p.Severity != mcloud.SeverityCritical {
		return nil
	}
	var out []store.AlertMail
	for _, ch := range d.Channels {
		audience := TeamAudience
		switch {
		case ch == r.Team:
		case d.Customer != "" && ch == r.Channels[d.Customer]:
			audience = d.Customer
		default:
			continue // a channel nobody's contacts read
		}
		out = append(out, store.AlertMail{ProblemID: p.ID, Audience: audience, ChannelID: ch,
			Subject: fmt.Sprintf("[mcloud] %s: %s", mark(p), mailTitle(p)), Body: mailBody(p)})
	}
	return out
}

func mailTitle(p mcloud.Problem) string {
	if p.Customer != "" {
		return title(p) + " (" + p.Customer + ")"
	}
	return title(p)
}

func mailBody(p mcloud.Problem) string {
	return Text{}.Problem(p) + "\n\n" +
		"Slack has been unreachable, so mcloud sends this alert by mail. The Slack message follows when Slack is back.\n"
}

// Recipients are the addresses of an audience in cfg.
func Recipients(cfg *config.Config, audience string) []string {
	if audience == TeamAudience {
		return cfg.Alerts.Email.Team
	}
	if cu := cfg.Customer(audience); cu != nil {
		return cu.Contacts
	}
	return nil
}

// Mailer sends one mail (integrations/mail.Client).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Fallback mails the alert mails queued with the alerts once Slack has
// been unreachable for After, each once; those whose Slack message went
// out first are never mailed.
type Fallback struct {
	DB     *store.DB
	Mailer Mailer
	// Down is when Slack became unreachable (zero: it is not); the
	// poster's UnreachableSince.
	Down  func() time.Time
	After time.Duration
	// To are an audience's addresses (Recipients).
	To  func(audience string) []string
	Log *slog.Logger
	Now func() time.Time
}

// Run mails until ctx ends.
func (f *Fallback) Run(ctx context.Context) {
	poll := min(max(f.After/4, 200*time.Millisecond), 5*time.Second)
	t := time.NewTicker(poll)
	defer t.Stop()
	var settled time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if f.Due() {
			f.Tick(ctx)
		} else if f.now().Sub(settled) > time.Minute {
			// Tidiness only: a mail whose message went out is never sent.
			if err := f.DB.SettleAlertMails(ctx); err != nil && ctx.Err() == nil {
				f.log().Warn("settle alert mails", "err", err)
			}
			settled = f.now()
		}
	}
}

func (f *Fallback) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fallback) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.Default()
}

// Due reports whether Slack has been unreachable for After.
func (f *Fallback) Due() bool {
	since := f.Down()
	return !since.IsZero() && f.now().Sub(since) >= f.After
}

// Tick mails what is due now.
func (f *Fallback) Tick(ctx context.Context) {
	due, err := f.DB.AlertMailsDue(ctx, 20)
	if err != nil {
		if ctx.Err() == nil {
			f.log().Warn("read alert mails", "err", err)
		}
		return
	}
	down := f.now().Sub(f.Down()).Round(time.Second)
	for _, m := range due {
		to := f.To(m.Audience)
		who := m.Audience
		if who == TeamAudience {
			who = "the team"
		}
		if len(to) == 0 {
			f.log().Warn("Slack is unreachable and nobody is listed to mail this alert to", "alert", m.ProblemID, "for", who)
			if err := f.DB.AlertMailDone(ctx, m.ID, store.MailNoContacts); err != nil {
				f.log().Error("record alert mail", "err", err)
			}
			continue
		}
		if ok, err := f.DB.ClaimAlertMail(ctx, m.ID, f.now().Add(time.Minute)); err != nil || !ok {
			if err != nil {
				f.log().Warn("claim alert mail", "err", err)
			}
			continue
		}
		if err := f.Mailer.Send(ctx, mail.Message{To: to, Subject: m.Subject, Body: m.Body}); err != nil {
			wait := time.Duration(math.Min(float64(time.Second)*math.Pow(2, float64(m.Attempts)), float64(5*time.Minute)))
			f.log().Warn("mail alert: will retry", "alert", m.ProblemID, "for", who, "attempt", m.Attempts+1, "retry_in", wait, "err", err)
			if err := f.DB.AlertMailRetry(context.WithoutCancel(ctx), m.ID, f.now().Add(wait), err.Error()); err != nil {
				f.log().Error("record alert mail", "err", err)
			}
			continue
		}
		f.log().Info("Slack unreachable; mailed the alert", "alert", m.ProblemID, "for", who, "recipients", strings.Join(to, ","), "slack_down_for", down)
		if err := f.DB.AlertMailDone(context.WithoutCancel(ctx), m.ID, store.MailSent); err != nil {
			f.log().Error("record alert mail", "err", err)
		}
	}
}
