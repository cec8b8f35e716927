package config_test

import (
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/config/configtest"
)

func mustLoadExample(tb testing.TB) *config.Config {
	tb.Helper()
	c, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		tb.Fatalf("example config: %v", err)
	}
	return c
}

func TestExampleIsValid(t *testing.T) {
	c := mustLoadExample(t)
	if got, want := strings.Join(c.CustomerNames(), ","), "customer-x,customer-y"; got != want {
		t.Fatalf("customers = %s, want %s", got, want)
	}
	if c.Approvals.Expiry.Std().Hours() != 24 {
		t.Fatalf("expiry = %v", c.Approvals.Expiry.Std())
	}
}

// Each broken file must be refused with the exact key and why.
func TestInvalidNamesTheKey(t *testing.T) {
	expectInvalid(t, []edit{
		{"dr region typo", set("customers[1].aws.dr_region", "us-wst-2"), `customers[1].aws.dr_region: unknown region "us-wst-2"`},
		{"unknown key", rename("customers[0].retention_months", "retention_month"), "customers[0].retention_month: unknown key"},
		{"inline secret", set("slack.bot_token", "xoxb-123-456"), "slack.bot_token: must be an environment reference"},
		{"same region twice", set("customers[0].aws.dr_region", "eu-west-1"), "customers[0].aws.dr_region: is the same as region"},
		{"duplicate channel", set("customers[1].channel.id", "C0CUSTX"), `customers[1].channel.id: "C0CUSTX" is already used by customers[0].channel`},
		{"bad cron", set("customers[0].schedules.backup", "0 25 * * *"), "customers[0].schedules.backup:"},
		{"unknown zone in spec", set("customers[0].schedules.backup", "CRON_TZ=Mars/Olympus 0 2 * * *"), `customers[0].schedules.backup: unknown time zone "Mars/Olympus"`},
		{"unknown timezone key", set("customers[0].schedules.timezone", "Europe/Londn"), `customers[0].schedules.timezone: unknown time zone "Europe/Londn"`},
		{"retention keeps none", set("customers[0].retention", map[string]any{"keep_newest": 0}), "customers[0].retention.keep_newest: must be at least 1, not 0"},
		{"bad digest", set("scheduler.digest", "every morning"), `scheduler.digest: "every morning" is not a schedule`},
		{"bad role arn", set("customers[0].aws.role_arn", "arn:aws:iam::999999999999:role/x"), "customers[0].aws.role_arn: is in account 999999999999 but account_id is 111111111111"},
		{"no approvers", func(b *configtest.Builder) { b.Delete("team.users[1].approver").Delete("team.users[2].approver") }, "team.users: no user has approver: true"},
		{"customer rule zero", set("approvals.rules.echo.customer", 0), "approvals.rules.echo.customer: must be between 1 and 5"},
		{"bad expiry", set("approvals.expiry", "tomorrow"), "approvals.expiry: not a duration"},
		{"port type", set("customers[0].bastion.port", "twenty"), `customers[0].bastion.port: must be a whole number, not "twenty"`},
		{"bad host key", set("customers[1].bastion.host_key", "nope"), "customers[1].bastion.host_key: is not an SSH public key (expected e.g. `ssh-ed25519 AAAA...`"},
		{"customer approver", set("customers[1].users[0].approver", true), "customers[1].users[0].approver: customer users can never approve"},
		{"slack mode typo", set("slack.mode", "sockets"), `slack.mode: must be "socket" or "http", not "sockets"`},
		// Without the customer's workspace, anyone in the shared channel
		// could pass for the customer (issue 8, defect 2).
		{"customer team_id missing", del("customers[1].team_id"), "customers[1].team_id: missing; it is the customer's own Slack workspace id"},
		{"customer team_id missing, no users listed", func(b *configtest.Builder) { b.Delete("customers[1].team_id").Delete("customers[1].users") }, "customers[1].team_id: missing"},
		{"customer enterprise_id", set("customers[1].enterprise_id", "grid"), `customers[1].enterprise_id: "grid" is not a Slack Enterprise Grid id`},
		{"slack enterprise_id", set("slack.enterprise_id", "E0"), `slack.enterprise_id: "E0" is not a Slack Enterprise Grid id`},
		{"duplicate env", set("customers[0].environments[1].name", "prod"), `customers[0].environments[1].name: "prod" appears twice`},
		{"product check typo", set("customers[0].environments[0].products[1].check", "jumphost"),
			`customers[0].environments[0].products[1].check: "jumphost" is neither bot nor bastion`},
		{"url_output without provision", func(b *configtest.Builder) {
			b.Delete("customers[0].environments[0].products[1].url").Set("customers[0].environments[0].products[1].url_output", "PortalUrl")
		}, "customers[0].environments[0].products[1].url_output: needs the environment's provision block"},
		{"product without url", del("customers[0].environments[0].products[1].url"),
			"customers[0].environments[0].products[1].url: missing; it is the address the customer opens the product at (or give url_output"},
	})
}

// edit is a change to the example configuration and the error it must
// cause: the exact key and why.
type edit struct {
	name   string
	change func(*configtest.Builder)
	want   string
}

func set(path string, v any) func(*configtest.Builder) {
	return func(b *configtest.Builder) { b.Set(path, v) }
}

func del(path string) func(*configtest.Builder) {
	return func(b *configtest.Builder) { b.Delete(path) }
}

func rename(path, key string) func(*configtest.Builder) {
	return func(b *configtest.Builder) { b.Rename(path, key) }
}

// expectInvalid applies each edit to examples/mcloud.yaml on its own and
// checks the configuration is refused with the wanted error.
func expectInvalid(t *testing.T, edits []edit) {
	t.Helper()
	for _, tt := range edits {
		t.Run(tt.name, func(t *testing.T) {
			b := configtest.Example(t)
			tt.change(b)
			_, err := b.Parse()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	c := mustLoadExample(t)
	c.Slack.EnterpriseID = "E0GRID"
	alice, _ := c.UserByName("alice")
	bob, _ := c.UserByName("bob")
	carol, _ := c.UserByName("carol")
	for _, tt := range []struct {
		name     string
		id       config.Identity
		channel  string
		role     mcloud.Role
		approver bool
		customer string
		home     string
		kind     mcloud.ChannelKind
	}{
		{"alice in devops", alice, "C0DEVOPS", mcloud.RoleDevOps, false, "", "T0DEVOPS", mcloud.ChannelTeam},
		{"bob approver", bob, "C0CUSTX", mcloud.RoleDevOps, true, "", "T0DEVOPS", mcloud.ChannelCustomer},
		{"bob in #general", bob, "C0GENERAL", mcloud.RoleDevOps, true, "", "T0DEVOPS", mcloud.ChannelOther},
		{"bob from another workspace of the team's grid", config.Identity{UserID: "U0BOB", TeamID: "T0OTHERWS", EnterpriseID: "E0GRID"}, "C0DEVOPS", mcloud.RoleDevOps, true, "", "T0DEVOPS", mcloud.ChannelTeam},
		{"carol in her channel", carol, "C0CUSTX", mcloud.RoleCustomer, false, "customer-x", "T0CUSTX", mcloud.ChannelCustomer},
		// Slack Connect: a user of a third organisation, whatever they call
		// themselves, is nobody's: help only (issue 8, defect 2).
		{"impostor named bob", config.Identity{UserID: "U0BOB", TeamID: "T0EVIL", Name: "bob"}, "C0CUSTY", mcloud.RoleNone, false, "", "", mcloud.ChannelCustomer},
		{"third organisation in customer-x's channel", config.Identity{UserID: "U0EVE", TeamID: "T0EVIL"}, "C0CUSTX", mcloud.RoleNone, false, "", "", mcloud.ChannelCustomer},
		{"third organisation claiming the team's grid with another team", config.Identity{UserID: "U0EVE", TeamID: "T0EVIL", EnterpriseID: "E0EVIL"}, "C0CUSTX", mcloud.RoleNone, false, "", "", mcloud.ChannelCustomer},
		// carol stays customer-x's; Authorize keeps her to her own channel.
		{"carol in customer-y's channel", carol, "C0CUSTY", mcloud.RoleCustomer, false, "customer-x", "T0CUSTX", mcloud.ChannelCustomer},
		{"customer-x workspace user in customer-y's channel", config.Identity{UserID: "U0NEW", TeamID: "T0CUSTX"}, "C0CUSTY", mcloud.RoleCustomer, false, "customer-x", "T0CUSTX", mcloud.ChannelCustomer},
		{"listed customer user from another of their workspaces", config.Identity{UserID: carol.UserID, TeamID: "T0CUSTX2"}, "C0CUSTX", mcloud.RoleCustomer, false, "customer-x", "T0CUSTX", mcloud.ChannelCustomer},
		{"home team non-member", config.Identity{UserID: "U0MALLORY", TeamID: "T0DEVOPS"}, "C0DEVOPS", mcloud.RoleNone, false, "", "T0DEVOPS", mcloud.ChannelTeam},
		{"foreign user in team channel", config.Identity{UserID: "U0STRANGER", TeamID: "T0EVIL"}, "C0DEVOPS", mcloud.RoleNone, false, "", "", mcloud.ChannelTeam},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Resolve(tt.id, tt.channel)
			if got.Role != tt.role || got.Approver != tt.approver || got.Customer != tt.customer || got.Home != tt.home || got.ChannelKind != tt.kind {
				t.Fatalf("Resolve = role %v approver %v customer %q home %q %v; want %v %v %q %q %v", got.Role, got.Approver, got.Customer, got.Home, got.ChannelKind,
					tt.role, tt.approver, tt.customer, tt.home, tt.kind)
			}
		})
	}
}
