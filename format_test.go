package mcloud

import (
	"testing"
	"time"
)

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "0 hosts"}, {1, "1 host"}, {2, "2 hosts"}, {10000, "10,000 hosts"}, {-1234, "-1,234 hosts"}} {
		if got := Count(tt.n, "host", "hosts"); got != tt.want {
			t.Errorf("Count(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestFormatTime(t *testing.T) {
	at := time.Date(2026, 12, 3, 4, 52, 28, 0, time.FixedZone("CET", 3600))
	if got, want := FormatTime(at), "2026-12-03 03:52 UTC"; got != want {
		t.Fatalf("FormatTime = %q, want %q", got, want)
	}
}
