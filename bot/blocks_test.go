package bot

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/blocks")

func exampleConfig(tb testing.TB) *config.Config {
	tb.Helper()
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

var (
	goldenNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	carolReq  = mcloud.Caller{UserID: "U0CAROL", TeamID: "T0CUSTX", Name: "carol", ChannelID: "C0CUSTX", Role: mcloud.RoleCustomer, Customer: "customer-x", Home: "T0CUSTX"}
)

func goldenRequest(mod func(r *mcloud.Request)) *mcloud.Request {
	r := &mcloud.Request{ID: 12, Verb: "echo", Customer: "customer-x", Params: mcloud.Params{"text": "please check the gateway"},
		Plan: mcloud.Plan{Summary: `Repeat "please check the gateway" in 2 steps for customer-x`,
			Steps: []string{"step 1: say the text", "step 2: say the text"}, Notes: []string{"Changes nothing; costs nothing."}},
		Requester: carolReq, Needed: 1, Status: mcloud.RequestPending,
		CreatedAt: goldenNow, ExpiresAt: goldenNow.Add(24 * time.Hour)}
	if mod != nil {
		mod(r)
	}
	return r
}

var bobApproval = mcloud.Approval{UserID: "U0BOB", Name: "bob", At: goldenNow.Add(time.Minute)}

// TestGoldenMessages pins the Block Kit of every message the bot sends.
// Run with -update after an intended change and review the diff.
func TestGoldenMessages(t *testing.T) {
	cfg := exampleConfig(t)
	job := func(status mcloud.JobStatus) *mcloud.Job {
		return &mcloud.Job{ID: 3, RequestID: 12, Verb: "echo", Customer: "customer-x", Status: status}
	}
	cases := map[string]Message{
		"plan_pending": PlanMessage(goldenRequest(nil), nil, cfg, goldenNow),
		"plan_partly_approved": PlanMessage(goldenRequest(func(r *mcloud.Request) {
			r.Needed = 2
			r.Approvals = []mcloud.Approval{bobApproval}
		}), nil, cfg, goldenNow),
		"plan_approved_running": PlanMessage(goldenRequest(func(r *mcloud.Request) {
			r.Status, r.JobID, r.Approvals = mcloud.RequestApproved, 3, []mcloud.Approval{bobApproval}
		}), job(mcloud.JobRunning), cfg, goldenNow),
		"plan_approved_succeeded": PlanMessage(goldenRequest(func(r *mcloud.Request) {
			r.Status, r.JobID, r.Approvals = mcloud.RequestApproved, 3, []mcloud.Approval{bobApproval}
		}), job(mcloud.JobSucceeded), cfg, goldenNow),
		"plan_no_approval_needed": PlanMessage(goldenRequest(func(r *mcloud.Request) {
			r.Requester, r.Needed, r.Status, r.JobID = mcloud.Caller{UserID: "U0ALICE", TeamID: "T0DEVOPS", Name: "alice", ChannelID: "C0DEVOPS"}, 0, mcloud.RequestApproved, 3
		}), job(mcloud.JobQueued), cfg, goldenNow),
		"plan_denied": PlanMessage(goldenRequest(func(r *mcloud.Request) {
			r.Status, r.DeniedBy, r.Reason = mcloud.RequestDenied, "bob", "not during the release freeze"
		}), nil, cfg, goldenNow),
		"plan_withdrawn": PlanMessage(goldenRequest(func(r *mcloud.Request) {
			r.Status, r.DeniedBy, r.Denier = mcloud.RequestDenied, "carol", carolReq
		}), nil, cfg, goldenNow),
		"plan_expired_unswept": PlanMessage(goldenRequest(nil), nil, cfg, goldenNow.Add(25*time.Hour)),
		"plan_dry_run":         ReplyMessage(commands.Reply{Request: goldenRequest(func(r *mcloud.Request) { r.ID = 0 }), DryRun: true}, cfg, goldenNow),
		"plan_hostile_text": PlanMessage(goldenRequest(func(r *mcloud.Request) {
			r.Plan.Summary = `Repeat "<!channel> see <https://evil.example|your bank> & more" in 1 step for customer-x`
			r.Plan.Steps = []string{"step 1: say <@U0BOB>"}
		}), nil, cfg, goldenNow),
		"plan_run_warning": PlanMessage(goldenRequest(func(r *mcloud.Request) {
			r.Verb, r.Env, r.Requester = "run", "prod", mcloud.Caller{UserID: "U0ALICE", TeamID: "T0DEVOPS", Name: "alice", ChannelID: "C0DEVOPS"}
			r.Plan = runPlan
		}), nil, cfg, goldenNow),
		"reply_error_usage": ReplyMessage(commands.Reply{Error: `Unknown command "statsu"; did you mean "status"?`, Usage: "/mcloud help", Private: true}, cfg, goldenNow),
		"reply_title":       ReplyMessage(commands.Reply{Title: "bob approved request #12 (echo for customer-x); it runs as job #3."}, cfg, goldenNow),
		"reply_table": ReplyMessage(commands.Reply{Title: "Jobs of customer-x (2)", Lines: []string{
			"Job #3 echo for customer-x   running    asked by carol",
			"Job #2 echo for customer-x   succeeded  asked by alice",
		}, Private: true}, cfg, goldenNow),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // keep <!date^...> readable in review
			enc.SetIndent("", "  ")
			if err := enc.Encode(msg); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			path := filepath.Join("testdata", "blocks", name+".golden.json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./bot -run TestGoldenMessages -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s:\n%s", name, path, got)
			}
			if strings.TrimSpace(msg.Text) == "" {
				t.Errorf("%s has no text fallback", name)
			}
		})
	}
}

// The hostile plan must not ping the channel or carry a disguised link,
// in the blocks or in the fallback.
func TestMessagesEscapeUserText(t *testing.T) {
	cfg := exampleConfig(t)
	msg := PlanMessage(goldenRequest(func(r *mcloud.Request) {
		r.Plan.Summary = "<!channel> <https://evil.example|bank>"
	}), nil, cfg, goldenNow)
	b, _ := json.Marshal(msg.Blocks)
	if strings.Contains(string(b), "<!channel>") || strings.Contains(string(b), "<https://evil") {
		t.Fatalf("user text reached the blocks unescaped: %s", b)
	}
}

// Stored blocks come back as the same blocks.
func TestMessageBlocksRoundTrip(t *testing.T) {
	cfg := exampleConfig(t)
	msg := PlanMessage(goldenRequest(nil), nil, cfg, goldenNow)
	js, err := msg.BlocksJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := messageFromJSON(msg.Text, js)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.BlocksJSON()
	if again != js {
		t.Fatalf("round trip changed the blocks:\n%s\n%s", js, again)
	}
}
