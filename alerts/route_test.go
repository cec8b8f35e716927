package alerts

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
)

func testConfig(n int) *config.Config {
	cfg := &config.Config{Team: config.Team{Channels: []config.Channel{{ID: "CTEAM"}}}}
	for i := range n {
		cu := config.Customer{Name: fmt.Sprintf("cust%d", i), Channel: config.Channel{ID: fmt.Sprintf("CCUST%d", i)},
			AWS: config.CustomerAWS{AccountID: fmt.Sprintf("%012d", 100+i)}}
		cu.Environments = []config.Environment{{Name: "prod", Hosts: []config.Host{
			{Name: fmt.Sprintf("app%d", i), Address: fmt.Sprintf("10.0.%d.5", i)},
			{Name: "shared-name", Address: fmt.Sprintf("10.1.%d.5", i)},
		}}}
		cfg.Customers = append(cfg.Customers, cu)
	}
	return cfg
}

func TestRoute(t *testing.T) {
	cfg := testConfig(2)
	cfg.Alerts.Customer = []string{"critical"}
	cfg.Alerts.Team = []string{"critical", "warning"}
	r := NewRoutes(cfg)
	crit, warn, info := mcloud.SeverityCritical, mcloud.SeverityWarning, mcloud.SeverityInfo
	for _, tc := range []struct {
		name string
		a    mcloud.Alert
		want Destination
	}{
		{"customer label, critical: both", mcloud.Alert{Customer: "cust0", Status: mcloud.AlertFiring, Severity: crit}, Destination{"cust0", []string{"CCUST0", "CTEAM"}}},
		{"a resolution goes wherever the problem may be shown", mcloud.Alert{Customer: "cust0", Status: mcloud.AlertResolved}, Destination{"cust0", []string{"CCUST0", "CTEAM"}}},
		{"warnings to the team only", mcloud.Alert{Customer: "cust0", Status: mcloud.AlertFiring, Severity: warn}, Destination{"cust0", []string{"CTEAM"}}},
		{"info to nobody, still the customer's", mcloud.Alert{Customer: "cust0", Status: mcloud.AlertFiring, Severity: info}, Destination{"cust0", nil}},
		{"by host name", mcloud.Alert{Host: "app1", Status: mcloud.AlertFiring, Severity: crit}, Destination{"cust1", []string{"CCUST1", "CTEAM"}}},
		{"by FQDN", mcloud.Alert{Host: "APP1.prod.example.com", Status: mcloud.AlertFiring, Severity: crit}, Destination{"cust1", []string{"CCUST1", "CTEAM"}}},
		{"by address with port", mcloud.Alert{Host: "10.0.1.5:9100", Status: mcloud.AlertFiring, Severity: crit}, Destination{"cust1", []string{"CCUST1", "CTEAM"}}},
		{"by AWS account", mcloud.Alert{Account: "000000000100", Status: mcloud.AlertFiring, Severity: crit}, Destination{"cust0", []string{"CCUST0", "CTEAM"}}},
		{"label and host agree", mcloud.Alert{Customer: "cust1", Host: "app1", Status: mcloud.AlertFiring, Severity: crit}, Destination{"cust1", []string{"CCUST1", "CTEAM"}}},
		{"label and host disagree: team only", mcloud.Alert{Customer: "cust0", Host: "app1", Status: mcloud.AlertFiring, Severity: crit}, Destination{"", []string{"CTEAM"}}},
		{"label and account disagree: team only", mcloud.Alert{Customer: "cust1", Account: "000000000100", Status: mcloud.AlertFiring, Severity: crit}, Destination{"", []string{"CTEAM"}}},
		{"unknown customer label: team only", mcloud.Alert{Customer: "evil", Status: mcloud.AlertFiring, Severity: crit}, Destination{"", []string{"CTEAM"}}},
		{"known label, unknown host: team only", mcloud.Alert{Customer: "cust0", Host: "nowhere", Status: mcloud.AlertFiring, Severity: crit}, Destination{"", []string{"CTEAM"}}},
		{"host name two customers share: team only", mcloud.Alert{Host: "shared-name", Status: mcloud.AlertFiring, Severity: crit}, Destination{"", []string{"CTEAM"}}},
		{"no identity at all: team only", mcloud.Alert{Status: mcloud.AlertFiring, Severity: info}, Destination{"", []string{"CTEAM"}}},
		{"IP address does not match by prefix", mcloud.Alert{Host: "10.0.9.5", Status: mcloud.AlertFiring, Severity: crit}, Destination{"", []string{"CTEAM"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Route(r, tc.a); got.Customer != tc.want.Customer || !slices.Equal(got.Channels, tc.want.Channels) {
				t.Errorf("Route(%+v) = %+v, want %+v", tc.a, got, tc.want)
			}
		})
	}
}

// TestRouteIsolation is the isolation property: whatever mix of labels,
// hosts and accounts an alert carries, it is never posted in the channel
// of a customer it is not, for certain, about.
func TestRouteIsolation(t *testing.T) {
	const n = 8
	cfg := testConfig(n)
	cfg.Alerts.Customer = []string{"critical", "warning", "info"}
	cfg.Alerts.Team = []string{"critical"}
	r := NewRoutes(cfg)
	owner := map[string]string{} // channel -> customer
	for _, cu := range cfg.Customers {
		owner[cu.Channel.ID] = cu.Name
	}
	rnd := rand.New(rand.NewPCG(12, 12))
	pick := func(opts ...string) string { return opts[rnd.IntN(len(opts))] }
	cases, violations, toCustomers := 20000, 0, 0
	for range cases {
		i, j := rnd.IntN(n), rnd.IntN(n)
		a := mcloud.Alert{Status: mcloud.AlertStatus(pick("firing", "resolved")), Severity: mcloud.Severity(pick("critical", "warning", "info"))}
		// Each identity is absent, right, another customer's, or unknown.
		a.Customer = pick("", fmt.Sprintf("cust%d", i), fmt.Sprintf("cust%d", j), "nobody")
		a.Host = pick("", fmt.Sprintf("app%d", i), fmt.Sprintf("app%d.x.example", j), fmt.Sprintf("10.0.%d.5:9100", i), "shared-name", "ghost")
		a.Account = pick("", fmt.Sprintf("%012d", 100+i), fmt.Sprintf("%012d", 100+j), "999999999999")
		// Whom the alert is truly about: every identity it has must name
		// the same customer.
		truth := map[string]bool{}
		if a.Customer != "" {
			truth[a.Customer] = true
		}
		if a.Host != "" {
			truth[hostOwner(cfg, a.Host)] = true
		}
		if a.Account != "" {
			truth[accountOwner(cfg, a.Account)] = true
		}
		d := Route(r, a)
		for _, ch := range d.Channels {
			cust, isCustomer := owner[ch]
			if !isCustomer {
				continue
			}
			toCustomers++
			if len(truth) != 1 || !truth[cust] {
				violations++
				t.Errorf("alert %+v posted in %s's channel", a, cust)
			}
		}
	}
	t.Logf("%d random alerts, %d posted in a customer channel, %d in another customer's channel", cases, toCustomers, violations)
	if toCustomers == 0 {
		t.Fatal("no alert reached a customer channel: the property proved nothing")
	}
}

// hostOwner and accountOwner restate the configuration naively, apart
// from Routes' index.
func hostOwner(cfg *config.Config, h string) string {
	owners := map[string]bool{}
	for _, cu := range cfg.Customers {
		for _, e := range cu.Environments {
			for _, x := range e.Hosts {
				for _, form := range []string{x.Name, x.Address, x.Address + ":9100", x.Name + ".x.example"} {
					if form == h {
						owners[cu.Name] = true
					}
				}
			}
		}
	}
	if len(owners) != 1 {
		return "?"
	}
	for o := range owners {
		return o
	}
	return "?"
}

func accountOwner(cfg *config.Config, acct string) string {
	for _, cu := range cfg.Customers {
		if cu.AWS.AccountID == acct {
			return cu.Name
		}
	}
	return "?"
}
