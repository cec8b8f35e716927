package commands_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
)

// Invisible formatting characters make what an approver reads differ from
// what runs; a request was stored with U+202E in its text (issue 8,
// defect 9). Each is refused, named, placed, with the usage, and nothing
// is stored.
func TestInvisibleCharactersRefused(t *testing.T) {
	svc, db, cfg := mustService(t)
	ctx := context.Background()
	alice := caller(t, cfg, "alice", "devops")
	for _, tt := range []struct {
		line, want, usage string
	}{
		{"/mcloud echo customer-x ok\u202Edlrow", "Invisible character U+202E (RIGHT-TO-LEFT OVERRIDE) at position 27; retype the command without it.", "/mcloud echo"},
		{"/mcloud echo customer-x a\u200Bb", "Invisible character U+200B (ZERO WIDTH SPACE) at position 26;", "/mcloud echo"},
		{"/mcloud echo customer-x \u2066x\u2069", "Invisible character U+2066 (LEFT-TO-RIGHT ISOLATE) at position 25;", "/mcloud echo"},
		{"\uFEFF/mcloud status customer-x", "Invisible character U+FEFF (ZERO WIDTH NO-BREAK SPACE) at position 1;", "/mcloud status"},
		{"/mcloud sta\u200Ctus customer-x", "Invisible character U+200C (ZERO WIDTH NON-JOINER) at position 12;", "/mcloud status"},
		{"/mcloud echo customer-x so\u00ADft", "Invisible character U+00AD (SOFT HYPHEN) at position 27;", "/mcloud echo"},
		{"/mcloud echo customer-x tag\U000E0041", "Invisible character U+E0041 (FORMAT CHARACTER) at position 28;", "/mcloud echo"},
		{"/mcloud nosuch \u202D", "Invisible character U+202D (LEFT-TO-RIGHT OVERRIDE) at position 16;", "/mcloud help"},
	} {
		t.Run(fmt.Sprintf("%q", tt.line), func(t *testing.T) {
			r := svc.Handle(ctx, alice, tt.line)
			if !strings.HasPrefix(r.Error, tt.want) || !strings.HasPrefix(r.Usage, tt.usage) || !r.Private {
				t.Fatalf("reply = error %q usage %q private %v\nwant error %q and usage %q, private", r.Error, r.Usage, r.Private, tt.want, tt.usage)
			}
		})
	}
	if n := count(t, db, "requests"); n != 0 {
		t.Fatalf("%d requests stored; want none", n)
	}
	// Visible non-ASCII text stays welcome.
	if r := svc.Handle(ctx, alice, "/mcloud echo customer-x Grüße ☃ --dry-run"); r.Error != "" {
		t.Fatalf("visible text refused: %s", r.Error)
	}
}

// In a channel bound to nobody (#general, a group DM, a DM), a request
// would post its plan, approvals and progress publicly there: it is
// refused with where to ask, and nothing is stored (issue 8, defect 1).
// Reads, dry runs and decisions on existing requests still work; the
// adapters show them privately (mcloud.Public).
func TestNoRequestOutsideTeamAndCustomerChannels(t *testing.T) {
	svc, db, cfg := mustService(t)
	ctx := context.Background()
	alice, _ := cfg.UserByName("alice")
	for _, ch := range []string{"C0GENERAL", "G0GROUPDM", "D0ALICE"} {
		c := cfg.Resolve(config.Identity{UserID: alice.UserID, TeamID: alice.TeamID, Name: "alice"}, ch)
		if c.ChannelKind != mcloud.ChannelOther {
			t.Fatalf("%s is a %v; want an unlisted channel", ch, c.ChannelKind)
		}
		r := svc.Handle(ctx, c, "/mcloud echo customer-x hi")
		if !strings.Contains(r.Error, "must be asked in a team channel or in customer-x's channel") || !r.Private || r.Request != nil {
			t.Fatalf("request in %s: %+v; want a private refusal pointing to the team or customer channel", ch, r)
		}
		if r := svc.Handle(ctx, c, "/mcloud echo customer-x hi --dry-run"); r.Error != "" || !r.DryRun {
			t.Fatalf("dry run in %s: %+v", ch, r)
		}
		if r := svc.Handle(ctx, c, "/mcloud status customer-y"); r.Error != "" || mcloud.Public(c, r.Private) {
			t.Fatalf("status in %s: error %q, public %v; want an answer only alice sees", ch, r.Error, mcloud.Public(c, r.Private))
		}
	}
	if n := count(t, db, "requests"); n != 0 {
		t.Fatalf("%d requests stored; want none", n)
	}
}

func count(tb testing.TB, db interface{ SQL() *sql.DB }, table string) int {
	tb.Helper()
	var n int
	if err := db.SQL().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
