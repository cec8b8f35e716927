package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/examples"
)

// The running program erases the text of messages delivered longer ago
// than outbox.retention, and leaves newer ones alone.
func TestOutboxRetentionRuns(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg, err := parseConfig(examples.ConfigName, examples.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Outbox.Retention = config.Duration(time.Hour)
	ctx := context.Background()
	a, err := openAppConfig(ctx, cfg, filepath.Join(t.TempDir(), "mcloud.db"), true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	old, err := a.db.Post(ctx, mcloud.Post{ChannelID: "C0CUSTX", Text: "https://example.net/old?X-Amz-Signature=abc"})
	if err != nil {
		t.Fatal(err)
	}
	// Delivered two hours ago, by the store's clock.
	a.db.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	a.db.MarkSent(ctx, old)
	a.db.Now = time.Now
	recent, _ := a.db.Post(ctx, mcloud.Post{ChannelID: "C0CUSTX", Text: "sent a minute ago"})
	a.db.MarkSent(ctx, recent)
	if err := a.start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		items, err := a.db.OutboxItems(ctx, "C0CUSTX")
		if err != nil {
			t.Fatal(err)
		}
		text := map[int64]string{}
		for _, it := range items {
			text[it.ID] = it.Text
		}
		if text[old] == "" {
			if text[recent] != "sent a minute ago" {
				t.Fatalf("a message delivered a minute ago lost its text: %q", text[recent])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old message still reads %q after 60s", text[old])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
