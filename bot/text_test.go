package bot

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
)

var runPlan = mcloud.Plan{
	Summary:  "Run this command on 2 hosts of customer-x/prod, up to 10 at a time:",
	Command:  "rm -rf / --no-preserve-root --dry-run",
	Steps:    []string{"x-prod-apim-1 (10.10.1.11) as wso2", "x-prod-apim-2 (10.10.1.12) as wso2"},
	Warnings: []string{"--dry-run after -- is sent to the hosts, not read by mcloud; put mcloud's options before --."},
}

// Issue 9 item 4: the warning comes first and the command is fenced, in
// the shell's text and in Slack's blocks.
func TestPlanShowsWarningsFirstAndTheCommandVerbatim(t *testing.T) {
	cfg := exampleConfig(t)
	req := goldenRequest(func(r *mcloud.Request) { r.Verb, r.Env, r.Plan = "run", "prod", runPlan })
	text := Text(commands.Reply{Request: req}, cfg)
	want := "Plan for request #12: run for customer-x, asked by carol in #customer-x-shared (prod)\n" +
		"Warning: --dry-run after -- is sent to the hosts, not read by mcloud; put mcloud's options before --.\n" +
		"Run this command on 2 hosts of customer-x/prod, up to 10 at a time:\n" +
		"```\nrm -rf / --no-preserve-root --dry-run\n```\n" +
		"  1. x-prod-apim-1 (10.10.1.11) as wso2\n"
	if !strings.HasPrefix(text, want) {
		t.Fatalf("text:\n%s\nwant it to start with:\n%s", text, want)
	}
	if !strings.Contains(text, "Waiting for 1 approval from an approver other than carol; expires 2026-11-23 10:00 UTC.") {
		t.Fatalf("text:\n%s", text)
	}
	msg := PlanMessage(req, nil, cfg, goldenNow)
	blocks := blockTexts(t, msg)
	if len(blocks) < 3 || !strings.Contains(blocks[1], "Warning:* --dry-run after -- is sent to the hosts") ||
		!strings.Contains(blocks[2], "```rm -rf / --no-preserve-root --dry-run```") {
		t.Fatalf("blocks:\n%s", strings.Join(blocks, "\n---\n"))
	}
}

// blockTexts is each block of msg as JSON, for looking into.
func blockTexts(t *testing.T, msg Message) []string {
	t.Helper()
	var out []string
	for _, b := range msg.Blocks {
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(j))
	}
	return out
}
