package bot

// Payload to input: what a verified Slack payload (a slash command, a
// block_actions click, an app mention), from HTTP or Socket Mode alike,
// becomes: the delivery kept in the store, under the key Slack's retries
// and duplicates share, and the input its work runs from. Identities come
// from the verified payload only, never from the text.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud/config"
)

// delivery is one verified payload as it is kept: its dedupe key ("" when
// Slack sent nothing to recognise a repeat by) and what its work needs.
type delivery struct {
	key     string
	payload deliveryPayload
}

// errIgnored is a well-formed payload mcloud has nothing to do for: it is
// acknowledged and dropped.
var errIgnored = errors.New("nothing for mcloud to do")

// commandDelivery maps a slash command; the error says what is missing.
func commandDelivery(c slack.SlashCommand, at time.Time) (delivery, error) {
	if c.Command != SlashCommand {
		return delivery{}, fmt.Errorf("unknown command %q; this app has %s", c.Command, SlashCommand)
	}
	if c.UserID == "" || c.TeamID == "" || c.ChannelID == "" {
		return delivery{}, errors.New("user_id, team_id and channel_id are required")
	}
	return delivery{key: commandKey(c), payload: commandPayload(commandInput(c, at))}, nil
}

// interactionDelivery maps the clicks of a block_actions payload; any
// other interaction is errIgnored.
func interactionDelivery(cb slack.InteractionCallback, at time.Time) (delivery, error) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return delivery{}, errIgnored
	}
	acts, err := actionInputs(cb, at)
	if err != nil {
		return delivery{}, err
	}
	return delivery{key: actionKey(cb), payload: actionPayload(acts)}, nil
}

// mentionDelivery maps an app mention; ok is false for any other event.
func mentionDelivery(env eventEnvelope, ev mentionEvent, at time.Time) (delivery, bool) {
	in, ok := mentionInput(env, ev, at)
	if !ok {
		return delivery{}, false
	}
	return delivery{key: eventKey(env), payload: commandPayload(in)}, true
}

// eventEnvelope is the outer Events API payload.
type eventEnvelope struct {
	Type         string          `json:"type"`
	Challenge    string          `json:"challenge"`
	TeamID       string          `json:"team_id"`
	EnterpriseID string          `json:"enterprise_id"`
	EventID      string          `json:"event_id"`
	Event        json.RawMessage `json:"event"`
}

type mentionEvent struct {
	Type     string `json:"type"`
	User     string `json:"user"`
	UserTeam string `json:"user_team"`
	Text     string `json:"text"`
	TS       string `json:"ts"`
	ThreadTS string `json:"thread_ts"`
	Channel  string `json:"channel"`
	BotID    string `json:"bot_id"`
}

// The keys a delivery is remembered by: Slack retries carry the same
// event id, and a duplicated click or command the same trigger id.
func commandKey(c slack.SlashCommand) string {
	if c.TriggerID == "" {
		return ""
	}
	return "slack:command:" + c.TeamID + ":" + c.TriggerID
}

func actionKey(cb slack.InteractionCallback) string {
	if cb.TriggerID == "" {
		return ""
	}
	return "slack:action:" + cb.Team.ID + ":" + cb.TriggerID
}

func eventKey(env eventEnvelope) string {
	if env.EventID == "" {
		return ""
	}
	return "slack:event:" + env.TeamID + ":" + env.EventID
}

func slashFromForm(f url.Values) slack.SlashCommand {
	return slack.SlashCommand{TeamID: f.Get("team_id"), TeamDomain: f.Get("team_domain"), EnterpriseID: f.Get("enterprise_id"),
		ChannelID: f.Get("channel_id"), ChannelName: f.Get("channel_name"), UserID: f.Get("user_id"), UserName: f.Get("user_name"),
		Command: f.Get("command"), Text: f.Get("text"), ResponseURL: f.Get("response_url"), TriggerID: f.Get("trigger_id"),
		APIAppID: f.Get("api_app_id")}
}

// input is one command line from Slack with who sent it, where, and how to
// answer them; identities come from the verified payload only.
type input struct {
	id          config.Identity
	channel     string
	text        string
	responseURL string
	// threadTS is the thread public answers go to (a mention's).
	threadTS string
	// ephemeralTS is the thread an ephemeral answer shows in.
	ephemeralTS string
	at          time.Time
}

// action is one button click. choice is what the message's select said
// when the button was pressed (the Acknowledge button's duration).
type action struct {
	input
	actionID, value, choice string
}

func commandInput(c slack.SlashCommand, at time.Time) input {
	return input{id: config.Identity{UserID: c.UserID, TeamID: c.TeamID, EnterpriseID: c.EnterpriseID, Name: c.UserName},
		channel: c.ChannelID, text: c.Text, responseURL: c.ResponseURL, at: at}
}

// actionInputs reads the clicks of a block_actions payload. The user's own
// workspace is user.team_id (Slack Connect), else the payload's team.
func actionInputs(cb slack.InteractionCallback, at time.Time) ([]action, error) {
	team := cb.User.TeamID
	if team == "" {
		team = cb.Team.ID
	}
	if cb.User.ID == "" || team == "" || cb.Channel.ID == "" {
		return nil, errors.New("user.id, team and channel.id are required")
	}
	in := input{id: config.Identity{UserID: cb.User.ID, TeamID: team, EnterpriseID: cb.Enterprise.ID, Name: cb.User.Name},
		channel: cb.Channel.ID, responseURL: cb.ResponseURL, at: at}
	var out []action
	for _, a := range cb.ActionCallback.BlockActions {
		if a.ActionID == ActionAckFor {
			continue // choosing a duration does nothing until Acknowledge is pressed
		}
		act := action{input: in, actionID: a.ActionID, value: a.Value}
		if a.ActionID == ActionAck {
			act.choice = silenceChoice(stateValue(cb, a.BlockID, ActionAckFor))
		}
		out = append(out, act)
	}
	switch {
	case len(cb.ActionCallback.BlockActions) == 0:
		return nil, errors.New("block_actions without actions")
	case len(out) == 0:
		return nil, errIgnored
	}
	return out, nil
}

// stateValue is the option selected in the message's element actionID of
// block blockID when the click was sent, "" when it says none.
func stateValue(cb slack.InteractionCallback, blockID, actionID string) string {
	if cb.BlockActionState == nil {
		return ""
	}
	return cb.BlockActionState.Values[blockID][actionID].SelectedOption.Value
}

var leadingMention = regexp.MustCompile(`^\s*<@[A-Z0-9]+(\|[^>]*)?>[\s:,]*`)

// mentionInput reads "@mcloud <command>" from an app_mention event; ok is
// false for events that are not one (another type, a bot's message).
func mentionInput(env eventEnvelope, ev mentionEvent, at time.Time) (input, bool) {
	if ev.Type != "app_mention" || ev.BotID != "" || ev.User == "" || ev.Channel == "" {
		return input{}, false
	}
	team := ev.UserTeam
	if team == "" {
		team = env.TeamID
	}
	thread := ev.ThreadTS
	if thread == "" {
		thread = ev.TS
	}
	return input{id: config.Identity{UserID: ev.User, TeamID: team, EnterpriseID: env.EnterpriseID},
		channel: ev.Channel, text: leadingMention.ReplaceAllString(ev.Text, ""), threadTS: thread, ephemeralTS: ev.ThreadTS, at: at}, true
}

// Delivery kinds, as stored.
const (
	kindCommand = "command" // a slash command or an app mention
	kindAction  = "action"  // a button click
)

// deliveryPayload is what is kept of a verified delivery: who, where, what
// they typed or clicked, and how to answer them.
type deliveryPayload struct {
	Kind        string          `json:"kind"`
	UserID      string          `json:"user_id"`
	TeamID      string          `json:"team_id"`
	Enterprise  string          `json:"enterprise_id,omitempty"`
	Name        string          `json:"name,omitempty"`
	Channel     string          `json:"channel"`
	Text        string          `json:"text,omitempty"`
	ResponseURL string          `json:"response_url,omitempty"`
	ThreadTS    string          `json:"thread_ts,omitempty"`
	EphemeralTS string          `json:"ephemeral_ts,omitempty"`
	At          time.Time       `json:"at"`
	Actions     []payloadAction `json:"actions,omitempty"`
}

type payloadAction struct {
	ID     string `json:"id"`
	Value  string `json:"value"`
	Choice string `json:"choice,omitempty"`
}

func commandPayload(in input) deliveryPayload {
	return deliveryPayload{Kind: kindCommand, UserID: in.id.UserID, TeamID: in.id.TeamID, Enterprise: in.id.EnterpriseID,
		Name: in.id.Name, Channel: in.channel, Text: in.text, ResponseURL: in.responseURL, ThreadTS: in.threadTS,
		EphemeralTS: in.ephemeralTS, At: in.at}
}

func actionPayload(acts []action) deliveryPayload {
	p := commandPayload(acts[0].input)
	p.Kind = kindAction
	for _, a := range acts {
		p.Actions = append(p.Actions, payloadAction{ID: a.actionID, Value: a.value, Choice: a.choice})
	}
	return p
}

func (p deliveryPayload) input() input {
	return input{id: config.Identity{UserID: p.UserID, TeamID: p.TeamID, EnterpriseID: p.Enterprise, Name: p.Name},
		channel: p.Channel, text: p.Text, responseURL: p.ResponseURL, threadTS: p.ThreadTS, ephemeralTS: p.EphemeralTS, at: p.At}
}
