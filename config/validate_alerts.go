package config

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
)

var topicARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)

// validateAlerts checks the alerts section: severities by name, topics as
// ARNs, the API URLs, and a budget that lets some messages through.
func (c *Config) validateAlerts(bad complain) {
	a := c.Alerts
	sev := []string{"critical", "warning", "info"}
	for key, list := range map[string][]string{"alerts.customer": a.Customer, "alerts.team": a.Team} {
		for i, s := range list {
			if !slices.Contains(sev, s) {
				bad(fmt.Sprintf("%s[%d]", key, i), "%q is not a severity; use %s", s, strings.Join(sev, ", "))
			}
		}
	}
	for i, t := range a.SNS.Topics {
		if !topicARNRE.MatchString(t) {
			bad(fmt.Sprintf("alerts.sns.topics[%d]", i), "%q is not an SNS topic ARN like arn:aws:sns:eu-west-1:111111111111:alarms", t)
		}
	}
	if a.Budget < 0 || a.Budget > 1000 {
		bad("alerts.budget", "must be between 1 and 1000 new messages per channel and interval (0 means 10), not %d", a.Budget)
	}
	for name, s := range map[string]AlertSource{"alertmanager": a.Alertmanager, "icinga2": a.Icinga2} {
		if s.API == "" {
			continue
		}
		if err := HTTPURL(s.API); err != nil {
			bad("alerts."+name+".api", "%s like https://host:port", err)
		}
	}
	c.validateAlertEmail(bad)
}

// validateAlertEmail checks the mail fallback: a server to reach, a
// sender, credentials by ${ENV} (mail is only sent after STARTTLS and
// AUTH), and addresses that parse, the customers' contacts included.
func (c *Config) validateAlertEmail(bad complain) {
	e := c.Alerts.Email
	isAddress := func(a string) bool {
		ad, err := mail.ParseAddress(a)
		return err == nil && ad.Name == "" && ad.Address == a
	}
	addresses := func(key string, list []string) {
		for i, a := range list {
			if !isAddress(a) {
				bad(fmt.Sprintf("%s[%d]", key, i), "%q is not an email address like ops@example.com", a)
			}
		}
	}
	for i, cu := range c.Customers {
		addresses(fmt.Sprintf("customers[%d].contacts", i), cu.Contacts)
	}
	if !e.Configured() {
		if e.From != "" || e.Password.Set() || len(e.Team) > 0 {
			bad("alerts.email.server", "missing; the mail fallback needs the SMTP server's host name, like smtp.example.com")
		}
		return
	}
	if strings.ContainsAny(e.Server, ":/ ") {
		bad("alerts.email.server", "%q is not a host name; give the port as alerts.email.port", e.Server)
	}
	if e.Port < 0 || e.Port > 65535 {
		bad("alerts.email.port", "must be a TCP port (default 587), not %d", e.Port)
	}
	if e.From == "" {
		bad("alerts.email.from", "missing; the sender address, like mcloud@example.com")
	} else if !isAddress(e.From) {
		bad("alerts.email.from", "%q is not an email address like mcloud@example.com", e.From)
	}
	if !e.Username.Set() {
		bad("alerts.email.username", "missing; mail is sent with SMTP AUTH only: set it to ${MCLOUD_SMTP_USER} or similar")
	}
	if !e.Password.Set() {
		bad("alerts.email.password", "missing; mail is sent with SMTP AUTH only: set it to ${MCLOUD_SMTP_PASSWORD} or similar")
	}
	addresses("alerts.email.team", e.Team)
	if len(e.Team) == 0 && !slices.ContainsFunc(c.Customers, func(cu Customer) bool { return len(cu.Contacts) > 0 }) {
		bad("alerts.email", "no one to mail: list alerts.email.team or customers[].contacts")
	}
}
