package bot

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// TestInteractionDelivery: what a block_actions payload becomes, the same
// over HTTP and Socket Mode: the clicks with who made them, the duration
// chosen for an Acknowledge (only an offered one), nothing at all for a
// mere choice, and an error for a payload without what identifies it.
func TestInteractionDelivery(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	click := func(mod func(cb *slack.InteractionCallback), acts ...slack.BlockAction) slack.InteractionCallback {
		cb := slack.InteractionCallback{Type: slack.InteractionTypeBlockActions, TriggerID: "1.2.3", Team: slack.Team{ID: "T0CUSTX"},
			User: slack.User{ID: "U0ALICE", TeamID: "T0DEVOPS", Name: "alice"}, Channel: slack.Channel{GroupConversation: slack.GroupConversation{
				Conversation: slack.Conversation{ID: "C0CUSTX"}}}, ResponseURL: "https://hooks.slack.com/actions/x"}
		for _, a := range acts {
			cb.ActionCallback.BlockActions = append(cb.ActionCallback.BlockActions, &a)
		}
		if mod != nil {
			mod(&cb)
		}
		return cb
	}
	chose := func(v string) func(cb *slack.InteractionCallback) {
		return func(cb *slack.InteractionCallback) {
			cb.BlockActionState = &slack.BlockActionStates{Values: map[string]map[string]slack.BlockAction{
				"alert_7": {ActionAckFor: {ActionID: ActionAckFor, SelectedOption: slack.OptionBlockObject{Value: v}}}}}
		}
	}
	ack := slack.BlockAction{ActionID: ActionAck, BlockID: "alert_7", Value: "7"}
	for _, tt := range []struct {
		name string
		cb   slack.InteractionCallback
		want []payloadAction
		err  error // errIgnored, or nil; any other is "malformed"
	}{
		{"approve", click(nil, slack.BlockAction{ActionID: ActionApprove, Value: "12"}), []payloadAction{{ID: ActionApprove, Value: "12"}}, nil},
		{"acknowledge with the select untouched", click(nil, ack), []payloadAction{{ID: ActionAck, Value: "7"}}, nil},
		{"acknowledge for 4 hours", click(chose("4h"), ack), []payloadAction{{ID: ActionAck, Value: "7", Choice: "4h"}}, nil},
		{"acknowledge for a day", click(chose("24h"), ack), []payloadAction{{ID: ActionAck, Value: "7", Choice: "24h"}}, nil},
		{"acknowledge for a duration never offered", click(chose("9999h"), ack), []payloadAction{{ID: ActionAck, Value: "7"}}, nil},
		{"acknowledge, the choice in another message's block", click(chose("4h"), slack.BlockAction{ActionID: ActionAck, BlockID: "alert_8", Value: "8"}),
			[]payloadAction{{ID: ActionAck, Value: "8"}}, nil},
		{"only a duration chosen", click(chose("4h"), slack.BlockAction{ActionID: ActionAckFor, BlockID: "alert_7"}), nil, errIgnored},
		{"a view submission", click(func(cb *slack.InteractionCallback) { cb.Type = slack.InteractionTypeViewSubmission }), nil, errIgnored},
		{"no actions", click(nil), nil, errors.New("malformed")},
		{"no user", click(func(cb *slack.InteractionCallback) { cb.User.ID = "" }, ack), nil, errors.New("malformed")},
		{"no channel", click(func(cb *slack.InteractionCallback) { cb.Channel.ID = "" }, ack), nil, errors.New("malformed")},
	} {
		d, err := interactionDelivery(tt.cb, at)
		switch {
		case tt.err == nil && err != nil, tt.err != nil && err == nil:
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
			continue
		case errors.Is(tt.err, errIgnored) != errors.Is(err, errIgnored):
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
			continue
		case err != nil:
			continue
		}
		if d.key != "slack:action:T0CUSTX:1.2.3" || d.payload.Kind != kindAction || d.payload.UserID != "U0ALICE" || d.payload.TeamID != "T0DEVOPS" {
			t.Errorf("%s: delivery %+v", tt.name, d)
		}
		got, _ := json.Marshal(d.payload.Actions)
		want, _ := json.Marshal(tt.want)
		if string(got) != string(want) {
			t.Errorf("%s: actions %s, want %s", tt.name, got, want)
		}
	}
}

// TestCommandDelivery: a slash command is kept only with what identifies
// who typed it where, and only for this app's command.
func TestCommandDelivery(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	ok := slack.SlashCommand{Command: SlashCommand, UserID: "U0CAROL", TeamID: "T0CUSTX", ChannelID: "C0CUSTX", Text: "status customer-x", TriggerID: "9.9"}
	for _, tt := range []struct {
		name  string
		edit  func(c *slack.SlashCommand)
		valid bool
	}{
		{"the app's command", func(*slack.SlashCommand) {}, true},
		{"another command", func(c *slack.SlashCommand) { c.Command = "/other" }, false},
		{"no user", func(c *slack.SlashCommand) { c.UserID = "" }, false},
		{"no team", func(c *slack.SlashCommand) { c.TeamID = "" }, false},
		{"no channel", func(c *slack.SlashCommand) { c.ChannelID = "" }, false},
	} {
		c := ok
		tt.edit(&c)
		d, err := commandDelivery(c, at)
		if (err == nil) != tt.valid {
			t.Errorf("%s: %v, want valid=%v", tt.name, err, tt.valid)
		}
		if err == nil && (d.key != "slack:command:T0CUSTX:9.9" || d.payload.input().text != "status customer-x" || d.payload.Kind != kindCommand) {
			t.Errorf("%s: delivery %+v", tt.name, d)
		}
	}
}
