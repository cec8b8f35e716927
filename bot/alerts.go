package bot

// Alert messages in Slack: the problem's text (rendered by the alerts
// package when the alert was recorded, the same as the shell shows) and,
// while nobody's acknowledgement holds, an Acknowledge button. Pressing
// it runs `ack <alert> [duration]` as the presser, through the same
// verb, authorization and audit as typing it (see runAction).

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/config"
)

// Action ids of an alert message: the Acknowledge button (its value is
// the alert's number) and the choice of how long an Alertmanager silence
// lasts (read from the message's state when the button is pressed).
const (
	ActionAck    = "mcloud_ack"
	ActionAckFor = "mcloud_ack_for"
)

// silenceChoices are the durations the button offers for an Alertmanager
// silence; alerts.DefaultSilence is among them and chosen at first.
var silenceChoices = func() []time.Duration {
	ds := []time.Duration{time.Hour, alerts.DefaultSilence, 4 * time.Hour, 24 * time.Hour}
	slices.Sort(ds)
	return slices.Compact(ds)
}()

// silenceValue is a choice as the ack verb reads it (whole hours: "1d" is
// not a Go duration).
func silenceValue(d time.Duration) string { return fmt.Sprintf("%dh", int(d/time.Hour)) }

func silenceLabel(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return "for " + mcloud.Count(int(d/(24*time.Hour)), "day", "days")
	}
	return "for " + mcloud.Count(int(d/time.Hour), "hour", "hours")
}

// silenceChoice is value when the button offers it, else "" (the verb's
// default): a payload names its choice, and only offered ones are taken.
func silenceChoice(value string) string {
	for _, d := range silenceChoices {
		if silenceValue(d) == value {
			return value
		}
	}
	return ""
}

// acknowledgeable reports whether mcloud can acknowledge source's
// problems here: only where the monitoring system's API is configured.
func acknowledgeable(cfg *config.Config, source string) bool {
	switch source {
	case "icinga2":
		return cfg.Alerts.Icinga2.API != ""
	case "alertmanager":
		return cfg.Alerts.Alertmanager.API != ""
	}
	return false
}

// AlertMessage is a problem's message: text as it was recorded, and the
// Acknowledge button while p may be acknowledged at now (with the choice
// of how long, for an Alertmanager silence).
func AlertMessage(text string, p mcloud.Problem, cfg *config.Config, now time.Time) Message {
	blocks := []slack.Block{section(escape(text))}
	if p.Acknowledgeable(now) && acknowledgeable(cfg, p.Source) {
		id := strconv.FormatInt(p.ID, 10)
		elems := []slack.BlockElement{slack.NewButtonBlockElement(ActionAck, id, plain("Acknowledge")).WithStyle(slack.StylePrimary)}
		if p.Source == "alertmanager" {
			var opts []*slack.OptionBlockObject
			var initial *slack.OptionBlockObject
			for _, d := range silenceChoices {
				o := slack.NewOptionBlockObject(silenceValue(d), plain(silenceLabel(d)), nil)
				if d == alerts.DefaultSilence {
					initial = o
				}
				opts = append(opts, o)
			}
			elems = append(elems, slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("silence for"), ActionAckFor, opts...).WithInitialOption(initial))
		}
		blocks = append(blocks, slack.NewActionBlock("alert_"+id, elems...))
	}
	return Message{Text: fallback(text), Blocks: blocks}
}
