package commands

import (
	"testing"

	"github.com/mcloud/mcloud"
)

func TestVisibleIn(t *testing.T) {
	team := mcloud.Caller{Role: mcloud.RoleDevOps, ChannelID: "CTEAM"}
	devopsInX := mcloud.Caller{Role: mcloud.RoleDevOps, ChannelID: "CX", ChannelCustomer: "x"}
	carol := mcloud.Caller{Role: mcloud.RoleCustomer, Customer: "x", ChannelID: "CX", ChannelCustomer: "x"}
	nobody := mcloud.Caller{Role: mcloud.RoleNone, ChannelID: "CDM"}
	for _, tt := range []struct {
		name              string
		who               mcloud.Caller
		customer, askedIn string
		want              bool
	}{
		{"team channel sees work asked in a customer channel", team, "x", "CX", true},
		{"team channel sees its own work", team, "x", "CTEAM", true},
		{"customer sees work asked in her channel", carol, "x", "CX", true},
		{"customer does not see DevOps' work asked in the team channel", carol, "x", "CTEAM", false},
		{"customer does not see another customer's work", carol, "y", "CY", false},
		{"DevOps in a customer channel see what the customer sees", devopsInX, "x", "CTEAM", false},
		{"DevOps in a customer channel see work asked there", devopsInX, "x", "CX", true},
		{"someone else sees nothing", nobody, "x", "CX", false},
	} {
		if got := visibleIn(tt.who, tt.customer, tt.askedIn); got != tt.want {
			t.Errorf("%s: visibleIn = %v, want %v", tt.name, got, tt.want)
		}
	}
}
