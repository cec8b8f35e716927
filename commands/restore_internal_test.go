package commands

import (
	"testing"
	"time"

	"github.com/mcloud/mcloud"
)

// Who may restore which month: customer users their self-service window,
// DevOps any month up to this one, nobody the future.
func TestDecideMonth(t *testing.T) {
	now := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		month     string
		retention int
		role      mcloud.Role
		outside   bool
		refused   string
	}{
		{"2026-12", 3, mcloud.RoleCustomer, false, ""},
		{"2026-09", 3, mcloud.RoleCustomer, false, ""},
		{"2026-08", 3, mcloud.RoleCustomer, false, "2026-08 is outside customer-x's retention window: you can restore 2026-09 to 2026-12 (this month and the 3 before it)."},
		{"2024-03", 3, mcloud.RoleCustomer, false, "2024-03 is outside customer-x's retention window: you can restore 2026-09 to 2026-12 (this month and the 3 before it)."},
		{"2024-03", 36, mcloud.RoleCustomer, false, ""},
		{"2027-01", 3, mcloud.RoleCustomer, false, "2027-01 is in the future; the newest month with archives is 2026-12."},
		{"2026-12", 3, mcloud.RoleDevOps, false, ""},
		{"2026-09", 3, mcloud.RoleDevOps, false, ""},
		{"2026-08", 3, mcloud.RoleDevOps, true, ""},
		{"2024-03", 3, mcloud.RoleDevOps, true, ""},
		{"1999-01", 3, mcloud.RoleDevOps, true, ""},
		{"2027-01", 3, mcloud.RoleDevOps, false, "2027-01 is in the future; the newest month with archives is 2026-12."},
		{"2024-03", 3, mcloud.RoleNone, false, "2024-03 is outside customer-x's retention window: you can restore 2026-09 to 2026-12 (this month and the 3 before it)."},
	} {
		month, perr := parseMonth(tt.month, now)
		if perr != nil {
			t.Fatal(perr)
		}
		acc, err := decideMonth(month, now, tt.retention, tt.role, "customer-x")
		got := ""
		if err != nil {
			got = err.Message
		}
		if got != tt.refused || acc.outsideWindow != tt.outside {
			t.Errorf("%s, retention %d, %s: outside %v, refused %q; want %v, %q", tt.month, tt.retention, tt.role, acc.outsideWindow, got, tt.outside, tt.refused)
		}
	}
}
