package suggest

import "testing"

func TestNearest(t *testing.T) {
	regions := []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1"}
	keys := []string{"name", "channel", "team_id", "retention_months", "backup_max_age"}
	commands := []string{"serve", "shell", "migrate", "version", "help"}
	for _, tt := range []struct {
		word       string
		candidates []string
		want       string
	}{
		{"us-wst-2", regions, "us-west-2"},
		{"us-west-2", regions, "us-west-2"},
		{"eu-wset-1", regions, "eu-west-1"}, // a swap is one edit
		{"mars-1", regions, ""},
		{"retention_month", keys, "retention_months"},
		{"retnetion_months", keys, "retention_months"},
		{"chanel", keys, "channel"},
		{"bogus", keys, ""},
		{"serv", commands, "serve"},
		{"srve", commands, "serve"},
		{"shel", commands, "shell"},
		{"migrat", commands, "migrate"},
		{"x", commands, ""},
		{"he", commands, ""}, // two letters are too little to guess from
		{"", commands, ""},
	} {
		if got := Nearest(tt.word, tt.candidates); got != tt.want {
			t.Errorf("Nearest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}
