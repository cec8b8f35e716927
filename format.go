package mcloud

import (
	"strconv"
	"time"
)

// Count is a number with its noun, for every message anyone reads: "1 host",
// "2 hosts", "10,000 files". Messages never write "host(s)": the reader
// should not have to work out which one was meant.
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return Thousands(n) + " " + many
}

// Thousands writes n with thousands separators: 10,000.
func Thousands(n int) string {
	if n < 0 {
		return "-" + Thousands(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TimeLayout is the one way a time is written for users: UTC to the
// minute, "2026-12-03 03:52 UTC". One format everywhere lets people
// compare what a plan, a job and the audit log say without converting.
const TimeLayout = "2006-01-02 15:04 UTC"

// FormatTime writes t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }
