package commands

import (
	"fmt"
	"slices"
	"strings"

	mssh "github.com/mcloud/mcloud/integrations/ssh"
)

// outputGroup is the hosts on which a command ended the same way and
// printed the same thing.
type outputGroup struct {
	hosts          []string
	failed         bool
	outcome        string // "exit 0", "exit 3", "killed by signal TERM", "not run: <why>"
	stdout, stderr string
	truncated      bool
}

// groupResults groups identical outcomes: failures first, then larger groups
// first, then in host order. With 50 hosts printing the same version and one
// printing an error, the error is what a reader needs to see first.
func groupResults(results []mssh.Result) []outputGroup {
	var groups []outputGroup
	index := map[string]int{}
	for _, r := range results {
		g := outputGroup{outcome: resultOutcome(r), failed: !r.OK(),
			stdout: string(r.Stdout), stderr: string(r.Stderr), truncated: r.StdoutTruncated || r.StderrTruncated}
		key := fmt.Sprintf("%s\x00%s\x00%s\x00%v", g.outcome, g.stdout, g.stderr, g.truncated)
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, g)
		}
		groups[i].hosts = append(groups[i].hosts, r.Target.Name)
	}
	// Stable: groups of equal rank keep the order of their first host.
	slices.SortStableFunc(groups, func(a, b outputGroup) int {
		if a.failed != b.failed {
			if a.failed {
				return -1
			}
			return 1
		}
		return len(b.hosts) - len(a.hosts)
	})
	return groups
}

func resultOutcome(r mssh.Result) string {
	switch {
	case r.Signal != "":
		return "killed by signal " + r.Signal
	case r.Err != nil:
		return "not run: " + asClause(sshFailure(r.Err))
	}
	return fmt.Sprintf("exit %d", r.ExitStatus)
}

// Limits that keep one run's summary readable in a chat thread; the
// failures come first, so they are what survives the cut.
const (
	maxGroupLines   = 20
	maxLineRunes    = 300
	maxSummaryBytes = 3500
)

// renderGroups is the thread message for a run: a title line, then per
// group its hosts and outcome and its output, stdout lines marked "|" and
// stderr lines marked "!".
func renderGroups(title string, groups []outputGroup) string {
	var b strings.Builder
	b.WriteString(title)
	for gi, g := range groups {
		var part strings.Builder
		verdict := "ok"
		if g.failed {
			verdict = "FAILED"
		}
		hosts := strings.Join(g.hosts, ", ")
		if len(g.hosts) > 1 {
			hosts += " (" + nOf(len(g.hosts), "host", "hosts") + ")"
		}
		fmt.Fprintf(&part, "\n%s on %s: %s", verdict, hosts, g.outcome)
		lines := outputLines(g)
		for i, l := range lines {
			if i == maxGroupLines {
				fmt.Fprintf(&part, "\n    … %s", nOf(len(lines)-maxGroupLines, "more line", "more lines"))
				break
			}
			part.WriteString("\n    " + cutRunes(l, maxLineRunes))
		}
		if g.truncated {
			part.WriteString("\n    … output was cut at the bot's limit")
		}
		if b.Len()+part.Len() > maxSummaryBytes {
			rest := 0
			for _, r := range groups[gi:] {
				rest += len(r.hosts)
			}
			fmt.Fprintf(&b, "\n… %d more outcomes on %s not shown", len(groups)-gi, nOf(rest, "host", "hosts"))
			break
		}
		b.WriteString(part.String())
	}
	return b.String()
}

func outputLines(g outputGroup) []string {
	var lines []string
	for _, s := range []struct{ mark, text string }{{"| ", g.stdout}, {"! ", g.stderr}} {
		t := strings.TrimRight(s.text, "\n")
		if t == "" {
			continue
		}
		for _, l := range strings.Split(t, "\n") {
			lines = append(lines, s.mark+strings.TrimRight(l, "\r"))
		}
	}
	return lines
}
