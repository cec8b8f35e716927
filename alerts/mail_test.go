package alerts

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// Which mails stand in for a problem's Slack messages: critical only, to
// the audience of each channel it goes to, never another customer's.
func TestMails(t *testing.T) {
	cfg := testConfig(2)
	r := NewRoutes(cfg)
	crit, warn := mcloud.SeverityCritical, mcloud.SeverityWarning
	audiences := func(ms []store.AlertMail) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Audience+"@"+m.ChannelID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		d    Destination
		p    mcloud.Problem
		want []string
	}{
		{"critical to the customer and the team", Destination{"cust0", []string{"CCUST0", "CTEAM"}}, mcloud.Problem{Customer: "cust0", Severity: crit}, []string{"cust0@CCUST0", "@CTEAM"}},
		{"critical to the team only", Destination{"cust1", []string{"CTEAM"}}, mcloud.Problem{Customer: "cust1", Severity: crit}, []string{"@CTEAM"}},
		{"a resolution of a critical problem", Destination{"cust1", []string{"CCUST1", "CTEAM"}}, mcloud.Problem{Customer: "cust1", Severity: crit, Status: mcloud.AlertResolved}, []string{"cust1@CCUST1", "@CTEAM"}},
		{"unmatched: the team only", Destination{"", []string{"CTEAM"}}, mcloud.Problem{Severity: crit}, []string{"@CTEAM"}},
		{"a warning: no mail", Destination{"cust0", []string{"CCUST0", "CTEAM"}}, mcloud.Problem{Customer: "cust0", Severity: warn}, nil},
		{"no severity yet: no mail", Destination{"cust0", []string{"CCUST0"}}, mcloud.Problem{Customer: "cust0"}, nil},
		{"another customer's channel is nobody's audience", Destination{"cust0", []string{"CCUST1"}}, mcloud.Problem{Customer: "cust0", Severity: crit}, nil},
	} {
		if got := audiences(Mails(r, tc.d, tc.p)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	m := Mails(r, Destination{"cust0", []string{"CCUST0"}}, mcloud.Problem{ID: 7, Customer: "cust0", Severity: crit, Name: "DiskFull", Host: "app0", Summary: "/var is 97% full", Status: mcloud.AlertFiring, Count: 1, Source: "alertmanager"})[0]
	if m.Subject != "[mcloud] CRITICAL: DiskFull on app0 (cust0)" || !strings.Contains(m.Body, "[CRITICAL] alert #7: DiskFull on app0 (cust0)\n/var is 97% full") {
		t.Errorf("mail: %q\n%s", m.Subject, m.Body)
	}
}
