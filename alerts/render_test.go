package alerts

import (
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
)

// An alert message counts in the words and the number format every other
// message uses (mcloud.Count): "1 alert", "1,234 alerts".
func TestRenderCounts(t *testing.T) {
	at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	p := mcloud.Problem{ID: 7, Name: "DiskFull", Source: "alertmanager", Status: mcloud.AlertFiring, FirstAt: at, LastAt: at}
	for _, tc := range []struct {
		n    int
		want string
	}{{1, "firing since 2026-12-02 05:00 UTC, 1 alert from alertmanager"}, {1234, ", 1,234 alerts from"}} {
		p.Count = tc.n
		if got := (Text{}).Problem(p); !strings.Contains(got, tc.want) {
			t.Errorf("count %d: %q does not say %q", tc.n, got, tc.want)
		}
	}
	ps := []mcloud.Problem{p, p}
	if got := (Text{}).Summary(at, ps); !strings.Contains(got, ": 2,468 alerts in 2 problems (2 open)") {
		t.Errorf("summary %q", got)
	}
}
