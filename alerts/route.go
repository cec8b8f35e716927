// Package alerts is the alert flow between the receivers and the outbox:
// route (pure: which customer, which channels), then the store applies
// the dedup/grouping decision (mcloud.DecideAlert) and queues messages.
package alerts

import (
	"strings"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
)

// Routes is the part of the configuration routing reads, indexed.
type Routes struct {
	// Team is the team channel every unmatched alert goes to.
	Team string
	// Channels is each customer's channel.
	Channels map[string]string
	// Hosts maps a host name or address (lower case) to its customer;
	// "" marks a name two customers share, which identifies nobody.
	Hosts    map[string]string
	Accounts map[string]string
	// ToCustomer and ToTeam are the severities each side gets.
	ToCustomer map[mcloud.Severity]bool
	ToTeam     map[mcloud.Severity]bool
}

// Destination is where one alert goes.
type Destination struct {
	// Customer is "" when the alert matched no customer for certain.
	Customer string
	Channels []string
}

// NewRoutes indexes cfg for Route.
func NewRoutes(cfg *config.Config) Routes {
	r := Routes{Channels: map[string]string{}, Hosts: map[string]string{}, Accounts: map[string]string{},
		ToCustomer: severities(cfg.Alerts.Customer), ToTeam: severities(cfg.Alerts.Team)}
	if len(cfg.Team.Channels) > 0 {
		r.Team = cfg.Team.Channels[0].ID
	}
	claim := func(m map[string]string, k, cust string) {
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			return
		}
		if prev, ok := m[k]; ok && prev != cust {
			m[k] = "" // ambiguous: proves nothing
			return
		}
		m[k] = cust
	}
	for _, cu := range cfg.Customers {
		r.Channels[cu.Name] = cu.Channel.ID
		claim(r.Accounts, cu.AWS.AccountID, cu.Name)
		for _, env := range cu.Environments {
			for _, h := range env.Hosts {
				claim(r.Hosts, h.Name, cu.Name)
				claim(r.Hosts, h.Address, cu.Name)
			}
		}
	}
	return r
}

func severities(names []string) map[mcloud.Severity]bool {
	if len(names) == 0 {
		return map[mcloud.Severity]bool{mcloud.SeverityCritical: true, mcloud.SeverityWarning: true}
	}
	m := map[mcloud.Severity]bool{}
	for _, n := range names {
		m[mcloud.Severity(n)] = true
	}
	return m
}

// Route decides which customer an alert is about and which channels it
// goes to. Every identity the alert carries (a customer label, its host,
// its AWS account) must point at the same configured customer; an alert
// with none, with one that is unknown, or with two that disagree belongs
// to no customer and goes to the team channel only, so a mislabelled
// alert can never reach another customer's channel.
func Route(r Routes, a mcloud.Alert) Destination {
	cust, ok := "", true
	agree := func(c string, known bool) {
		switch {
		case !known || c == "":
			ok = false
		case cust == "":
			cust = c
		case cust != c:
			ok = false
		}
	}
	if a.Customer != "" {
		_, known := r.Channels[a.Customer]
		agree(a.Customer, known)
	}
	if a.Host != "" {
		c, known := lookupHost(r.Hosts, a.Host)
		agree(c, known)
	}
	if a.Account != "" {
		c, known := r.Accounts[a.Account]
		agree(c, known)
	}
	if !ok || cust == "" {
		if r.Team == "" {
			return Destination{}
		}
		return Destination{Channels: []string{r.Team}}
	}
	d := Destination{Customer: cust}
	// Only a firing alert opens a message; the others (resolved,
	// acknowledged, downtime) go wherever the problem may be shown, and a
	// channel that never showed it ignores them (DecideAlert).
	later := a.Status != mcloud.AlertFiring
	if ch := r.Channels[cust]; ch != "" && (later || r.ToCustomer[a.Severity]) {
		d.Channels = append(d.Channels, ch)
	}
	if r.Team != "" && (later || r.ToTeam[a.Severity]) {
		d.Channels = append(d.Channels, r.Team)
	}
	return d
}

// lookupHost matches a host as monitoring names it (a name, an FQDN, an
// address, with or without a port) to a configured host.
func lookupHost(hosts map[string]string, h string) (string, bool) {
	full, short := mcloud.HostNames(h)
	if c, ok := hosts[full]; ok {
		return c, true
	}
	if short != "" {
		c, ok := hosts[short]
		return c, ok
	}
	return "", false
}
