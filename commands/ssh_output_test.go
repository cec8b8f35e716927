package commands

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	mssh "github.com/mcloud/mcloud/integrations/ssh"
)

func res(host, stdout string, exit int) mssh.Result {
	return mssh.Result{Target: mssh.Target{Name: host}, Stdout: []byte(stdout), ExitStatus: exit}
}

func TestGroupResults(t *testing.T) {
	lost := mssh.Result{Target: mssh.Target{Name: "h6"}, ExitStatus: -1, Err: errors.New("connection reset")}
	killed := mssh.Result{Target: mssh.Target{Name: "h7"}, ExitStatus: -1, Signal: "KILL", Err: errors.New("killed")}
	groups := groupResults([]mssh.Result{
		res("h1", "4.2.0\n", 0), res("h2", "4.2.0\n", 0), res("h3", "4.1.0\n", 0),
		res("h4", "", 1), res("h5", "4.2.0\n", 0), lost, res("h8", "", 1), killed,
	})
	var got []string
	for _, g := range groups {
		got = append(got, fmt.Sprintf("%v %s %q %v", g.failed, strings.Join(g.hosts, ","), g.stdout, g.outcome))
	}
	want := []string{
		// Failures first, the largest group of them first; then the rest
		// likewise; equal groups in the order of their first host.
		`true h4,h8 "" exit 1`,
		`true h6 "" not run: SSH to the host failed: connection reset`,
		`true h7 "" killed by signal KILL`,
		`false h1,h2,h5 "4.2.0\n" exit 0`,
		`false h3 "4.1.0\n" exit 0`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("groups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRenderGroupsKeepsFailuresWhenCut(t *testing.T) {
	var results []mssh.Result
	results = append(results, mssh.Result{Target: mssh.Target{Name: "bad"}, Stderr: []byte("boom\n"), ExitStatus: 2})
	for i := 0; i < 40; i++ {
		// Forty different outputs of 30 lines each: far over the limit.
		results = append(results, res(fmt.Sprintf("h%02d", i), strings.Repeat(fmt.Sprintf("line of host %d\n", i), 30), 0))
	}
	text := renderGroups("title", groupResults(results))
	if !strings.HasPrefix(text, "title\nFAILED on bad: exit 2\n    ! boom\nok on h00: exit 0\n    | line of host 0\n") {
		t.Fatalf("start:\n%s", text[:200])
	}
	if !strings.Contains(text, "    … 10 more lines\n") {
		t.Error("a long output must say how much was left out")
	}
	if len(text) > maxSummaryBytes+200 || !strings.HasSuffix(text, " more outcomes on "+fmt.Sprint(40-strings.Count(text, "ok on h"))+" hosts not shown") {
		t.Fatalf("%d bytes, ending %q", len(text), text[len(text)-80:])
	}
}

func TestExpandQuotesEveryValue(t *testing.T) {
	vars := map[string]string{"{patch}": "P-1", "{service}": "my service", "{host}": "h1", "{file}": "/tmp/mcloud-it's.zip"}
	got := expand("apply {service} {patch} {file} on {host} {unknown}", vars)
	want := `apply 'my service' P-1 '/tmp/mcloud-it'\''s.zip' on h1 {unknown}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
