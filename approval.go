package mcloud

import "time"

// ApprovalOutcome is what an approve click or command does to a request.
type ApprovalOutcome int

const (
	ApprovalRefused  ApprovalOutcome = iota // nothing changes; Reason says why
	ApprovalRepeated                        // this approver already approved: nothing changes, no error
	ApprovalCounted                         // counted, more approvals needed
	ApprovalComplete                        // counted, enough: the job runs
)

// DecideApproval decides what approver's approval of r at now does. It is
// pure so the store can call it inside the transaction that records the
// result, and so the rules are table-tested in one place.
func DecideApproval(r Request, approver Caller, now time.Time) (ApprovalOutcome, *Error) {
	if approver.Role != RoleDevOps || !approver.Approver {
		return ApprovalRefused, Errorf(EUNAUTHORIZED, "Only an approver can approve requests, and you are not one.")
	}
	// Who made the request is decided by the identity rule (SameUser), as
	// for withdrawing. A request stored before callers carried Home cannot
	// prove whose it is, so its user id's owner is refused to be safe.
	if SameUser(approver, r.Requester) || (r.Requester.Home == "" && approver.UserID == r.Requester.UserID) {
		return ApprovalRefused, Errorf(EUNAUTHORIZED, "You cannot approve request #%d because you made it; another approver must.", r.ID)
	}
	switch r.Status {
	case RequestApproved:
		if r.HasApproved(approver.UserID) {
			return ApprovalRepeated, nil
		}
		return ApprovalRefused, Errorf(ECONFLICT, "Request #%d is already approved and running as job #%d.", r.ID, r.JobID)
	case RequestDenied:
		return ApprovalRefused, Errorf(ECONFLICT, "Request #%d was denied by %s and will not run.", r.ID, r.DeniedBy)
	case RequestExpired:
		return ApprovalRefused, Errorf(ECONFLICT, "Request #%d expired at %s and will not run; ask again.", r.ID, FormatTime(r.ExpiresAt))
	}
	if !now.Before(r.ExpiresAt) {
		return ApprovalRefused, Errorf(ECONFLICT, "Request #%d expired at %s and will not run; ask again.", r.ID, FormatTime(r.ExpiresAt))
	}
	if r.HasApproved(approver.UserID) {
		return ApprovalRepeated, nil
	}
	if len(r.Approvals)+1 >= r.Needed {
		return ApprovalComplete, nil
	}
	return ApprovalCounted, nil
}

// DecideDenial decides whether denier may deny r at now.
func DecideDenial(r Request, denier Caller, now time.Time) *Error {
	if denier.Role != RoleDevOps || !denier.Approver {
		// The requester may withdraw their own pending request: the same
		// user id from another workspace is someone else (SameUser).
		if !SameUser(denier, r.Requester) {
			return Errorf(EUNAUTHORIZED, "Only an approver or the requester can deny request #%d.", r.ID)
		}
	}
	switch r.Status {
	case RequestApproved:
		return Errorf(ECONFLICT, "Request #%d is already approved and running as job #%d; use cancel %d instead.", r.ID, r.JobID, r.JobID)
	case RequestDenied:
		return Errorf(ECONFLICT, "Request #%d was already denied by %s.", r.ID, r.DeniedBy)
	case RequestExpired:
		return Errorf(ECONFLICT, "Request #%d already expired.", r.ID)
	}
	if !now.Before(r.ExpiresAt) {
		return Errorf(ECONFLICT, "Request #%d already expired.", r.ID)
	}
	return nil
}

// Withdrawn reports whether r was denied by the one who asked for it. It
// decides by identity (SameUser), never by display name: two people may
// share a name (the customer's carol and the team's carol), and a name is
// whatever a workspace says it is. A request denied before the denier's
// identity was kept cannot prove it was withdrawn, so it shows as denied.
func Withdrawn(r Request) bool {
	return r.Status == RequestDenied && SameUser(r.Denier, r.Requester)
}
