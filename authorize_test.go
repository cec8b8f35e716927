package mcloud_test

import (
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
)

func TestAuthorize(t *testing.T) {
	devops := mcloud.Caller{UserID: "U1", Role: mcloud.RoleDevOps, ChannelCustomer: "customer-x"}
	carol := mcloud.Caller{UserID: "U3", Role: mcloud.RoleCustomer, Customer: "customer-x", ChannelCustomer: "customer-x"}
	carolElsewhere := carol
	carolElsewhere.ChannelCustomer = "customer-y"
	carolInTeam := carol
	carolInTeam.ChannelCustomer = ""
	stranger := mcloud.Caller{UserID: "U9", Role: mcloud.RoleNone, Home: "T0DEVOPS"}

	for _, tt := range []struct {
		name     string
		caller   mcloud.Caller
		access   mcloud.Access
		customer string
		ok       bool
	}{
		{"devops any customer from a team channel", mcloud.Caller{UserID: "U1", Role: mcloud.RoleDevOps}, mcloud.AccessDevOps, "customer-y", true},
		{"devops other customer in a customer channel", devops, mcloud.AccessDevOps, "customer-y", false},
		{"devops channel's own customer", devops, mcloud.AccessDevOps, "customer-x", true},
		{"devops customer verb", devops, mcloud.AccessCustomer, "customer-x", true},
		{"anyone help", stranger, mcloud.AccessAnyone, "", true},
		{"stranger status", stranger, mcloud.AccessCustomer, "customer-x", false},
		{"customer own customer", carol, mcloud.AccessCustomer, "customer-x", true},
		{"customer no customer arg", carol, mcloud.AccessCustomer, "", true},
		{"customer other customer", carol, mcloud.AccessCustomer, "customer-y", false},
		{"customer unknown customer", carol, mcloud.AccessCustomer, "customer-z", false},
		{"customer devops verb", carol, mcloud.AccessDevOps, "customer-x", false},
		{"customer in other channel", carolElsewhere, mcloud.AccessCustomer, "customer-x", false},
		{"customer in team channel", carolInTeam, mcloud.AccessCustomer, "customer-x", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := mcloud.Authorize(tt.caller, "verb", tt.access, tt.customer)
			if got := err == nil; got != tt.ok {
				t.Fatalf("Authorize ok = %v, want %v (err %v)", got, tt.ok, err)
			}
			if err != nil && err.Code != mcloud.EUNAUTHORIZED {
				t.Fatalf("code = %q, want %q", err.Code, mcloud.EUNAUTHORIZED)
			}
		})
	}
}

func TestAuthorizeDoesNotLeakOtherCustomers(t *testing.T) {
	carol := mcloud.Caller{UserID: "U3", Role: mcloud.RoleCustomer, Customer: "customer-x", ChannelCustomer: "customer-x"}
	a := mcloud.Authorize(carol, "status", mcloud.AccessCustomer, "customer-y")
	b := mcloud.Authorize(carol, "status", mcloud.AccessCustomer, "no-such-customer")
	if a == nil || b == nil || a.Message != b.Message {
		t.Fatalf("an existing and a missing customer must get the same refusal: %v / %v", a, b)
	}
}

// TestAuthorizeThirdWorkspace: a user no configured workspace vouches for
// gets help only, and the refusal says why.
func TestAuthorizeThirdWorkspace(t *testing.T) {
	evil := mcloud.Caller{UserID: "U0EVE", TeamID: "T0EVIL", ChannelKind: mcloud.ChannelCustomer, ChannelCustomer: "customer-x"}
	if err := mcloud.Authorize(evil, "help", mcloud.AccessAnyone, ""); err != nil {
		t.Fatalf("help refused: %v", err)
	}
	err := mcloud.Authorize(evil, "status", mcloud.AccessCustomer, "customer-x")
	if err == nil || !strings.Contains(err.Message, "Your Slack workspace T0EVIL is neither the DevOps team's nor a customer's") {
		t.Fatalf("refusal = %v; want it to name the workspace and why", err)
	}
}
