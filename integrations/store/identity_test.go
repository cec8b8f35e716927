package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// TestWithdrawNeedsTheRequestersIdentity is the attack of issue 8, defect
// 7: U0BOB of another workspace, taken for customer-x's user in its shared
// channel, withdrew the real bob's request, which the store decided on the
// user id alone. The identity rule (mcloud.SameUser) decides it now, in
// the transaction, for withdrawing as for approving.
func TestWithdrawNeedsTheRequestersIdentity(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := &counter{}
		r := newRequest(db, 1, bob)
		if _, err := db.Submit(ctx, r, q.enqueue); err != nil {
			t.Fatal(err)
		}
		// The impostor as Resolve made them before the fix: a customer
		// user of the channel, with bob's id and name; no configured
		// workspace vouches for T0EVIL.
		impostor := mcloud.Caller{UserID: "U0BOB", TeamID: "T0EVIL", Name: "bob (T0EVIL)", ChannelID: "C0CUSTX",
			Role: mcloud.RoleCustomer, Customer: "customer-x", ChannelKind: mcloud.ChannelCustomer, ChannelCustomer: "customer-x"}
		_, err := db.Deny(ctx, r.ID, impostor, "")
		if mcloud.ErrorCode(err) != mcloud.EUNAUTHORIZED || !strings.Contains(err.Error(), "Only an approver or the requester") {
			t.Fatalf("impostor's withdrawal: %v; want EUNAUTHORIZED", err)
		}
		if got, _ := db.Request(ctx, r.ID); got.Status != mcloud.RequestPending || got.DeniedBy != "" {
			t.Fatalf("request is %s, denied by %q; want it still pending", got.Status, got.DeniedBy)
		}
		// bob himself, whose payload names another team (a command in a
		// Connect channel hosted elsewhere), is still bob.
		bobElsewhere := bob
		bobElsewhere.TeamID, bobElsewhere.Approver, bobElsewhere.Role = "T0CUSTX", false, mcloud.RoleDevOps
		got, err := db.Deny(ctx, r.ID, bobElsewhere, "not needed")
		if err != nil || got.Status != mcloud.RequestDenied || got.DeniedBy != "bob" {
			t.Fatalf("bob's withdrawal: %+v, %v", got, err)
		}
	})
}
