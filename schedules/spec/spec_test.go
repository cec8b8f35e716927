package spec

import (
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Daily and hourly schedules over both DST transitions in two zones: a
// skipped wall time fires once, at the end of the gap; a repeated one
// fires once, at its first occurrence.
func TestNextAcrossDST(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct {
		name, zone, expr string
		from, to         string
		want             []string // UTC
	}{
		{"NY spring forward: 02:30 does not exist, fires at 03:00 EDT", "America/New_York", "30 2 * * *",
			"2026-03-07T08:00:00Z", "2026-03-10T00:00:00Z",
			[]string{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
		{"NY spring forward: 01:59 exists", "America/New_York", "59 1 * * *",
			"2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z",
			[]string{"2026-03-08T06:59:00Z"}},
		{"NY fall back: 01:30 repeats, fires at the first (EDT)", "America/New_York", "30 1 * * *",
			"2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z",
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"NY fall back: 02:00 happens once (EST)", "America/New_York", "0 2 * * *",
			"2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z",
			[]string{"2026-11-01T07:00:00Z"}},
		{"London spring forward: 01:30 does not exist, fires at 02:00 BST", "Europe/London", "30 1 * * *",
			"2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"London fall back: 01:30 repeats, fires once (BST)", "Europe/London", "30 1 * * *",
			"2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"London 02:00 daily on both days", "Europe/London", "0 2 * * *",
			"2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"}},
		{"CRON_TZ prefix wins", "UTC", "CRON_TZ=Asia/Colombo 0 2 * * *",
			"2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z",
			[]string{"2026-01-01T20:30:00Z"}},
		{"@every is aligned to the epoch", "", "@every 10s",
			"2026-01-01T00:00:03Z", "2026-01-01T00:00:30Z",
			[]string{"2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z", "2026-01-01T00:00:30Z"}},
		{"@daily in a zone", "Europe/London", "@daily",
			"2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z",
			[]string{"2026-06-01T23:00:00Z"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.expr, tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := s.Times(utc(tt.from), utc(tt.to), 100)
			var gs []string
			for _, g := range got {
				gs = append(gs, g.UTC().Format(time.RFC3339))
			}
			if len(gs) != len(tt.want) {
				t.Fatalf("got %v, want %v", gs, tt.want)
			}
			for i := range gs {
				if gs[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", gs, tt.want)
				}
			}
		})
	}
}

// An hourly schedule fires once per wall-clock hour: 23 times on a
// spring-forward day, 24 on a fall-back day (the repeated hour once).
func TestHourlyAcrossDST(t *testing.T) {
	for _, tt := range []struct {
		zone string
		day  string
		want int
	}{
		{"America/New_York", "2026-03-08", 23},
		{"America/New_York", "2026-11-01", 24},
		{"Europe/London", "2026-03-29", 23},
		{"Europe/London", "2026-10-25", 24},
		{"Europe/London", "2026-06-01", 24},
	} {
		loc := mustZone(t, tt.zone)
		d, _ := time.ParseInLocation("2006-01-02", tt.day, loc)
		s, err := Parse("0 * * * *", tt.zone)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.Times(d.Add(-time.Second), d.AddDate(0, 0, 1).Add(-time.Second), 100)
		if len(got) != tt.want {
			t.Errorf("%s %s: %d fire times, want %d: %v", tt.zone, tt.day, len(got), tt.want, got)
		}
		for i := 1; i < len(got); i++ {
			if !got[i].After(got[i-1]) {
				t.Errorf("%s %s: fire times not increasing: %v", tt.zone, tt.day, got)
			}
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tt := range []struct{ expr, zone, want string }{
		{"0 25 * * *", "", `"0 25 * * *" is not a schedule`},
		{"0 2 * * *", "Mars/Olympus", `unknown time zone "Mars/Olympus"`},
		{"CRON_TZ=Nowhere/City 0 2 * * *", "", `unknown time zone "Nowhere/City"`},
		{"CRON_TZ=Europe/London", "", "names a zone but no schedule"},
		{"0 2 * * *", "Local", "depends on the machine"},
		{"", "", "is not a schedule"},
	} {
		_, err := Parse(tt.expr, tt.zone)
		if err == nil || !contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q, %q) = %v, want %q", tt.expr, tt.zone, err, tt.want)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}
