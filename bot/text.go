// Package bot is mcloud's chat edge: it turns what people type into calls
// to commands, and commands' neutral replies into what people read. This
// file renders replies as plain text, for the shell and as Slack's
// fallback text.
package bot

import (
	"fmt"
	"strings"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
)

// Text renders a reply as plain text.
func Text(r commands.Reply, cfg *config.Config) string {
	var b strings.Builder
	if r.Error != "" {
		b.WriteString("Error: " + r.Error)
		if r.Usage != "" {
			b.WriteString("\nUsage: " + r.Usage)
		}
		return b.String()
	}
	if r.Title != "" {
		b.WriteString(r.Title)
	}
	for _, l := range r.Lines {
		b.WriteString("\n" + l)
	}
	if r.Request != nil && r.Title == "" {
		writePlan(&b, r, cfg)
	}
	return strings.TrimLeft(b.String(), "\n")
}

func writePlan(b *strings.Builder, r commands.Reply, cfg *config.Config) {
	req := r.Request
	where := cfg.ChannelName(req.Requester.ChannelID)
	if r.DryRun {
		fmt.Fprintf(b, "Plan (dry run): %s for %s", req.Verb, req.Customer)
	} else {
		fmt.Fprintf(b, "Plan for request #%d: %s for %s, asked by %s in #%s", req.ID, req.Verb, req.Customer, req.Requester.Name, where)
	}
	if req.Env != "" {
		fmt.Fprintf(b, " (%s)", req.Env)
	}
	for _, w := range req.Plan.Warnings {
		b.WriteString("\nWarning: " + w)
	}
	b.WriteString("\n" + req.Plan.Summary)
	if req.Plan.Command != "" {
		// Fenced, so that a reader (and a copy-paste) sees exactly the
		// line that runs, backticks and all.
		b.WriteString("\n```\n" + req.Plan.Command + "\n```")
	}
	for i, s := range req.Plan.Steps {
		fmt.Fprintf(b, "\n  %d. %s", i+1, s)
	}
	for _, n := range req.Plan.Notes {
		b.WriteString("\n  Note: " + n)
	}
	switch {
	case r.DryRun:
		b.WriteString("\nDry run: nothing was requested and nothing will run.")
	case r.Job != nil:
		fmt.Fprintf(b, "\nNo approval needed; running as job #%d. Progress follows in this thread.", r.Job.ID)
	case req.Status == mcloud.RequestPending:
		fmt.Fprintf(b, "\nWaiting for %s from an approver other than %s; expires %s.",
			mcloud.Count(req.Needed, "approval", "approvals"), req.Requester.Name, mcloud.FormatTime(req.ExpiresAt))
		fmt.Fprintf(b, "\nApprove: /mcloud approve %d    Deny: /mcloud deny %d [reason]", req.ID, req.ID)
	}
}

// PostText renders an outbox message with where it goes.
func PostText(p mcloud.Post, cfg *config.Config) string {
	where := "#" + cfg.ChannelName(p.ChannelID)
	switch {
	case p.RequestID < 0: // an alert problem's message or thread (store.AlertMessageKey)
		where += fmt.Sprintf(", alert #%d", -p.RequestID)
	case p.RequestID != 0:
		where += fmt.Sprintf(", thread of request #%d", p.RequestID)
	}
	return fmt.Sprintf("[%s] %s", where, p.Text)
}
