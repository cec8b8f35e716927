package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/robfig/cron/v3"
)

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	userIDRE  = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	chanIDRE  = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)
	teamIDRE  = regexp.MustCompile(`^T[A-Z0-9]{2,}$`)
	enterRE   = regexp.MustCompile(`^E[A-Z0-9]{2,}$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]+$`)
	bucketRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	hostKeyRE = regexp.MustCompile(`^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) [A-Za-z0-9+/]+=*$`)
)

// Regions are the AWS regions a customer may name; a typo such as
// "us-wst-2" is caught here rather than as a connection error at 3 a.m.
var Regions = []string{
	"af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
	"ap-southeast-4", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2",
	"eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
	"il-central-1", "me-central-1", "me-south-1", "sa-east-1", "us-east-1", "us-east-2",
	"us-west-1", "us-west-2",
}

// MaxApprovers bounds a rule: more than this many distinct approvers for one
// request is a typo, not a policy.
const MaxApprovers = 5

func (c *Config) validate() []string {
	var p []string
	bad := func(path, format string, args ...any) {
		p = append(p, fmt.Sprintf("%s: %s", path, fmt.Sprintf(format, args...)))
	}

	if c.Slack.TeamID == "" {
		bad("slack.team_id", "missing; it is the DevOps team's own Slack workspace id, like T0123ABCD")
	} else if !teamIDRE.MatchString(c.Slack.TeamID) {
		bad("slack.team_id", "%q is not a Slack team id (T followed by capitals and digits)", c.Slack.TeamID)
	}
	if c.Slack.EnterpriseID != "" && !enterRE.MatchString(c.Slack.EnterpriseID) {
		bad("slack.enterprise_id", "%q is not a Slack Enterprise Grid id (E followed by capitals and digits)", c.Slack.EnterpriseID)
	}
	switch c.Slack.Mode {
	case "", SlackSocket, SlackHTTP:
	default:
		bad("slack.mode", "must be %q or %q, not %q", SlackSocket, SlackHTTP, c.Slack.Mode)
	}
	if u, err := url.Parse(c.Slack.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("slack.api_url", "%q is not an http(s) URL", c.Slack.APIURL)
	}
	if c.AWS.Endpoint != "" {
		if u, err := url.Parse(c.AWS.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("aws.endpoint", "%q is not an http(s) URL", c.AWS.Endpoint)
		}
	}

	channels := map[string]string{} // id -> path, across team and customers
	names := map[string]string{}    // user name -> path, for :user in the shell
	userIDs := map[string]string{}
	checkChannel := func(path string, ch Channel) {
		switch {
		case ch.ID == "":
			bad(path+".id", "missing; channels are referenced by id, like C0123ABCD")
		case !chanIDRE.MatchString(ch.ID):
			bad(path+".id", "%q is not a Slack channel id (C or G followed by capitals and digits)", ch.ID)
		case channels[ch.ID] != "":
			bad(path+".id", "%q is already used by %s; a channel belongs to exactly one customer or to the team", ch.ID, channels[ch.ID])
		default:
			channels[ch.ID] = path
		}
		if ch.Name != "" && !nameRE.MatchString(strings.TrimPrefix(ch.Name, "#")) {
			bad(path+".name", "%q is not a channel name (lowercase letters, digits, dashes)", ch.Name)
		}
	}
	checkUser := func(path string, u User) {
		switch {
		case u.ID == "":
			bad(path+".id", "missing; users are referenced by Slack user id, like U0123ABCD")
		case !userIDRE.MatchString(u.ID):
			bad(path+".id", "%q is not a Slack user id (U or W followed by capitals and digits)", u.ID)
		case userIDs[u.ID] != "":
			bad(path+".id", "%q is already used by %s", u.ID, userIDs[u.ID])
		default:
			userIDs[u.ID] = path
		}
		switch {
		case u.Name == "":
			bad(path+".name", "missing")
		case names[u.Name] != "":
			bad(path+".name", "%q is already used by %s", u.Name, names[u.Name])
		default:
			names[u.Name] = path
		}
	}

	for i, ch := range c.Team.Channels {
		checkChannel(fmt.Sprintf("team.channels[%d]", i), ch)
	}
	if len(c.Team.Users) == 0 {
		bad("team.users", "missing; list the DevOps team's members")
	}
	approvers := 0
	for i, u := range c.Team.Users {
		checkUser(fmt.Sprintf("team.users[%d]", i), u)
		if u.Approver {
			approvers++
		}
	}
	if len(c.Team.Users) > 0 && approvers == 0 {
		bad("team.users", "no user has approver: true, so no request could ever be approved")
	}

	if d := c.Approvals.Expiry; d.Std().Minutes() < 1 {
		bad("approvals.expiry", "must be at least 1m")
	}
	for verb, r := range c.Approvals.Rules {
		path := "approvals.rules." + verb
		if r.DevOps != nil && (*r.DevOps < 0 || *r.DevOps > MaxApprovers) {
			bad(path+".devops", "must be between 0 and %d, not %d", MaxApprovers, *r.DevOps)
		}
		if r.DevOps != nil && *r.DevOps > approvers && approvers > 0 {
			bad(path+".devops", "needs %d approvers but only %d users are approvers", *r.DevOps, approvers)
		}
		if r.Customer != nil && (*r.Customer < 1 || *r.Customer > MaxApprovers) {
			bad(path+".customer", "must be between 1 and %d, not %d: a customer's request always waits for DevOps approval", MaxApprovers, *r.Customer)
		}
	}
	if c.Jobs.RescueAfter.Std().Seconds() < 1 {
		bad("jobs.rescue_after", "must be at least 1s")
	}
	if c.Jobs.Workers < 1 || c.Jobs.Workers > 100 {
		bad("jobs.workers", "must be between 1 and 100, not %d", c.Jobs.Workers)
	}

	if len(c.Customers) == 0 {
		bad("customers", "missing; list at least one customer")
	}
	customers := map[string]string{}
	for i, cu := range c.Customers {
		path := fmt.Sprintf("customers[%d]", i)
		switch {
		case cu.Name == "":
			bad(path+".name", "missing")
		case !nameRE.MatchString(cu.Name):
			bad(path+".name", "%q must be lowercase letters, digits and dashes", cu.Name)
		case customers[cu.Name] != "":
			bad(path+".name", "%q is already used by %s", cu.Name, customers[cu.Name])
		default:
			customers[cu.Name] = path
		}
		checkChannel(path+".channel", cu.Channel)
		c.validateCustomerWorkspace(path, cu, bad)
		for j, u := range cu.Users {
			checkUser(fmt.Sprintf("%s.users[%d]", path, j), u)
			if u.Approver {
				bad(fmt.Sprintf("%s.users[%d].approver", path, j), "customer users can never approve")
			}
		}
		c.validateAWS(path+".aws", cu.AWS, bad)
		for key, b := range map[string]string{"logs": cu.Buckets.Logs, "artifacts": cu.Buckets.Artifacts, "exports": cu.Buckets.Exports} {
			if b != "" && !bucketRE.MatchString(b) {
				bad(path+".buckets."+key, "%q is not a valid S3 bucket name", b)
			}
		}
		if cu.RetentionMonths < 1 || cu.RetentionMonths > 120 {
			bad(path+".retention_months", "must be between 1 and 120, not %d", cu.RetentionMonths)
		}
		validateBastion(path+".bastion", cu.Bastion, len(cu.Environments) > 0, bad)
		envs := map[string]bool{}
		for j, env := range cu.Environments {
			ep := fmt.Sprintf("%s.environments[%d]", path, j)
			switch {
			case !nameRE.MatchString(env.Name):
				bad(ep+".name", "%q must be lowercase letters, digits and dashes", env.Name)
			case envs[env.Name]:
				bad(ep+".name", "%q appears twice in %s", env.Name, cu.Name)
			}
			envs[env.Name] = true
			hosts := map[string]bool{}
			for k, h := range env.Hosts {
				hp := fmt.Sprintf("%s.hosts[%d]", ep, k)
				if !nameRE.MatchString(h.Name) {
					bad(hp+".name", "%q must be lowercase letters, digits and dashes", h.Name)
				} else if hosts[h.Name] {
					bad(hp+".name", "%q appears twice in %s/%s", h.Name, cu.Name, env.Name)
				}
				hosts[h.Name] = true
				if h.Address == "" {
					bad(hp+".address", "missing")
				} else if _, _, err := net.SplitHostPort(withPort(h.Address)); err != nil {
					bad(hp+".address", "%q is not a host or host:port", h.Address)
				}
				if h.HealthURL != "" {
					if u, err := url.Parse(h.HealthURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
						bad(hp+".health_url", "%q is not an http(s) URL", h.HealthURL)
					}
				}
				if h.HostKey != "" && !hostKeyRE.MatchString(h.HostKey) {
					bad(hp+".host_key", "must be \"<type> <base64 key>\" as in known_hosts, e.g. \"ssh-ed25519 AAAA...\"")
				}
			}
		}
		parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
		for key, expr := range map[string]string{"backup": cu.Schedules.Backup, "report": cu.Schedules.Report} {
			if expr == "" {
				continue
			}
			if _, err := parser.Parse(expr); err != nil {
				bad(path+".schedules."+key, "%q is not a cron expression (minute hour day month weekday): %v", expr, err)
			}
		}
	}
	p = append(p, c.validateAWSOps()...)
	p = append(p, c.validateSSHOps()...)
	slices.Sort(p)
	return p
}

// validateCustomerWorkspace checks the workspace that vouches for the
// customer's users: without it, anyone from any organisation in the shared
// channel could pass for the customer.
func (c *Config) validateCustomerWorkspace(path string, cu Customer, bad func(string, string, ...any)) {
	switch {
	case cu.TeamID == "":
		bad(path+".team_id", "missing; it is the customer's own Slack workspace id, like T0123ABCD, and only its users (or those listed under users) act as the customer")
	case !teamIDRE.MatchString(cu.TeamID):
		bad(path+".team_id", "%q is not a Slack team id", cu.TeamID)
	case cu.TeamID == c.Slack.TeamID:
		bad(path+".team_id", "is the DevOps team's own workspace; customer users must come from their own")
	}
	switch {
	case cu.EnterpriseID == "":
	case !enterRE.MatchString(cu.EnterpriseID):
		bad(path+".enterprise_id", "%q is not a Slack Enterprise Grid id (E followed by capitals and digits)", cu.EnterpriseID)
	case cu.EnterpriseID == c.Slack.EnterpriseID:
		bad(path+".enterprise_id", "is the DevOps team's own Enterprise Grid organisation; customer users must come from their own")
	}
}

func (c *Config) validateAWS(path string, a CustomerAWS, bad func(string, string, ...any)) {
	if a.AccountID != "" && !accountRE.MatchString(a.AccountID) {
		bad(path+".account_id", "%q is not a 12-digit AWS account id", a.AccountID)
	}
	if a.RoleARN != "" {
		checkRoleARN(path+".role_arn", a.RoleARN, a.AccountID, "", bad)
	}
	if a.RoleARN != "" && !a.ExternalID.Set() {
		bad(path+".external_id", "missing; assuming a customer's role always uses an external id")
	}
	if a.Region == "" {
		bad(path+".region", "missing")
	} else if !slices.Contains(Regions, a.Region) {
		bad(path+".region", "unknown region %q", a.Region)
	}
	if a.DRRegion == "" {
		bad(path+".dr_region", "missing")
	} else if !slices.Contains(Regions, a.DRRegion) {
		bad(path+".dr_region", "unknown region %q", a.DRRegion)
	} else if a.DRRegion == a.Region {
		bad(path+".dr_region", "is the same as region %q; disaster recovery needs another region", a.Region)
	}
}

// checkRoleARN checks that arn is an IAM role ARN in account (when known);
// why, if set, follows the account mismatch.
func checkRoleARN(key, arn, account, why string, bad func(string, string, ...any)) {
	m := roleARNRE.FindStringSubmatch(arn)
	switch {
	case m == nil:
		bad(key, "%q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", arn)
	case account != "" && m[1] != account:
		bad(key, "is in account %s but account_id is %s%s", m[1], account, why)
	}
}

func validateBastion(path string, b Bastion, needed bool, bad func(string, string, ...any)) {
	if b.Host == "" {
		if needed {
			bad(path+".host", "missing; every host is reached through the customer's bastion")
		}
		return
	}
	if b.Port < 1 || b.Port > 65535 {
		bad(path+".port", "must be between 1 and 65535, not %d", b.Port)
	}
	if b.User == "" {
		bad(path+".user", "missing")
	}
	if b.HostKey == "" {
		bad(path+".host_key", "missing; the bastion's host key is always pinned")
	} else if !hostKeyRE.MatchString(b.HostKey) {
		bad(path+".host_key", "must be \"<type> <base64 key>\" as in known_hosts, e.g. \"ssh-ed25519 AAAA...\"")
	}
}

func withPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, "22")
}
