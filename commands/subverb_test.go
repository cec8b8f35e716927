package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/internal/storetest"
	"github.com/mcloud/mcloud/jobs"
)

// drVerbs are two sub-verbs of one first word with different rules, the
// shape `drt drill` / `drt failover` will have.
func drVerbs() []*commands.Verb {
	mk := func(name string, approvals int, access mcloud.Access) *commands.Verb {
		return &commands.Verb{
			Name: name, Summary: name + " for the registry test",
			Spec:   commands.Spec{Args: []commands.Arg{{Name: "customer", Kind: commands.KindCustomer, About: "whose"}}},
			Access: access, DevOpsApprovals: approvals, CustomerApprovals: approvals, DryRun: true,
			Plan: func(ctx context.Context, c *commands.Call) (mcloud.Plan, error) {
				return mcloud.Plan{Summary: name + " " + c.Customer.Name}, nil
			},
			Execute: func(ctx context.Context, x *commands.Exec) (string, error) { return "done", nil },
		}
	}
	return []*commands.Verb{mk("drt drill", 1, mcloud.AccessCustomer), mk("drt failover", 1, mcloud.AccessDevOps)}
}

func subVerbService(t *testing.T, rules map[string]config.Rule) (*commands.Service, *config.Config) {
	t.Helper()
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Approvals.Rules = rules
	db := storetest.Open(t, "")
	svc, err := commands.NewWithVerbs(cfg, db, drVerbs()...)
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(db, svc, jobs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetQueue(q.Enqueue)
	return svc, cfg
}

// Two sub-verbs of one word keep their own approval counts, access, help
// and dry-run; approvals.rules addresses one of them by its two words.
func TestSubVerbsHaveTheirOwnRules(t *testing.T) {
	two := 2
	svc, cfg := subVerbService(t, map[string]config.Rule{"drt failover": {DevOps: &two}})
	ctx := context.Background()
	alice := caller(t, cfg, "alice", "devops")

	drill := svc.Handle(ctx, alice, "/mcloud drt drill customer-x")
	if drill.Error != "" || drill.Request == nil || drill.Request.Verb != "drt drill" || drill.Request.Needed != 1 {
		t.Fatalf("drt drill: %+v", drill)
	}
	failover := svc.Handle(ctx, alice, "/mcloud drt failover customer-x")
	if failover.Error != "" || failover.Request == nil || failover.Request.Verb != "drt failover" || failover.Request.Needed != 2 {
		t.Fatalf("drt failover should need the rule's 2 approvers: %+v", failover)
	}
	if dry := svc.Handle(ctx, alice, "/mcloud drt failover customer-x --dry-run"); !dry.DryRun || dry.Request.Needed != 2 {
		t.Fatalf("drt failover --dry-run: %+v", dry)
	}
	// Access is the sub-verb's own: a customer may ask for a drill, not a failover.
	carol := caller(t, cfg, "carol", "customer-x-shared")
	if r := svc.Handle(ctx, carol, "/mcloud drt drill customer-x --dry-run"); r.Error != "" || r.Request == nil {
		t.Fatalf("customer asking for drt drill: %+v", r)
	}
	if r := svc.Handle(ctx, carol, "/mcloud drt failover customer-x"); !strings.Contains(r.Error, `"drt failover" is for the DevOps team only`) {
		t.Fatalf("customer asking for drt failover: %+v", r)
	}
	for line, want := range map[string]string{
		"/mcloud drt":                    `"drt" needs one of: drill, failover.`,
		"/mcloud drt explode customer-x": `"drt" has no "explode"; it takes one of: drill, failover.`,
		"/mcloud drt drill":              "Missing <customer>: whose.",
	} {
		if r := svc.Handle(ctx, alice, line); r.Error != want || r.Usage == "" {
			t.Errorf("%s: got %q (usage %q), want %q", line, r.Error, r.Usage, want)
		}
	}
	h := svc.Handle(ctx, alice, "/mcloud help drt failover")
	if h.Title != "/mcloud drt failover <customer> [--dry-run]" || !strings.Contains(strings.Join(h.Lines, "\n"), "waits for 2 approvers") {
		t.Fatalf("help drt failover: %+v", h)
	}
	if h := svc.Handle(ctx, alice, "/mcloud drt failover help"); h.Title != "/mcloud drt failover <customer> [--dry-run]" {
		t.Fatalf("drt failover help: %+v", h)
	}
}

// A rule for a sub-verb that does not exist is refused at start, naming it.
func TestSubVerbRuleUnknown(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	one := 1
	cfg.Approvals.Rules = map[string]config.Rule{"drt explode": {DevOps: &one}}
	_, err = commands.NewWithVerbs(cfg, storetest.Open(t, ""), drVerbs()...)
	var inv *config.Invalid
	if !errors.As(err, &inv) || !strings.Contains(inv.Problems[0], "approvals.rules.drt explode: unknown command; commands that take approval:") ||
		!strings.Contains(inv.Problems[0], "drt failover") {
		t.Fatalf("got %v", err)
	}
}

// A rule for a sub-verb that asks nothing of its own is refused, saying why.
func TestSubVerbRuleOnSchedulesRun(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	one := 1
	cfg.Approvals.Rules = map[string]config.Rule{"schedules run": {DevOps: &one}}
	_, err = commands.New(cfg, storetest.Open(t, ""))
	var inv *config.Invalid
	if !errors.As(err, &inv) || !strings.Contains(inv.Problems[0], "approvals.rules.schedules run: schedules run takes no approval of its own") {
		t.Fatalf("got %v", err)
	}
}
