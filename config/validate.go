package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/mcloud/mcloud/internal/suggest"
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

// complain records a problem with the key at path.
type complain func(path, format string, args ...any)

// validate checks everything decode could not: values, references between
// keys, ids used twice. Each problem is "path: why".
func (c *Config) validate() []string {
	var p []string
	bad := func(path, format string, args ...any) {
		p = append(p, fmt.Sprintf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	ids := &slackIDs{channels: map[string]string{}, names: map[string]string{}, users: map[string]string{}}
	c.validateSlack(bad)
	approvers := c.validateTeam(ids, bad)
	c.validateApprovals(approvers, bad)
	c.validateJobs(bad)
	c.validateAlerts(bad)
	c.validateDefaults(bad)
	if len(c.Customers) == 0 {
		bad("customers", "missing; list at least one customer")
	}
	names := map[string]string{}
	for i := range c.Customers {
		c.validateCustomer(fmt.Sprintf("customers[%d]", i), &c.Customers[i], names, ids, bad)
	}
	c.validateScheduler(bad)
	p = append(p, c.validateAWSOps()...)
	p = append(p, c.validateSSHOps()...)
	p = append(p, c.validateProvisionOps()...)
	p = append(p, c.validateDR()...)
	return p
}

func (c *Config) validateSlack(bad complain) {
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
	checkURL("slack.api_url", c.Slack.APIURL, bad)
	if c.AWS.Endpoint != "" {
		checkURL("aws.endpoint", c.AWS.Endpoint, bad)
	}
}

// slackIDs are the channels, user ids and user names seen so far: each
// belongs to one place in the file.
type slackIDs struct{ channels, names, users map[string]string }

func (s *slackIDs) checkChannel(path string, ch Channel, bad complain) {
	switch {
	case ch.ID == "":
		bad(path+".id", "missing; channels are referenced by id, like C0123ABCD")
	case !chanIDRE.MatchString(ch.ID):
		bad(path+".id", "%q is not a Slack channel id (C or G followed by capitals and digits)", ch.ID)
	case s.channels[ch.ID] != "":
		bad(path+".id", "%q is already used by %s; a channel belongs to exactly one customer or to the team", ch.ID, s.channels[ch.ID])
	default:
		s.channels[ch.ID] = path
	}
	if ch.Name != "" && !nameRE.MatchString(strings.TrimPrefix(ch.Name, "#")) {
		bad(path+".name", "%q is not a channel name (lowercase letters, digits, dashes)", ch.Name)
	}
}

func (s *slackIDs) checkUser(path string, u User, bad complain) {
	switch {
	case u.ID == "":
		bad(path+".id", "missing; users are referenced by Slack user id, like U0123ABCD")
	case !userIDRE.MatchString(u.ID):
		bad(path+".id", "%q is not a Slack user id (U or W followed by capitals and digits)", u.ID)
	case s.users[u.ID] != "":
		bad(path+".id", "%q is already used by %s", u.ID, s.users[u.ID])
	default:
		s.users[u.ID] = path
	}
	switch {
	case u.Name == "":
		bad(path+".name", "missing")
	case s.names[u.Name] != "":
		bad(path+".name", "%q is already used by %s", u.Name, s.names[u.Name])
	default:
		s.names[u.Name] = path // for :user in the shell
	}
}

// validateTeam checks the team's channels and users and returns how many
// of them are approvers.
func (c *Config) validateTeam(ids *slackIDs, bad complain) (approvers int) {
	for i, ch := range c.Team.Channels {
		ids.checkChannel(fmt.Sprintf("team.channels[%d]", i), ch, bad)
	}
	if len(c.Team.Users) == 0 {
		bad("team.users", "missing; list the DevOps team's members")
	}
	for i, u := range c.Team.Users {
		ids.checkUser(fmt.Sprintf("team.users[%d]", i), u, bad)
		if u.Approver {
			approvers++
		}
	}
	if len(c.Team.Users) > 0 && approvers == 0 {
		bad("team.users", "no user has approver: true, so no request could ever be approved")
	}
	return approvers
}

func (c *Config) validateApprovals(approvers int, bad complain) {
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
}

func (c *Config) validateJobs(bad complain) {
	if c.Jobs.RescueAfter.Std().Seconds() < 1 {
		bad("jobs.rescue_after", "must be at least 1s")
	}
	if c.Jobs.Workers < 1 || c.Jobs.Workers > 100 {
		bad("jobs.workers", "must be between 1 and 100, not %d", c.Jobs.Workers)
	}
	if c.Outbox.Retention.Std() < time.Minute {
		bad("outbox.retention", "must be at least 1m (default 168h, 7 days)")
	}
}

// validateCustomer checks one customer; names are the customer names seen
// so far.
func (c *Config) validateCustomer(path string, cu *Customer, names map[string]string, ids *slackIDs, bad complain) {
	switch {
	case cu.Name == "":
		bad(path+".name", "missing")
	case !nameRE.MatchString(cu.Name):
		bad(path+".name", "%q must be lowercase letters, digits and dashes", cu.Name)
	case names[cu.Name] != "":
		bad(path+".name", "%q is already used by %s", cu.Name, names[cu.Name])
	default:
		names[cu.Name] = path
	}
	ids.checkChannel(path+".channel", cu.Channel, bad)
	c.validateCustomerWorkspace(path, cu, bad)
	for j, u := range cu.Users {
		ids.checkUser(fmt.Sprintf("%s.users[%d]", path, j), u, bad)
		if u.Approver {
			bad(fmt.Sprintf("%s.users[%d].approver", path, j), "customer users can never approve")
		}
	}
	c.validateAWS(path+".aws", cu.AWS, bad)
	for _, b := range []struct{ key, name string }{{"logs", cu.Buckets.Logs}, {"artifacts", cu.Buckets.Artifacts}, {"exports", cu.Buckets.Exports}} {
		if b.name != "" && !bucketRE.MatchString(b.name) {
			bad(path+".buckets."+b.key, "%q is not a valid S3 bucket name", b.name)
		}
	}
	if cu.RetentionMonths < 1 || cu.RetentionMonths > 120 {
		bad(path+".retention_months", "must be between 1 and 120, not %d (leave it out for the default, %d)", cu.RetentionMonths, DefaultRetentionMonths)
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
		validateHosts(ep, cu.Name, env, bad)
		validateProducts(ep, cu, env, bad)
	}
	validateSchedules(path, cu, bad)
}

// validateHosts checks an environment's hosts; ep is the environment's path.
func validateHosts(ep, customer string, env Environment, bad complain) {
	if len(env.Hosts) == 0 {
		bad(ep+".hosts", "missing; an environment needs at least one host for patch, run and status to act on")
	}
	hosts := map[string]bool{}
	for k, h := range env.Hosts {
		hp := fmt.Sprintf("%s.hosts[%d]", ep, k)
		if !nameRE.MatchString(h.Name) {
			bad(hp+".name", "%q must be lowercase letters, digits and dashes", h.Name)
		} else if hosts[h.Name] {
			bad(hp+".name", "%q appears twice in %s/%s", h.Name, customer, env.Name)
		}
		hosts[h.Name] = true
		if h.Address == "" && env.Provision == nil {
			bad(hp+".address", "missing (or provision the environment: its addresses then come from CloudFormation)")
		} else if _, _, err := net.SplitHostPort(withPort(h.Address)); err != nil {
			bad(hp+".address", "%q is not a host or host:port", h.Address)
		}
		if h.HealthURL != "" {
			checkURL(hp+".health_url", h.HealthURL, bad)
		}
		checkHostKey(hp+".host_key", h.HostKey, bad)
	}
}

// secretARNRE is a Secrets Manager secret's ARN; group 1 is its account.
var secretARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:(\d{12}):secret:.+$`)

// validateProducts checks what handover gives the customer; ep is the
// environment's path.
func validateProducts(ep string, cu *Customer, env Environment, bad complain) {
	names := map[string]bool{}
	for k, p := range env.Products {
		pp := fmt.Sprintf("%s.products[%d]", ep, k)
		switch {
		case p.Name == "":
			bad(pp+".name", "missing")
		case names[p.Name]:
			bad(pp+".name", "%q appears twice in %s/%s", p.Name, cu.Name, env.Name)
		}
		names[p.Name] = true
		switch {
		case p.URL != "":
			checkURL(pp+".url", p.URL, bad)
		case p.URLOutput != "" && env.Provision == nil:
			bad(pp+".url_output", "needs the environment's provision block: it names an output of the stack `provision` builds; give url instead")
		case p.URLOutput == "":
			bad(pp+".url", "missing; it is the address the customer opens the product at (or give url_output, an output of the provisioning stack)")
		}
		switch p.Check {
		case "", "bot", "bastion":
		default:
			bad(pp+".check", "%q is neither bot nor bastion", p.Check)
		}
		if m := secretARNRE.FindStringSubmatch(p.Secret); strings.HasPrefix(p.Secret, "arn:") && m == nil {
			bad(pp+".secret", "%q is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME) nor a secret name", p.Secret)
		} else if m != nil && cu.AWS.AccountID != "" && m[1] != cu.AWS.AccountID {
			bad(pp+".secret", "is in account %s, not in %s's account %s; handover reads it with the customer's role", m[1], cu.Name, cu.AWS.AccountID)
		}
	}
}

// validateCustomerWorkspace checks the workspace that vouches for the
// customer's users: without it, anyone from any organisation in the shared
// channel could pass for the customer.
func (c *Config) validateCustomerWorkspace(path string, cu *Customer, bad complain) {
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

func (c *Config) validateAWS(path string, a CustomerAWS, bad complain) {
	if a.AccountID != "" && !accountRE.MatchString(a.AccountID) {
		bad(path+".account_id", "%q is not a 12-digit AWS account id", a.AccountID)
	}
	if a.RoleARN != "" {
		checkRoleARN(path+".role_arn", a.RoleARN, a.AccountID, "", bad)
	}
	if a.RoleARN != "" && !a.ExternalID.Set() {
		bad(path+".external_id", "missing; assuming a customer's role always uses an external id")
	}
	checkRegion(path+".region", a.Region, bad)
	if checkRegion(path+".dr_region", a.DRRegion, bad) && a.DRRegion == a.Region {
		bad(path+".dr_region", "is the same as region %q; disaster recovery needs another region", a.Region)
	}
}

// checkRegion reports whether region is a known AWS region, and says why
// not (with the region it probably means) when it is not.
func checkRegion(path, region string, bad complain) bool {
	switch {
	case region == "":
		bad(path, "missing")
	case !slices.Contains(Regions, region):
		if near := suggest.Nearest(region, Regions); near != "" {
			bad(path, "unknown region %q; did you mean %s?", region, near)
		} else {
			bad(path, "unknown region %q; regions look like eu-west-1", region)
		}
	default:
		return true
	}
	return false
}

// HTTPURL checks that u is an http(s) URL with a host, as every URL the
// bot calls must be (Slack's API, AWS endpoints, health URLs, monitoring
// APIs); the error is one sentence for whoever wrote u.
func HTTPURL(u string) error {
	if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", u)
	}
	return nil
}

// checkURL reports the key at path unless it is an http(s) URL.
func checkURL(path, u string, bad complain) {
	if err := HTTPURL(u); err != nil {
		bad(path, "%s", err)
	}
}

// checkRoleARN checks that arn is an IAM role ARN in account (when known);
// why, if set, follows the account mismatch.
func checkRoleARN(key, arn, account, why string, bad complain) {
	m := roleARNRE.FindStringSubmatch(arn)
	switch {
	case m == nil:
		bad(key, "%q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", arn)
	case account != "" && m[1] != account:
		bad(key, "is in account %s but account_id is %s%s", m[1], account, why)
	}
}

// checkHostKey checks a pinned host key, as known_hosts writes it without
// the host name. A key of the right shape that does not decode is usually
// cut short when pasted; the SSH library's own words for that ("no key
// found; last parsing error ...") would not tell the operator so.
func checkHostKey(path, key string, bad complain) {
	if key == "" {
		return
	}
	if !hostKeyRE.MatchString(key) {
		bad(path, "is not an SSH public key (expected e.g. `ssh-ed25519 AAAA...`, as in known_hosts without the host name)")
		return
	}
	if _, _, _, _, err := xssh.ParseAuthorizedKey([]byte(key)); err != nil {
		bad(path, "is not an SSH public key: its %s key data does not decode (cut short when pasted?); copy it again from ssh-keyscan or the host's /etc/ssh/*.pub", strings.Fields(key)[0])
	}
}

func validateBastion(path string, b Bastion, needed bool, bad complain) {
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
	} else {
		checkHostKey(path+".host_key", b.HostKey, bad)
	}
}

func withPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, "22")
}
