package mcloud

// Access says who may run a verb at all.
type Access int

const (
	AccessAnyone   Access = iota // help: everyone, everywhere
	AccessCustomer               // DevOps anywhere; a customer user in their own channel
	AccessDevOps                 // DevOps only
)

// Authorize decides whether c may run verb (with access) against customer
// ("" when the verb names none). It is pure: the caller's role, customer and
// channel binding were resolved from the verified identity beforehand.
func Authorize(c Caller, verb string, access Access, customer string) *Error {
	if access == AccessAnyone {
		return nil
	}
	// A customer's shared channel is about that customer only, for
	// everyone: answers there are seen by the customer, so another
	// customer's name, hosts or jobs must never be asked about there.
	if c.ChannelCustomer != "" && customer != "" && customer != c.ChannelCustomer {
		if c.Role == RoleDevOps {
			return Errorf(EUNAUTHORIZED, "This channel is %s's; ask about %s in its own channel or in a team channel.", c.ChannelCustomer, customer)
		}
		return Errorf(EUNAUTHORIZED, "From this channel you can only act on %s.", c.ChannelCustomer)
	}
	switch c.Role {
	case RoleDevOps:
		return nil
	case RoleCustomer:
		if access != AccessCustomer {
			return Errorf(EUNAUTHORIZED, "%q is for the DevOps team only; ask them in this channel.", verb)
		}
		if c.Customer == "" || c.ChannelCustomer != c.Customer {
			return Errorf(EUNAUTHORIZED, "You can use mcloud only in your own customer's shared channel.")
		}
		if customer != "" && customer != c.Customer {
			// Same sentence whether or not the other customer exists, so
			// nothing about other customers leaks.
			return Errorf(EUNAUTHORIZED, "From this channel you can only act on %s.", c.Customer)
		}
		return nil
	}
	if c.Home == "" {
		// Nobody configured vouches for this workspace (a third
		// organisation in a Slack Connect channel, say): say so, since
		// the user sees the channel's customer and may wonder why.
		return Errorf(EUNAUTHORIZED, "Your Slack workspace %s is neither the DevOps team's nor a customer's that mcloud knows, so you can only ask for help.", orUnknown(c.TeamID))
	}
	return Errorf(EUNAUTHORIZED, "You are not on the DevOps team and this channel is not bound to your customer, so you can only ask for help.")
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
