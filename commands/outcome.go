package commands

import "github.com/mcloud/mcloud"

// Outcomes of a command, as metrics count them (mcloud_requests_total).
const (
	OutcomeAnswered        = "answered"         // a read, or help
	OutcomePlanned         = "planned"          // --dry-run: the plan, nothing filed
	OutcomeWaitingApproval = "waiting_approval" // filed; approvers are asked
	OutcomeQueued          = "queued"           // filed and its job queued (no approval needed)
	OutcomeApproved        = "approved"         // an approval that started the job
	OutcomeApprovalCounted = "approval_counted" // an approval that waits for more
	OutcomeDenied          = "denied"           // denied or withdrawn
	OutcomeRefused         = "refused"          // the caller may not do this here
	OutcomeInvalid         = "invalid"          // bad input, answered with the usage
	OutcomeNotFound        = "not_found"
	OutcomeConflict        = "conflict"
	OutcomeError           = "error" // ours: an internal error
)

// Outcome names what became of one command from its verb and its reply.
// It is a pure function of what the user was shown, so the count always
// agrees with what people saw.
func Outcome(verb string, r Reply) string {
	if r.Error != "" {
		switch r.Code {
		case mcloud.EUNAUTHORIZED:
			return OutcomeRefused
		case mcloud.EINVALID:
			return OutcomeInvalid
		case mcloud.ENOTFOUND:
			return OutcomeNotFound
		case mcloud.ECONFLICT:
			return OutcomeConflict
		case "":
			if r.Usage != "" {
				return OutcomeInvalid // refused before any verb ran: unknown verb, bad quoting
			}
		}
		return OutcomeError
	}
	switch {
	case r.DryRun:
		return OutcomePlanned
	case verb == "approve" && r.Job != nil:
		return OutcomeApproved
	case verb == "approve" && r.Request != nil:
		return OutcomeApprovalCounted
	case verb == "deny":
		return OutcomeDenied
	case r.Request != nil && r.Job == nil:
		return OutcomeWaitingApproval
	case r.Request != nil:
		return OutcomeQueued
	}
	return OutcomeAnswered
}
