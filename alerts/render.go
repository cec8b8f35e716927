package alerts

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
)

// Text renders alert messages as plain text (Slack mrkdwn), the same in
// Slack and in the shell.
type Text struct{}

func mark(p mcloud.Problem) string {
	switch {
	case p.Status == mcloud.AlertResolved:
		return "RESOLVED"
	case p.Severity == mcloud.SeverityCritical:
		return "CRITICAL"
	case p.Severity == mcloud.SeverityWarning:
		return "WARNING"
	}
	return "INFO"
}

// Problem is the problem's own message: what, where, since when, how
// often, and who acknowledged it.
func (Text) Problem(p mcloud.Problem) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] alert #%d: %s", mark(p), p.ID, title(p))
	if p.Customer != "" {
		fmt.Fprintf(&b, " (%s)", p.Customer)
	}
	if p.Summary != "" {
		fmt.Fprintf(&b, "\n%s", p.Summary)
	}
	fmt.Fprintf(&b, "\n%s since %s, %s from %s", p.Status, mcloud.FormatTime(p.FirstAt), mcloud.Count(p.Count, "alert", "alerts"), p.Source)
	if p.Status == mcloud.AlertResolved {
		fmt.Fprintf(&b, "; resolved %s", mcloud.FormatTime(p.LastAt))
	}
	if p.AckedBy != "" {
		fmt.Fprintf(&b, "\nAcknowledged by %s at %s", p.AckedBy, mcloud.FormatTime(p.AckedAt))
		if !p.AckedUntil.IsZero() {
			fmt.Fprintf(&b, " until %s", mcloud.FormatTime(p.AckedUntil))
		}
	}
	if p.JobID != 0 {
		fmt.Fprintf(&b, "\nExpected: job #%d is working on this host.", p.JobID)
	}
	return b.String()
}

// Change is the thread reply for one state change.
func (Text) Change(p mcloud.Problem, a mcloud.Alert) string {
	s := fmt.Sprintf("%s at %s", a.Status, mcloud.FormatTime(a.At))
	if a.By != "" {
		s += " by " + a.By
	}
	if a.Summary != "" {
		s += ": " + a.Summary
	}
	return s
}

// Expected is the reply in a job's thread for an alert of a host the job
// is changing: marked expected, with the alert's number, so the people
// doing the work can tell the noise of their work from a real problem.
func (Text) Expected(p mcloud.Problem, a mcloud.Alert, w mcloud.HostWork) string {
	pa := p
	pa.Status = a.Status
	s := fmt.Sprintf("expected: %s #%d is changing %s. [%s] alert #%d: %s, %s", w.Verb, w.JobID, w.Host, mark(pa), p.ID, title(p), a.Status)
	if a.By != "" {
		s += " by " + a.By
	}
	if a.Summary != "" {
		s += ": " + a.Summary
	}
	return s
}

// Summary is a channel's storm summary: counts by severity, then the top
// problems (most severe, most frequent).
func (Text) Summary(from time.Time, ps []mcloud.Problem) string {
	bySev := map[mcloud.Severity]int{}
	total, open := 0, 0
	for _, p := range ps {
		bySev[p.Severity] += p.Count
		total += p.Count
		if p.Open() {
			open++
		}
	}
	top := slices.Clone(ps)
	slices.SortStableFunc(top, func(a, b mcloud.Problem) int {
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() - b.Severity.Rank()
		}
		return b.Count - a.Count
	})
	var b strings.Builder
	fmt.Fprintf(&b, "Alert storm since %s: %s in %s (%d open), too many for a message each.\n", mcloud.FormatTime(from),
		mcloud.Count(total, "alert", "alerts"), mcloud.Count(len(ps), "problem", "problems"), open)
	fmt.Fprintf(&b, "critical %d · warning %d · info %d\n", bySev[mcloud.SeverityCritical], bySev[mcloud.SeverityWarning], bySev[mcloud.SeverityInfo])
	for i, p := range top {
		if i == 5 {
			fmt.Fprintf(&b, "…and %d more (see \"alerts\")", len(top)-5)
			break
		}
		fmt.Fprintf(&b, "• #%d %s %s ×%d (%s)\n", p.ID, mark(p), title(p), p.Count, p.Status)
	}
	return strings.TrimRight(b.String(), "\n")
}

func title(p mcloud.Problem) string {
	if p.Host != "" {
		return p.Name + " on " + p.Host
	}
	return p.Name
}
