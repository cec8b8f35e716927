package mcloud

import "fmt"

// PolicyDecision is what a schedule may do with work it wants started.
type PolicyDecision int

const (
	// PolicyStart: the reviewed configuration is the standing approval;
	// the job starts without a person.
	PolicyStart PolicyDecision = iota
	// PolicyAsk: the work is filed as a request that waits for DevOps
	// approval in the team channel, like a person's.
	PolicyAsk
	// PolicyRefuse: policy may never ask for this work.
	PolicyRefuse
)

// PolicyWork is what a schedule wants started.
type PolicyWork struct {
	Verb string
	// Deletes is how many things the plan destroys; Cap is the most a
	// run may destroy without a person (retention's cap).
	Deletes, Cap int
}

// PolicyMayStart is the one rule for what policy may start without a
// person: backups and reports, which only add; retention while it deletes
// no more than its cap (beyond the cap it asks DevOps instead); nothing
// else (patch, restores, exports, remote commands, failover), which a
// person must ask for. The sentence says why, for the team channel.
func PolicyMayStart(w PolicyWork) (PolicyDecision, string) {
	switch w.Verb {
	case "backup", "report":
		return PolicyStart, ""
	case "retention":
		if w.Deletes <= w.Cap {
			return PolicyStart, ""
		}
		return PolicyAsk, fmt.Sprintf("The run would delete %d snapshots, more than its cap of %d, so it deleted nothing and waits for a DevOps approval.", w.Deletes, w.Cap)
	}
	return PolicyRefuse, fmt.Sprintf("A schedule may start only backups, reports and retention; %q must be asked for by a person.", w.Verb)
}
