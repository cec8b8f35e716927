package mcloud

import "slices"

// ChannelKind is what a channel is to mcloud, which decides what may be
// posted in it for everyone to read.
type ChannelKind int

const (
	// ChannelOther is any channel the configuration does not name: an
	// unlisted channel, a group DM, a DM. Its members are unknown, so
	// nothing about a customer is ever posted there publicly.
	ChannelOther ChannelKind = iota
	// ChannelTeam is listed in team.channels: only DevOps reads it, so it
	// may show every customer.
	ChannelTeam
	// ChannelCustomer is bound to exactly one customer, whose people read it.
	ChannelCustomer
)

func (k ChannelKind) String() string {
	switch k {
	case ChannelTeam:
		return "team channel"
	case ChannelCustomer:
		return "customer channel"
	}
	return "unlisted channel"
}

// ClassifyChannel says which kind channelID is, given the team channels and
// each customer's channel (customer name by channel id), and the customer
// a customer channel is bound to. Being known by name is not enough: only
// team.channels makes a team channel.
func ClassifyChannel(channelID string, teamChannels []string, customerChannels map[string]string) (ChannelKind, string) {
	if channelID == "" {
		return ChannelOther, ""
	}
	if cu, ok := customerChannels[channelID]; ok {
		return ChannelCustomer, cu
	}
	if slices.Contains(teamChannels, channelID) {
		return ChannelTeam, ""
	}
	return ChannelOther, ""
}

// Public reports whether an answer to c may be posted for everyone in c's
// channel to read. private is the answer's own wish (errors, help, audit
// logs). Outside team and customer channels every answer is private, since
// nobody configured who reads them; Authorize has already kept a customer
// channel to its own customer.
func Public(c Caller, private bool) bool {
	if private {
		return false
	}
	return c.ChannelKind == ChannelTeam || c.ChannelKind == ChannelCustomer
}

// MayRequest decides whether c may make a request (a plan that waits for
// approval and then runs as a job) in c's channel. A request's plan,
// approvals and progress are posted in the channel it was asked in, for
// the approvers and the customer to follow; a channel bound to nobody has
// neither, so a request is refused there (EUNAUTHORIZED) with where to ask.
func MayRequest(c Caller, verb, customer string) *Error {
	if c.ChannelKind != ChannelOther {
		return nil
	}
	return Errorf(EUNAUTHORIZED, "%s for %s must be asked in a team channel or in %s's channel, where its plan, approvals and progress are posted; nothing was requested here.", verb, customer, customer)
}

// Workspace is a Slack workspace the configuration trusts: a team id and,
// on Enterprise Grid, the organisation's enterprise id.
type Workspace struct {
	TeamID       string
	EnterpriseID string
}

// Vouches reports whether w vouches for a user whose verified payload says
// team and enterprise: the same team, or the same Enterprise Grid
// organisation (a grid user works from any of its workspaces).
func (w Workspace) Vouches(team, enterprise string) bool {
	if w.TeamID != "" && team == w.TeamID {
		return true
	}
	return w.EnterpriseID != "" && enterprise == w.EnterpriseID
}

// SameUser is the one identity rule for requester, approver and
// withdrawer: the same Slack user id, vouched for by the same configured
// workspace (Caller.Home). A payload's own team id is not identity: the
// same id arriving from an unconfigured workspace is someone else, and a
// user nobody vouches for is nobody's equal.
func SameUser(a, b Caller) bool {
	return a.UserID != "" && a.UserID == b.UserID && a.Home != "" && a.Home == b.Home
}
