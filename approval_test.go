package mcloud_test

import (
	"testing"
	"time"

	"github.com/mcloud/mcloud"
)

func TestDecideApproval(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	carol := mcloud.Caller{UserID: "UCAROL", TeamID: "TX", Home: "TX", Role: mcloud.RoleCustomer, Customer: "customer-x"}
	alice := mcloud.Caller{UserID: "UALICE", TeamID: "T", Home: "T", Role: mcloud.RoleDevOps}
	bob := mcloud.Caller{UserID: "UBOB", TeamID: "T", Home: "T", Role: mcloud.RoleDevOps, Approver: true}
	erin := mcloud.Caller{UserID: "UERIN", TeamID: "T", Home: "T", Role: mcloud.RoleDevOps, Approver: true}
	pending := func(needed int, by mcloud.Caller, approvals ...mcloud.Approval) mcloud.Request {
		return mcloud.Request{ID: 7, Requester: by, Needed: needed, Status: mcloud.RequestPending,
			Approvals: approvals, ExpiresAt: now.Add(time.Hour)}
	}
	byBob := mcloud.Approval{UserID: "UBOB"}
	expired := pending(1, carol)
	expired.ExpiresAt = now
	denied := pending(1, carol)
	denied.Status = mcloud.RequestDenied
	approved := pending(1, carol, byBob)
	approved.Status = mcloud.RequestApproved

	for _, tt := range []struct {
		name     string
		req      mcloud.Request
		approver mcloud.Caller
		want     mcloud.ApprovalOutcome
		code     string
	}{
		{"approver completes one", pending(1, carol), bob, mcloud.ApprovalComplete, ""},
		{"requester cannot approve", pending(1, bob), bob, mcloud.ApprovalRefused, mcloud.EUNAUTHORIZED},
		{"non-approver devops", pending(1, carol), alice, mcloud.ApprovalRefused, mcloud.EUNAUTHORIZED},
		{"customer cannot approve", pending(1, alice), carol, mcloud.ApprovalRefused, mcloud.EUNAUTHORIZED},
		{"first of two counted", pending(2, carol), bob, mcloud.ApprovalCounted, ""},
		{"second of two completes", pending(2, carol, byBob), erin, mcloud.ApprovalComplete, ""},
		{"same approver twice of two", pending(2, carol, byBob), bob, mcloud.ApprovalRepeated, ""},
		{"repeat after complete", approved, bob, mcloud.ApprovalRepeated, ""},
		{"other approver after complete", approved, erin, mcloud.ApprovalRefused, mcloud.ECONFLICT},
		{"expired by clock", expired, bob, mcloud.ApprovalRefused, mcloud.ECONFLICT},
		{"denied", denied, bob, mcloud.ApprovalRefused, mcloud.ECONFLICT},
		// The same user arriving with another workspace's id (a click vs a
		// command in a Connect channel) is still the requester: the
		// configured workspace vouching for them (Home) is the same.
		{"requester under another payload team id",
			pending(1, mcloud.Caller{UserID: "UBOB", TeamID: "TX", Home: "T"}), bob, mcloud.ApprovalRefused, mcloud.EUNAUTHORIZED},
		{"request stored before Home, same user id",
			pending(1, mcloud.Caller{UserID: "UBOB", TeamID: "T"}), bob, mcloud.ApprovalRefused, mcloud.EUNAUTHORIZED},
		{"same user id, customer's workspace: another person",
			pending(1, mcloud.Caller{UserID: "UBOB", TeamID: "TX", Home: "TX", Role: mcloud.RoleCustomer}), bob, mcloud.ApprovalComplete, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mcloud.DecideApproval(tt.req, tt.approver, now)
			if got != tt.want {
				t.Fatalf("outcome = %v, want %v (err %v)", got, tt.want, err)
			}
			if code := mcloud.ErrorCode(errOrNil(err)); code != tt.code {
				t.Fatalf("code = %q, want %q", code, tt.code)
			}
		})
	}
}

func TestDecideDenial(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	carol := mcloud.Caller{UserID: "UCAROL", TeamID: "TX", Home: "TX", Role: mcloud.RoleCustomer}
	alice := mcloud.Caller{UserID: "UALICE", TeamID: "T", Home: "T", Role: mcloud.RoleDevOps}
	bob := mcloud.Caller{UserID: "UBOB", TeamID: "T", Home: "T", Role: mcloud.RoleDevOps, Approver: true}
	req := mcloud.Request{ID: 1, Requester: carol, Needed: 1, Status: mcloud.RequestPending, ExpiresAt: now.Add(time.Hour)}
	if err := mcloud.DecideDenial(req, bob, now); err != nil {
		t.Fatalf("approver deny: %v", err)
	}
	if err := mcloud.DecideDenial(req, carol, now); err != nil {
		t.Fatalf("requester withdraws: %v", err)
	}
	if err := mcloud.DecideDenial(req, alice, now); err == nil {
		t.Fatal("a non-approver who did not ask must not deny")
	}
	req.Status = mcloud.RequestApproved
	if err := mcloud.DecideDenial(req, bob, now); err == nil || err.Code != mcloud.ECONFLICT {
		t.Fatalf("deny after approval = %v, want conflict", err)
	}
}

// errOrNil keeps a nil *Error from becoming a non-nil error interface.
func errOrNil(e *mcloud.Error) error {
	if e == nil {
		return nil
	}
	return e
}

// TestWithdrawn: a denial is a withdrawal when the denier is the
// requester by identity. The rule it replaces compared display names, and
// called the team's carol denying the customer's carol's request a
// withdrawal.
func TestWithdrawn(t *testing.T) {
	carol := mcloud.Caller{UserID: "UCAROL", TeamID: "TX", Home: "TX", Name: "carol", Role: mcloud.RoleCustomer}
	teamCarol := mcloud.Caller{UserID: "UCAROL2", TeamID: "T", Home: "T", Name: "carol", Role: mcloud.RoleDevOps, Approver: true}
	bob := mcloud.Caller{UserID: "UBOB", TeamID: "T", Home: "T", Name: "bob", Role: mcloud.RoleDevOps, Approver: true}
	// The same user id from a workspace nobody configured is someone else.
	strangerCarol := mcloud.Caller{UserID: "UCAROL", TeamID: "TEVIL", Name: "carol"}
	carolRenamed := carol
	carolRenamed.Name = "Carol Smith"
	legacy := carol
	legacy.Home = ""
	for _, tt := range []struct {
		name      string
		requester mcloud.Caller
		status    mcloud.RequestStatus
		denier    mcloud.Caller
		want      bool
	}{
		{"the requester denies their own request", carol, mcloud.RequestDenied, carol, true},
		{"the requester, shown by another name since", carol, mcloud.RequestDenied, carolRenamed, true},
		{"an approver denies it", carol, mcloud.RequestDenied, bob, false},
		{"another user with the requester's name denies it", carol, mcloud.RequestDenied, teamCarol, false},
		{"the requester's user id from an unconfigured workspace", carol, mcloud.RequestDenied, strangerCarol, false},
		{"denied before the denier was kept", carol, mcloud.RequestDenied, mcloud.Caller{}, false},
		{"a requester stored before Home was kept", legacy, mcloud.RequestDenied, legacy, false},
		{"still pending", carol, mcloud.RequestPending, carol, false},
		{"approved", carol, mcloud.RequestApproved, carol, false},
	} {
		r := mcloud.Request{ID: 1, Requester: tt.requester, Status: tt.status, Denier: tt.denier, DeniedBy: tt.denier.Name}
		if got := mcloud.Withdrawn(r); got != tt.want {
			t.Errorf("%s: withdrawn = %v, want %v", tt.name, got, tt.want)
		}
	}
}
