package commands

import "github.com/mcloud/mcloud"

// What a channel shows of the work on a customer (requests and their
// jobs). The rule, the same for status, jobs, job, pending, links,
// approve, deny and cancel:
//
//   - A team channel (or a DevOps member's private answer in a channel
//     bound to nobody) shows all work on every customer.
//   - A customer's shared channel shows the work asked in that channel,
//     by the customer or by DevOps there: the conversation the customer is
//     part of, where its plan and its thread are. Work the DevOps team asks
//     in its own channels is reported there and does not exist in the
//     customer's channel, like another customer's; to let a customer follow
//     a change, ask for it in their channel.
//
// A listing therefore never shows work whose thread its reader cannot
// read. The audit log is DevOps-only and private, and shows everything.
// sees is visibleIn for this call's caller.
func (c *Call) sees(customer, askedIn string) bool { return visibleIn(c.Caller, customer, askedIn) }

func visibleIn(c mcloud.Caller, customer, askedIn string) bool {
	if c.ChannelCustomer == "" {
		return c.Role == mcloud.RoleDevOps
	}
	return customer == c.ChannelCustomer && askedIn == c.ChannelID
}
