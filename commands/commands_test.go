package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
	"github.com/mcloud/mcloud/jobs"
)

// mustService builds the real service on a fresh SQLite store with a job
// queue that accepts jobs but does not run them.
func mustService(tb testing.TB) (*commands.Service, *store.DB, *config.Config) {
	tb.Helper()
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	db := storetest.Open(tb, "")
	svc, err := commands.New(cfg, db)
	if err != nil {
		tb.Fatal(err)
	}
	q, err := jobs.New(db, svc, jobs.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	svc.SetQueue(q.Enqueue)
	return svc, db, cfg
}

func caller(tb testing.TB, cfg *config.Config, user, channel string) mcloud.Caller {
	tb.Helper()
	id, ok := cfg.UserByName(user)
	ch, ok2 := cfg.ChannelByName(channel)
	if !ok || !ok2 {
		tb.Fatalf("no user %q or channel %q in the example config", user, channel)
	}
	return cfg.Resolve(id, ch.ID)
}

// Every malformed command gets its own specific sentence and the usage
// line, and nothing panics.
func TestMalformedCommands(t *testing.T) {
	svc, db, cfg := mustService(t)
	alice := caller(t, cfg, "alice", "devops")
	for _, tt := range []struct{ line, want string }{
		{"/mcloud frobnicate", `Unknown command "frobnicate".`},
		{"/mcloud stauts customer-x", `Unknown command "stauts"; did you mean "status"?`},
		{"/mcloud status", "Missing <customer>: which customer to show."},
		{"/mcloud status customer-z", `Unknown customer "customer-z"; known customers: customer-x, customer-y.`},
		{"/mcloud status customer-x prd", `Unknown environment "prd" for customer-x; it has: prod, staging.`},
		{"/mcloud status customer-x prod extra", `Unexpected "extra": this command takes no more arguments.`},
		{"/mcloud status customer-x --verbose", "Unknown option --verbose; this command takes no options."},
		{"/mcloud status -x customer-x", `"-x" is not an option; options start with two dashes, like --x.`},
		{"/mcloud audit customer-x --since 2024-13-01", `--since must be a date written YYYY-MM-DD, not "2024-13-01".`},
		{"/mcloud audit customer-x --since", "Option --since needs a value."},
		{"/mcloud audit customer-x --since 2024-01-01 --since 2024-02-01", "Option --since is given twice."},
		{"/mcloud audit customer-x --until 2024-01-01", "Unknown option --until; this command takes --since."},
		{"/mcloud job abc", `"abc" is not a job number: use the number mcloud showed, like 12.`},
		{"/mcloud job 0", `"0" is not a job number: numbers start at 1.`},
		{"/mcloud job", "Missing <job>: the job's number, from the plan or /mcloud jobs."},
		{"/mcloud cancel #x", `"#x" is not a job number: use the number mcloud showed, like 12.`},
		{"/mcloud approve", "Missing <request>: the request's number, shown with its plan."},
		{"/mcloud approve 12 13", `Unexpected "13": this command takes no more arguments.`},
		{"/mcloud echo customer-x", "Missing <text>: the text to repeat."},
		{"/mcloud echo customer-x hi --steps 0", `--steps must be a whole number from 1 to 20, not "0".`},
		{"/mcloud echo customer-x hi --steps", "Option --steps needs a value."},
		{"/mcloud echo customer-x hi --pause forever", `--pause must be a duration up to 10m0s, like 30s, not "forever".`},
		{"/mcloud echo customer-x hi --dry-run=yes", "Option --dry-run takes no value."},
		{`/mcloud echo customer-x "unclosed`, "A quote is not closed."},
		{"/mcloud jobs customer-q", `Unknown customer "customer-q"; known customers: customer-x, customer-y.`},
		{"/mcloud help nosuch", `There is no command "nosuch".`},
		{"/mcloud status customer-x\x07", "The command contains a control character."},
		{"/mcloud echo customer-x " + strings.Repeat("x ", 2100), "The command is 4223 characters long; the limit is 4000."},
		{"/mcloud echo customer-x" + strings.Repeat(" w", 70), "The command has 73 words; the limit is 64."},
	} {
		t.Run(tt.line[:min(len(tt.line), 50)], func(t *testing.T) {
			r := svc.Handle(context.Background(), alice, tt.line)
			if r.Error != tt.want {
				t.Fatalf("error = %q\nwant    %q", r.Error, tt.want)
			}
			if r.Usage == "" || !strings.HasPrefix(r.Usage, "/mcloud ") {
				t.Fatalf("usage = %q, want a usage line", r.Usage)
			}
			if !r.Private {
				t.Fatal("an error about the caller's input must be shown to the caller only")
			}
		})
	}
	// Nothing malformed may have been stored.
	if jobs, _ := db.Jobs(context.Background(), "", false, 10); len(jobs) != 0 {
		t.Fatalf("malformed commands created jobs: %v", jobs)
	}
	if pending, _ := db.PendingRequests(context.Background(), ""); len(pending) != 0 {
		t.Fatalf("malformed commands created requests: %v", pending)
	}
}

func TestUsageNamesTheVerb(t *testing.T) {
	svc, _, cfg := mustService(t)
	r := svc.Handle(context.Background(), caller(t, cfg, "alice", "devops"), "/mcloud audit")
	if want := "/mcloud audit <customer> [--since YYYY-MM-DD]"; r.Usage != want {
		t.Fatalf("usage = %q, want %q", r.Usage, want)
	}
}

func TestCustomerUserBoundaries(t *testing.T) {
	svc, _, cfg := mustService(t)
	ctx := context.Background()
	carol := caller(t, cfg, "carol", "customer-x-shared")
	for _, tt := range []struct{ line, want string }{
		// The customer may be left out in her channel, so a first word
		// that is not customer-x may be an environment: both readings are
		// answered, the same for a customer that exists and one that does not.
		{"/mcloud status customer-y", `Unknown environment "customer-y" for customer-x; it has: prod, staging; from this channel you can only act on customer-x.`},
		{"/mcloud status customer-nope", `Unknown environment "customer-nope" for customer-x; it has: prod, staging; from this channel you can only act on customer-x.`},
		{"/mcloud backups customer-y", "From this channel you can only act on customer-x."},
		{"/mcloud backups customer-nope", "From this channel you can only act on customer-x."},
		{"/mcloud audit customer-x", `"audit" is for the DevOps team only; ask them in this channel.`},
		{"/mcloud cancel 1", `"cancel" is for the DevOps team only; ask them in this channel.`},
		{"/mcloud approve 1", `"approve" is for the DevOps team only; ask them in this channel.`},
	} {
		if r := svc.Handle(ctx, carol, tt.line); r.Error != tt.want {
			t.Errorf("%s: error = %q, want %q", tt.line, r.Error, tt.want)
		}
	}
	// carol outside her own channel can do nothing but ask for help.
	carolInY := caller(t, cfg, "carol", "customer-y-shared")
	if r := svc.Handle(ctx, carolInY, "/mcloud status customer-y"); r.Error == "" {
		t.Fatal("carol acted in customer-y's channel")
	}
	// dave's job numbers are invisible to carol.
	dave := caller(t, cfg, "dave", "customer-y-shared")
	r := svc.Handle(ctx, dave, "/mcloud echo customer-y private business")
	if r.Request == nil {
		t.Fatalf("dave's request: %+v", r)
	}
	bob := caller(t, cfg, "bob", "customer-y-shared")
	if r := svc.Handle(ctx, bob, "/mcloud approve 1"); r.Job == nil {
		t.Fatalf("bob approve: %+v", r)
	}
	if r := svc.Handle(ctx, carol, "/mcloud job 1"); r.Error != "There is no job #1." {
		t.Fatalf("carol reading dave's job: %+v", r)
	}
	if r := svc.Handle(ctx, carol, "/mcloud deny 1"); r.Error != "There is no request #1." {
		t.Fatalf("carol denying dave's request: %+v", r)
	}
	if r := svc.Handle(ctx, carol, "/mcloud jobs"); strings.Contains(strings.Join(r.Lines, "\n"), "customer-y") {
		t.Fatalf("carol's job list shows customer-y: %v", r.Lines)
	}
}

func TestHelpShowsOnlyWhatTheCallerMayRun(t *testing.T) {
	svc, _, cfg := mustService(t)
	ctx := context.Background()
	all := strings.Join(svc.Handle(ctx, caller(t, cfg, "alice", "devops"), "/mcloud help").Lines, "\n")
	mine := strings.Join(svc.Handle(ctx, caller(t, cfg, "carol", "customer-x-shared"), "/mcloud help").Lines, "\n")
	if !strings.Contains(all, "/mcloud audit") || strings.Contains(mine, "/mcloud audit") {
		t.Fatalf("help for DevOps must list audit and help for a customer must not:\n%s\n---\n%s", all, mine)
	}
	if !strings.Contains(mine, "every change you ask for waits for DevOps approval") {
		t.Fatalf("customer help does not explain approval:\n%s", mine)
	}
	r := svc.Handle(ctx, caller(t, cfg, "carol", "customer-x-shared"), "/mcloud echo help")
	if r.Title != svc.Verbs()[3].Usage() && !strings.HasPrefix(r.Title, "/mcloud echo") {
		t.Fatalf("verb help title = %q", r.Title)
	}
}

func TestDryRunStoresNothing(t *testing.T) {
	svc, db, cfg := mustService(t)
	ctx := context.Background()
	r := svc.Handle(ctx, caller(t, cfg, "alice", "devops"), "/mcloud echo customer-x hi --dry-run")
	if !r.DryRun || r.Request == nil || r.Request.ID != 0 {
		t.Fatalf("dry run reply = %+v", r)
	}
	if pending, _ := db.PendingRequests(ctx, ""); len(pending) != 0 {
		t.Fatalf("dry run stored %d requests", len(pending))
	}
}

func TestHiddenSmokeTestVerb(t *testing.T) {
	svc, _, cfg := mustService(t)
	ctx := context.Background()
	alice := caller(t, cfg, "alice", "devops")
	if list := strings.Join(svc.Handle(ctx, alice, "/mcloud help").Lines, "\n"); strings.Contains(list, "/mcloud echo") {
		t.Fatalf("help lists the hidden echo verb:\n%s", list)
	}
	if r := svc.Handle(ctx, alice, "/mcloud help echo"); !strings.HasPrefix(r.Title, "/mcloud echo <customer> <text...>") {
		t.Fatalf("help echo = %q", r.Title)
	}
}

// A customer's shared channel is read by the customer: DevOps typing there
// get answers about that customer only, and other customers' requests and
// jobs do not exist there.
func TestCustomerChannelShowsOnlyItsCustomer(t *testing.T) {
	svc, _, cfg := mustService(t)
	ctx := context.Background()
	aliceInX := caller(t, cfg, "alice", "customer-x-shared")
	bobInX := caller(t, cfg, "bob", "customer-x-shared")
	dave := caller(t, cfg, "dave", "customer-y-shared")
	if r := svc.Handle(ctx, dave, "/mcloud echo customer-y private business"); r.Request == nil {
		t.Fatalf("dave's request: %+v", r)
	}
	for _, tt := range []struct {
		who  mcloud.Caller
		line string
		want string
	}{
		{aliceInX, "/mcloud status customer-y", "This channel is customer-x's; ask about customer-y in its own channel or in a team channel."},
		{aliceInX, "/mcloud echo customer-y hi", "This channel is customer-x's; ask about customer-y in its own channel or in a team channel."},
		{bobInX, "/mcloud approve 1", "There is no request #1."},
		{bobInX, "/mcloud deny 1", "There is no request #1."},
	} {
		if r := svc.Handle(ctx, tt.who, tt.line); r.Error != tt.want {
			t.Errorf("%s in #customer-x-shared: error %q, want %q", tt.line, r.Error, tt.want)
		}
	}
	bobInY := caller(t, cfg, "bob", "customer-y-shared")
	if r := svc.Handle(ctx, bobInY, "/mcloud approve 1"); r.Job == nil {
		t.Fatalf("approve in customer-y's channel: %+v", r)
	}
	for _, line := range []string{"/mcloud job 1", "/mcloud cancel 1"} {
		if r := svc.Handle(ctx, aliceInX, line); r.Error != "There is no job #1." {
			t.Errorf("%s in #customer-x-shared: %+v", line, r)
		}
	}
	if r := svc.Handle(ctx, aliceInX, "/mcloud jobs"); strings.Contains(strings.Join(r.Lines, "\n"), "customer-y") {
		t.Fatalf("jobs in customer-x's channel lists customer-y: %v", r.Lines)
	}
	alice := caller(t, cfg, "alice", "devops")
	if r := svc.Handle(ctx, alice, "/mcloud job 1"); r.Error != "" {
		t.Fatalf("job 1 from the team channel: %s", r.Error)
	}
}
