package mcloud_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
)

func TestClassifyChannel(t *testing.T) {
	team := []string{"C0DEVOPS", "C0OPS2"}
	customers := map[string]string{"C0CUSTX": "customer-x", "C0CUSTY": "customer-y"}
	for _, tt := range []struct {
		channel  string
		kind     mcloud.ChannelKind
		customer string
	}{
		{"C0DEVOPS", mcloud.ChannelTeam, ""},
		{"C0OPS2", mcloud.ChannelTeam, ""},
		{"C0CUSTX", mcloud.ChannelCustomer, "customer-x"},
		{"C0CUSTY", mcloud.ChannelCustomer, "customer-y"},
		{"C0GENERAL", mcloud.ChannelOther, ""}, // an unlisted channel
		{"G0GROUPDM", mcloud.ChannelOther, ""}, // a group DM
		{"D0ALICE", mcloud.ChannelOther, ""},   // a DM
		{"", mcloud.ChannelOther, ""},
	} {
		kind, cu := mcloud.ClassifyChannel(tt.channel, team, customers)
		if kind != tt.kind || cu != tt.customer {
			t.Errorf("ClassifyChannel(%q) = %v, %q; want %v, %q", tt.channel, kind, cu, tt.kind, tt.customer)
		}
	}
}

func TestPublicAndMayRequest(t *testing.T) {
	for _, tt := range []struct {
		kind    mcloud.ChannelKind
		private bool
		public  bool
		request bool
	}{
		{mcloud.ChannelTeam, false, true, true},
		{mcloud.ChannelTeam, true, false, true},
		{mcloud.ChannelCustomer, false, true, true},
		{mcloud.ChannelCustomer, true, false, true},
		{mcloud.ChannelOther, false, false, false},
		{mcloud.ChannelOther, true, false, false},
	} {
		c := mcloud.Caller{UserID: "U0ALICE", Role: mcloud.RoleDevOps, ChannelKind: tt.kind}
		if got := mcloud.Public(c, tt.private); got != tt.public {
			t.Errorf("Public(%v, private=%v) = %v, want %v", tt.kind, tt.private, got, tt.public)
		}
		err := mcloud.MayRequest(c, "restore-logs", "customer-x")
		if got := err == nil; got != tt.request {
			t.Errorf("MayRequest in %v: ok = %v, want %v (%v)", tt.kind, got, tt.request, err)
		}
		if err != nil && (err.Code != mcloud.EUNAUTHORIZED || !strings.Contains(err.Message, "team channel or in customer-x's channel")) {
			t.Errorf("MayRequest refusal = %+v; want EUNAUTHORIZED pointing to the team or customer channel", err)
		}
	}
}

func TestWorkspaceVouches(t *testing.T) {
	team := mcloud.Workspace{TeamID: "T0DEVOPS"}
	grid := mcloud.Workspace{TeamID: "T0DEVOPS", EnterpriseID: "E0GRID"}
	for _, tt := range []struct {
		name             string
		w                mcloud.Workspace
		team, enterprise string
		want             bool
	}{
		{"own team", team, "T0DEVOPS", "", true},
		{"another team", team, "T0EVIL", "", false},
		{"another team claiming no grid", team, "T0EVIL", "E0GRID", false},
		{"grid: another workspace of the org", grid, "T0OTHERWS", "E0GRID", true},
		{"grid: another org", grid, "T0OTHERWS", "E0EVIL", false},
		{"empty payload", grid, "", "", false},
		{"unconfigured workspace vouches for nobody", mcloud.Workspace{}, "", "", false},
	} {
		if got := tt.w.Vouches(tt.team, tt.enterprise); got != tt.want {
			t.Errorf("%s: Vouches(%q, %q) = %v, want %v", tt.name, tt.team, tt.enterprise, got, tt.want)
		}
	}
}

// TestSameUser is the identity rule over workspaces: the user id counts
// only together with the configured workspace that vouches for it.
func TestSameUser(t *testing.T) {
	bob := mcloud.Caller{UserID: "U0BOB", TeamID: "T0DEVOPS", Home: "T0DEVOPS"}
	bobViaConnectHost := mcloud.Caller{UserID: "U0BOB", TeamID: "T0CUSTX", Home: "T0DEVOPS"}
	bobViaGrid := mcloud.Caller{UserID: "U0BOB", TeamID: "T0OTHERWS", EnterpriseID: "E0GRID", Home: "T0DEVOPS"}
	evilBob := mcloud.Caller{UserID: "U0BOB", TeamID: "T0EVIL"} // nobody vouches: no Home
	custBob := mcloud.Caller{UserID: "U0BOB", TeamID: "T0CUSTX", Home: "T0CUSTX"}
	alice := mcloud.Caller{UserID: "U0ALICE", TeamID: "T0DEVOPS", Home: "T0DEVOPS"}
	for _, tt := range []struct {
		name string
		a, b mcloud.Caller
		want bool
	}{
		{"same user, same workspace", bob, bob, true},
		{"same user, payload team differs, same vouching workspace", bob, bobViaConnectHost, true},
		{"same user through the Enterprise Grid", bob, bobViaGrid, true},
		{"same id from an unconfigured workspace", bob, evilBob, false},
		{"same id from the customer's workspace", bob, custBob, false},
		{"two unvouched users with one id", evilBob, evilBob, false},
		{"different users, one workspace", bob, alice, false},
		{"empty", mcloud.Caller{}, mcloud.Caller{}, false},
	} {
		if got := mcloud.SameUser(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: SameUser = %v, want %v", tt.name, got, tt.want)
		}
		if got := mcloud.SameUser(tt.b, tt.a); got != tt.want {
			t.Errorf("%s (swapped): SameUser = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestWithdrawIdentity: only the requester, as the identity rule says,
// withdraws; U0BOB from another workspace did withdraw the real bob's
// request before (issue 8, defect 7).
func TestWithdrawIdentity(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	bob := mcloud.Caller{UserID: "U0BOB", TeamID: "T0DEVOPS", Home: "T0DEVOPS", Role: mcloud.RoleDevOps}
	req := mcloud.Request{ID: 3, Requester: bob, Needed: 1, Status: mcloud.RequestPending, ExpiresAt: now.Add(time.Hour)}
	for _, tt := range []struct {
		name   string
		denier mcloud.Caller
		ok     bool
	}{
		{"bob himself", bob, true},
		{"bob through a Connect channel's host team", mcloud.Caller{UserID: "U0BOB", TeamID: "T0CUSTX", Home: "T0DEVOPS", Role: mcloud.RoleDevOps}, true},
		{"U0BOB of another workspace", mcloud.Caller{UserID: "U0BOB", TeamID: "T0EVIL", Name: "bob (T0EVIL)"}, false},
		{"U0BOB of the customer's workspace", mcloud.Caller{UserID: "U0BOB", TeamID: "T0CUSTX", Home: "T0CUSTX", Role: mcloud.RoleCustomer}, false},
	} {
		err := mcloud.DecideDenial(req, tt.denier, now)
		if got := err == nil; got != tt.ok {
			t.Errorf("%s: may withdraw = %v, want %v (%v)", tt.name, got, tt.ok, err)
		}
	}
}
