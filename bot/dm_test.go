package bot

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/internal/storetest"
)

// A DM reaches the user's direct conversation only, and no channel; its
// text is asked for only once Slack has opened the conversation.
func TestSlackDirectMessage(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	const secret = "pa55-w0rd-only-for-carol"
	if err := h.slack.SendDM(ctx, "U0CAROL", func(context.Context) (string, error) { return "your password: " + secret, nil }); err != nil {
		t.Fatal(err)
	}
	var dm []string
	for _, m := range h.ws.Messages() {
		if m.Channel == slackfake.DMChannel("U0CAROL") {
			dm = append(dm, m.Text)
		} else if strings.Contains(m.Text, secret) {
			t.Errorf("the DM's text was posted in %s", m.Channel)
		}
	}
	if len(dm) != 1 || !strings.Contains(dm[0], secret) {
		t.Fatalf("carol's DM conversation holds %q, want the one message", dm)
	}
	items, err := h.db.OutboxItems(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if strings.Contains(it.Text+it.Blocks, secret) {
			t.Fatalf("the DM is in the outbox: %+v", it)
		}
	}

	// Slack cannot reach the user: nothing is fetched, and the error
	// says why.
	h.ws.Faults(func(method string, n int) *slackfake.Fault {
		if method == "conversations.open" {
			return &slackfake.Fault{Error: "user_disabled"}
		}
		return nil
	})
	fetched := false
	err = h.slack.SendDM(ctx, "U0CAROL", func(context.Context) (string, error) { fetched = true; return secret, nil })
	var de *commands.DMError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "user_disabled") {
		t.Fatalf("SendDM to a disabled user = %v, want a DMError naming user_disabled", err)
	}
	if fetched {
		t.Error("the content was fetched for a DM Slack could not open")
	}

	// Slack refuses the message itself: the error never carries the text.
	h.ws.Faults(func(method string, n int) *slackfake.Fault {
		if method == "chat.postMessage" {
			return &slackfake.Fault{Error: "messages_tab_disabled"}
		}
		return nil
	})
	err = h.slack.SendDM(ctx, "U0CAROL", func(context.Context) (string, error) { return secret, nil })
	if !errors.As(err, &de) || strings.Contains(err.Error(), secret) {
		t.Fatalf("SendDM refused by Slack = %v, want a DMError without the text", err)
	}
}

// The shell shows a DM as Slack shows it to its one reader, and keeps
// nothing of it.
func TestShellDirectMessage(t *testing.T) {
	cfg := exampleConfig(t)
	db := storetest.Open(t, t.TempDir()+"/mcloud.db")
	svc, err := commands.New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sh := &Shell{Service: svc, Outbox: db, In: strings.NewReader(""), Out: &out, User: "alice", Channel: "devops"}
	if err := sh.SendDM(context.Background(), "U0CAROL", func(context.Context) (string, error) { return "hello carol", nil }); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "  mcloud: [DM to carol] hello carol\n"; got != want {
		t.Fatalf("shell printed %q, want %q", got, want)
	}
	want := errors.New("secret not found")
	if err := sh.SendDM(context.Background(), "U0CAROL", func(context.Context) (string, error) { return "", want }); !errors.Is(err, want) {
		t.Fatalf("SendDM with failing content = %v, want %v", err, want)
	}
}
