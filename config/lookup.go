package config

import (
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
)

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Customer returns the customer called name, or nil.
func (c *Config) Customer(name string) *Customer {
	for i := range c.Customers {
		if c.Customers[i].Name == name {
			return &c.Customers[i]
		}
	}
	return nil
}

// CustomerNames lists the customers in file order.
func (c *Config) CustomerNames() []string {
	out := make([]string, len(c.Customers))
	for i, cu := range c.Customers {
		out[i] = cu.Name
	}
	return out
}

// Env returns the customer's environment called name, or nil.
func (cu *Customer) Env(name string) *Environment {
	for i := range cu.Environments {
		if cu.Environments[i].Name == name {
			return &cu.Environments[i]
		}
	}
	return nil
}

// EnvNames lists the customer's environments in file order.
func (cu *Customer) EnvNames() []string {
	out := make([]string, len(cu.Environments))
	for i, e := range cu.Environments {
		out[i] = e.Name
	}
	return out
}

// ChannelCustomer returns the customer a channel is bound to, or nil for a
// team channel or an unknown one.
func (c *Config) ChannelCustomer(channelID string) *Customer {
	for i := range c.Customers {
		if c.Customers[i].Channel.ID == channelID {
			return &c.Customers[i]
		}
	}
	return nil
}

// ChannelByName finds a channel by its display name (for the shell).
func (c *Config) ChannelByName(name string) (Channel, bool) {
	for _, ch := range c.Team.Channels {
		if ch.Name == name || ch.ID == name {
			return ch, true
		}
	}
	for _, cu := range c.Customers {
		if cu.Channel.Name == name || cu.Channel.ID == name {
			return cu.Channel, true
		}
	}
	return Channel{}, false
}

// ChannelName is the display name of a channel id, or the id itself.
func (c *Config) ChannelName(id string) string {
	for _, ch := range c.Team.Channels {
		if ch.ID == id && ch.Name != "" {
			return ch.Name
		}
	}
	if cu := c.ChannelCustomer(id); cu != nil && cu.Channel.Name != "" {
		return cu.Channel.Name
	}
	return id
}

// Identity is a verified Slack identity: it comes from a signed payload or,
// in the shell, from the configuration, never from what a user typed.
type Identity struct {
	UserID, TeamID, EnterpriseID string
	Name                         string
}

// UserByName finds a configured user by name (for the shell), with the
// workspace they belong to.
func (c *Config) UserByName(name string) (Identity, bool) {
	for _, u := range c.Team.Users {
		if u.Name == name {
			return Identity{UserID: u.ID, TeamID: c.Slack.TeamID, Name: u.Name}, true
		}
	}
	for _, cu := range c.Customers {
		for _, u := range cu.Users {
			if u.Name == name {
				return Identity{UserID: u.ID, TeamID: cu.TeamID, Name: u.Name}, true
			}
		}
	}
	return Identity{}, false
}

// UserName is the display name of a user id, or the id itself.
func (c *Config) UserName(id string) string {
	for _, u := range c.Team.Users {
		if u.ID == id {
			return u.Name
		}
	}
	for _, cu := range c.Customers {
		for _, u := range cu.Users {
			if u.ID == id {
				return u.Name
			}
		}
	}
	return id
}

// Resolve turns a verified identity in a channel into a Caller with a role.
// Roles come from the workspace that vouches for the user (DESIGN.md, the
// trust model): a member of team.users vouched for by the team's own
// workspace (slack.team_id, or its Enterprise Grid) is DevOps; a user
// vouched for by a customer's workspace, or listed under its users, is
// that customer's user, and acts only in that customer's channel; anyone
// else (a colleague outside the team, a third organisation in a Slack
// Connect channel) gets help only. The channel's kind decides what may be
// posted there (mcloud.Public).
func (c *Config) Resolve(id Identity, channelID string) mcloud.Caller {
	caller := mcloud.Caller{UserID: id.UserID, TeamID: id.TeamID, EnterpriseID: id.EnterpriseID,
		ChannelID: channelID, Name: id.Name}
	if caller.Name == "" {
		caller.Name = c.UserName(id.UserID)
	}
	caller.ChannelKind, caller.ChannelCustomer = mcloud.ClassifyChannel(channelID, c.teamChannelIDs(), c.customerChannels())
	if c.DevOpsWorkspace().Vouches(id.TeamID, id.EnterpriseID) {
		caller.Home = c.Slack.TeamID
		for _, u := range c.Team.Users {
			if u.ID == id.UserID {
				caller.Role = mcloud.RoleDevOps
				caller.Approver = u.Approver
				return caller
			}
		}
		return caller // a colleague outside the team: help only
	}
	if cu := c.customerOf(id); cu != nil {
		caller.Home = cu.TeamID
		caller.Role = mcloud.RoleCustomer
		caller.Customer = cu.Name
	}
	return caller
}

// DevOpsWorkspace is the workspace that vouches for the DevOps team.
func (c *Config) DevOpsWorkspace() mcloud.Workspace {
	return mcloud.Workspace{TeamID: c.Slack.TeamID, EnterpriseID: c.Slack.EnterpriseID}
}

// Workspace is the workspace that vouches for the customer's users.
func (cu *Customer) Workspace() mcloud.Workspace {
	return mcloud.Workspace{TeamID: cu.TeamID, EnterpriseID: cu.EnterpriseID}
}

// customerOf is the customer the configuration places id with: listed by
// user id, or vouched for by the customer's workspace; nil for nobody's.
func (c *Config) customerOf(id Identity) *Customer {
	for i := range c.Customers {
		for _, u := range c.Customers[i].Users {
			if u.ID == id.UserID {
				return &c.Customers[i]
			}
		}
	}
	for i := range c.Customers {
		if c.Customers[i].Workspace().Vouches(id.TeamID, id.EnterpriseID) {
			return &c.Customers[i]
		}
	}
	return nil
}

func (c *Config) teamChannelIDs() []string {
	out := make([]string, len(c.Team.Channels))
	for i, ch := range c.Team.Channels {
		out[i] = ch.ID
	}
	return out
}

func (c *Config) customerChannels() map[string]string {
	out := make(map[string]string, len(c.Customers))
	for _, cu := range c.Customers {
		if cu.Channel.ID != "" {
			out[cu.Channel.ID] = cu.Name
		}
	}
	return out
}

// Approvers returns how many approvers verb needs when a caller of role asks,
// given the verb's defaults.
func (c *Config) Approvers(verb string, role mcloud.Role, devopsDefault, customerDefault int) int {
	r, ok := c.Approvals.Rules[verb]
	if role == mcloud.RoleCustomer {
		if ok && r.Customer != nil {
			return *r.Customer
		}
		return max(customerDefault, 1)
	}
	if ok && r.DevOps != nil {
		return *r.DevOps
	}
	return devopsDefault
}

// CheckSecrets reports every secret that serve needs and the environment
// does not provide, in the order of the file's keys (Problems puts them
// in file order with line numbers).
func (c *Config) CheckSecrets(needSlack bool) []string {
	var p []string
	if needSlack {
		if !c.Slack.BotToken.Set() {
			p = append(p, "slack.bot_token: missing; set it to ${SLACK_BOT_TOKEN} or similar")
		}
		if !c.Slack.SigningSecret.Set() && !c.Slack.AppToken.Set() {
			p = append(p, "slack.signing_secret: missing; HTTP mode needs the signing secret (or set slack.app_token for Socket Mode)")
		}
		for _, s := range []struct {
			key    string
			secret Secret
		}{{"slack.bot_token", c.Slack.BotToken}, {"slack.signing_secret", c.Slack.SigningSecret}, {"slack.app_token", c.Slack.AppToken}} {
			if s.secret.Set() {
				if _, ok := s.secret.Value(); !ok {
					p = append(p, fmt.Sprintf("%s: environment variable %s is not set", s.key, s.secret.Ref))
				}
			}
		}
	}
	for _, s := range []struct {
		key    string
		secret Secret
	}{{"alerts.alertmanager.token", c.Alerts.Alertmanager.Token}, {"alerts.alertmanager.password", c.Alerts.Alertmanager.Password},
		{"alerts.icinga2.token", c.Alerts.Icinga2.Token}, {"alerts.icinga2.password", c.Alerts.Icinga2.Password},
		{"alerts.icinga2.api_password", c.Alerts.Icinga2.APIPassword},
		{"alerts.email.username", c.Alerts.Email.Username}, {"alerts.email.password", c.Alerts.Email.Password}} {
		if s.secret.Set() {
			if _, ok := s.secret.Value(); !ok {
				p = append(p, fmt.Sprintf("%s: environment variable %s is not set", s.key, s.secret.Ref))
			}
		}
	}
	for i, cu := range c.Customers {
		if s := cu.AWS.ExternalID; s.Set() {
			if _, ok := s.Value(); !ok {
				p = append(p, fmt.Sprintf("customers[%d].aws.external_id: environment variable %s is not set", i, s.Ref))
			}
		}
	}
	return p
}
