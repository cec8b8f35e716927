package commands

import (
	"testing"
	"time"

	"github.com/mcloud/mcloud/config"
)

func TestSelectRetention(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	pol := config.RetentionPolicy{Primary: 30 * day, DR: 90 * day, KeepNewest: 2, CapPercent: 50, CapCount: 3}
	snap := func(id, src string, ageDays int, dr bool) retentionSnap {
		return retentionSnap{ID: id, Source: src, Region: map[bool]string{false: "eu-west-1", true: "eu-central-1"}[dr], DR: dr, At: now.Add(-time.Duration(ageDays) * day), Tagged: true}
	}
	untagged := snap("s-untagged", "vol-1", 400, false)
	untagged.Tagged = false
	ami := snap("s-ami", "vol-1", 300, false)
	ami.AMI = "ami-123"
	copying := snap("s-copying", "vol-1", 300, false)
	copying.InUse = "a copy to the DR region in progress"
	for _, tt := range []struct {
		name      string
		snaps     []retentionSnap
		deleted   []string
		wantCap   int
		wantWhyOf map[string]string
	}{
		{"age: older than 30 days primary deleted, younger kept",
			[]retentionSnap{snap("a", "vol-1", 1, false), snap("b", "vol-1", 2, false), snap("c", "vol-1", 29, false), snap("d", "vol-1", 31, false)},
			[]string{"d"}, 2, map[string]string{"c": "kept: 29d old, within the primary 30d policy"}},
		{"newest N kept whatever their age",
			[]retentionSnap{snap("a", "vol-1", 100, false), snap("b", "vol-1", 200, false), snap("c", "vol-1", 300, false)},
			[]string{"c"}, 1, map[string]string{"a": "kept: one of the newest 2 of vol-1 in eu-west-1"}},
		{"newest N counted per volume and region",
			[]retentionSnap{snap("a", "vol-1", 100, false), snap("b", "vol-2", 100, false), snap("c", "vol-1", 100, true)},
			nil, 1, nil},
		{"untagged never deleted",
			[]retentionSnap{snap("a", "vol-1", 1, false), snap("b", "vol-1", 2, false), untagged},
			nil, 1, map[string]string{"s-untagged": "kept: not made by mcloud (no mcloud:customer tag)"}},
		{"used by an AMI never deleted",
			[]retentionSnap{snap("a", "vol-1", 1, false), snap("b", "vol-1", 2, false), ami},
			nil, 1, map[string]string{"s-ami": "kept: used by AMI ami-123"}},
		{"in use never deleted",
			[]retentionSnap{snap("a", "vol-1", 1, false), snap("b", "vol-1", 2, false), copying},
			nil, 1, map[string]string{"s-copying": "kept: in use by a copy to the DR region in progress"}},
		{"DR keeps 90 days",
			[]retentionSnap{snap("a", "vol-1", 1, true), snap("b", "vol-1", 2, true), snap("c", "vol-1", 60, true), snap("d", "vol-1", 91, true)},
			[]string{"d"}, 2, map[string]string{"c": "kept: 60d old, within the DR 90d policy"}},
		{"cap: the smaller of percent and count",
			[]retentionSnap{snap("a", "vol-1", 1, false), snap("b", "vol-1", 2, false), snap("c", "vol-1", 40, false), snap("d", "vol-1", 41, false),
				snap("e", "vol-1", 42, false), snap("f", "vol-1", 43, false), snap("g", "vol-1", 44, false), snap("h", "vol-1", 45, false)},
			[]string{"c", "d", "e", "f", "g", "h"}, 3, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, n, capN := selectRetention(tt.snaps, pol, now)
			var got []string
			for _, v := range out {
				if v.Delete {
					got = append(got, v.ID)
				}
				if want, ok := tt.wantWhyOf[v.ID]; ok && v.Why != want {
					t.Errorf("%s: why %q, want %q", v.ID, v.Why, want)
				}
			}
			if len(got) != len(tt.deleted) || n != len(got) {
				t.Fatalf("deleted %v (n=%d), want %v", got, n, tt.deleted)
			}
			for i := range got {
				if got[i] != tt.deleted[i] {
					t.Fatalf("deleted %v, want %v", got, tt.deleted)
				}
			}
			if capN != tt.wantCap {
				t.Errorf("cap %d, want %d", capN, tt.wantCap)
			}
		})
	}
}
