package commands

import (
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud/integrations/aws"
)

func TestRetentionWindow(t *testing.T) {
	now := time.Date(2024, 7, 31, 23, 59, 0, 0, time.UTC)
	for _, tt := range []struct {
		month     string
		retention int
		ok        bool
	}{
		{"2024-07", 3, true}, {"2024-04", 3, true}, {"2024-03", 3, false}, {"2024-08", 3, false},
		{"2023-08", 12, true}, {"2023-07", 12, true}, {"2023-06", 12, false},
		{"2024-07", 1, true}, {"2024-06", 1, true}, {"2024-05", 1, false},
	} {
		m, err := parseMonth(tt.month, now)
		if err != nil {
			t.Fatal(err)
		}
		if got := checkRetention(m, now, tt.retention, "c") == nil; got != tt.ok {
			t.Errorf("%s with retention %d: allowed %v, want %v", tt.month, tt.retention, got, tt.ok)
		}
	}
	// Across a year boundary, and the relative words.
	jan := time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)
	for w, want := range map[string]string{"this-month": "2025-01", "last-month": "2024-12", "2024-10": "2024-10"} {
		m, err := parseMonth(w, jan)
		if err != nil || m.Format("2006-01") != want {
			t.Errorf("%s in January 2025 = %v, %v; want %s", w, m, err, want)
		}
	}
	if m, _ := parseMonth("2024-10", jan); checkRetention(m, jan, 3, "c") != nil {
		t.Error("2024-10 is within 3 months of 2025-01")
	}
	if m, _ := parseMonth("2024-09", jan); checkRetention(m, jan, 3, "c") == nil {
		t.Error("2024-09 is 4 months before 2025-01")
	}
}

func TestExpectedRestoreTimes(t *testing.T) {
	for _, tt := range []struct {
		class string
		tier  aws.Tier
		max   time.Duration
	}{
		{"GLACIER", aws.TierExpedited, 5 * time.Minute},
		{"GLACIER", aws.TierStandard, 5 * time.Hour},
		{"GLACIER", aws.TierBulk, 12 * time.Hour},
		{"DEEP_ARCHIVE", aws.TierStandard, 12 * time.Hour},
		{"DEEP_ARCHIVE", aws.TierBulk, 48 * time.Hour},
	} {
		if got := expectedRestore(tt.class, tt.tier).max; got != tt.max {
			t.Errorf("%s %s: %s, want %s", tt.class, tt.tier, got, tt.max)
		}
	}
	if got := expectation(map[string]int{"GLACIER": 3, "DEEP_ARCHIVE": 1}, aws.TierBulk); got != "GLACIER in 5-12 hours, DEEP_ARCHIVE within 48 hours" {
		t.Errorf("expectation = %q", got)
	}
}

func TestJudgeBackups(t *testing.T) {
	now := time.Date(2024, 7, 15, 12, 0, 0, 0, time.UTC)
	policy := 26 * time.Hour
	for _, tt := range []struct {
		name    string
		fact    backupFact
		problem string
	}{
		{"fresh", backupFact{Newest: now.Add(-3 * time.Hour)}, ""},
		{"at the limit", backupFact{Newest: now.Add(-26 * time.Hour)}, ""},
		{"just past", backupFact{Newest: now.Add(-26*time.Hour - time.Minute)}, "older than the 26h00m policy"},
		{"missing", backupFact{}, "missing"},
		{"missing in DR", backupFact{DR: true}, "missing in the DR region"},
		{"old in DR", backupFact{DR: true, Newest: now.Add(-50 * time.Hour)}, "older than the 26h00m policy"},
		{"clock skew: from the future", backupFact{Newest: now.Add(time.Minute)}, ""},
	} {
		v := judgeBackups([]backupFact{tt.fact}, now, policy)[0]
		if v.Problem != tt.problem {
			t.Errorf("%s: problem %q, want %q", tt.name, v.Problem, tt.problem)
		}
		if v.Age < 0 {
			t.Errorf("%s: negative age %s", tt.name, v.Age)
		}
	}
}

func TestCopiedSources(t *testing.T) {
	got := copiedSources([]aws.Snapshot{
		{ID: "snap-c1", State: "completed", Tags: map[string]string{aws.TagSourceSnapshot: "snap-a"}},
		{ID: "snap-c2", State: "completed", Description: "[Copied snap-0b1c from eu-west-1]"},
		{ID: "snap-c3", State: "pending", Tags: map[string]string{aws.TagSourceSnapshot: "snap-p"}},
		{ID: "snap-c4", State: "completed", Description: "something else"},
	})
	if len(got) != 2 || got["snap-a"] != "snap-c1" || got["snap-0b1c"] != "snap-c2" {
		t.Fatalf("copied sources = %v; want snap-a (tag) copied as snap-c1 and snap-0b1c (description) as snap-c2, not the pending copy", got)
	}
}

func TestAWSIdentifiers(t *testing.T) {
	if got := dbSnapshotID(12, "x-prod-db"); got != "mcloud-job12-x-prod-db" {
		t.Errorf("dbSnapshotID = %q", got)
	}
	if got := dbSnapshotID(3, "a--b-"); got != "mcloud-job3-a-b" {
		t.Errorf("dbSnapshotID with double hyphens = %q", got)
	}
	long := exportTaskID(123456, strings.Repeat("db-", 30))
	if len(long) > 60 || strings.HasSuffix(long, "-") || !strings.HasPrefix(long, "mcloud-job123456-db-") {
		t.Errorf("exportTaskID = %q (%d chars)", long, len(long))
	}
}

func TestNumbersForPeople(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567", -2500: "-2,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{512: "512 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := csvField(`a,"b"`); got != `"a,""b"""` {
		t.Errorf("csvField = %q", got)
	}
}
