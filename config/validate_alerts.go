package config

import (
	"fmt"
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
}
