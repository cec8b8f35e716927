package bot

import (
	"reflect"
	"strings"
	"testing"
)

func TestMatchExpect(t *testing.T) {
	const out = "  mcloud: bob approved request #1 (echo for customer-x); it runs as job #1.\n  mcloud: Job #1 succeeded: 3 steps\n"
	for _, tt := range []struct {
		pattern string
		match   bool
		err     bool
	}{
		{"approved request #1 (echo", true, false}, // a substring: no escaping needed
		{"approved request #2", false, false},
		{`/job #\d+\.$/`, false, false}, // no (?m): $ is the end of the output
		{`/(?m)job #\d+\.$/`, true, false},
		{`/Job #1 succeeded:.*step/`, true, false},
		{`/succeeded \(/`, false, false},
		{"/", false, false}, // one slash is a substring
		{"/[/", false, true},
		{"", false, true},
	} {
		got, err := matchExpect(tt.pattern, out)
		if got != tt.match || (err != nil) != tt.err {
			t.Errorf("matchExpect(%q) = %v, %v; want %v, error %v", tt.pattern, got, err, tt.match, tt.err)
		}
	}
}

func TestComplete(t *testing.T) {
	c := Completions{
		Verbs:     []string{"approve", "audit", "backup", "backups", "help", "restore-artifacts", "restore-logs", "status"},
		Customers: []string{"customer-x", "customer-y"},
		Envs:      map[string][]string{"customer-x": {"prod", "staging"}, "customer-y": {"prod", "dev"}},
		Users:     []string{"alice", "bob", "erin", "carol", "dave"},
		Channels:  []string{"devops", "customer-x-shared", "customer-y-shared"},
	}
	for _, tt := range []struct {
		line    string
		want    string // the line after Tab; | is the cursor
		choices []string
	}{
		{"/mc|", "/mcloud |", nil},
		{"|", "/mcloud |", nil},
		{"/mcloud st|", "/mcloud status |", nil},
		{"/mcloud He|", "/mcloud help |", nil},
		{"/mcloud re|", "/mcloud restore-|", nil}, // as far as they agree
		{"/mcloud restore-|", "/mcloud restore-|", []string{"restore-artifacts", "restore-logs"}},
		{"/mcloud backup|", "/mcloud backup|", []string{"backup", "backups"}},
		{"/mcloud a|", "/mcloud a|", []string{"approve", "audit"}},
		{"/mcloud status c|", "/mcloud status customer-|", nil},
		{"/mcloud status customer-y |", "/mcloud status customer-y |", []string{"prod", "dev"}},
		{"/mcloud status customer-y d|", "/mcloud status customer-y dev |", nil},
		{"/mcloud patch customer-x s| WSO2-1", "/mcloud patch customer-x staging| WSO2-1", nil},
		{"/mcloud restore-logs customer-x 2026-11 --env st|", "/mcloud restore-logs customer-x 2026-11 --env staging |", nil},
		{"/mcloud approve 1|", "/mcloud approve 1|", nil},
		{"/mcloud frob x|", "/mcloud frob x|", nil},
		{":u|", ":user |", nil},
		{":user c|", ":user carol |", nil},
		{":channel customer-x|", ":channel customer-x-shared |", nil},
		{":w|", ":w|", []string{":whoami", ":wait"}},
		{"hello th|", "hello th|", nil},
	} {
		pos := strings.Index(tt.line, "|")
		line := tt.line[:pos] + tt.line[pos+1:]
		got, gotPos, choices := Complete(line, pos, c)
		if got = got[:gotPos] + "|" + got[gotPos:]; got != tt.want || !reflect.DeepEqual(choices, tt.choices) {
			t.Errorf("Tab on %q = %q %q, want %q %q", tt.line, got, choices, tt.want, tt.choices)
		}
	}
}
