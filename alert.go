package mcloud

import (
	"fmt"
	"time"
)

// Alert is one notification from a monitoring system, decoded from its
// wire format by a receiver. Nothing in it decides who may see it: routing
// does that from identities (label, host, account) against the
// configuration.
type Alert struct {
	// Source is the monitoring system: "alertmanager", "icinga2" or "sns".
	Source string
	// Key is the problem's identity within its source (Alertmanager's
	// fingerprint, Icinga2's host!service, a CloudWatch alarm's ARN), so
	// that repeats of one problem are one problem.
	Key      string
	Status   AlertStatus
	Severity Severity
	// Name is what is wrong: alertname, Icinga2 service, alarm name.
	Name string
	// Host is the host name or address the problem is on, if any.
	Host string
	// Customer is the customer the source named (a "customer" label);
	// routing trusts it only when it names a configured customer and
	// nothing else in the alert contradicts it.
	Customer string
	// Account is the AWS account id the alarm comes from (SNS).
	Account string
	Summary string
	// By is who acknowledged or scheduled the downtime, when the source says.
	By  string
	URL string
	At  time.Time
}

// Fingerprint names the problem across sources.
func (a Alert) Fingerprint() string { return a.Source + ":" + a.Key }

// Title is the problem in a few words, for a message's first line.
func (a Alert) Title() string {
	if a.Host != "" {
		return fmt.Sprintf("%s on %s", a.Name, a.Host)
	}
	return a.Name
}

// AlertStatus is what an alert says happened to its problem.
type AlertStatus string

const (
	AlertFiring        AlertStatus = "firing"
	AlertResolved      AlertStatus = "resolved"
	AlertAcknowledged  AlertStatus = "acknowledged"
	AlertDowntimeStart AlertStatus = "downtime-start"
	AlertDowntimeEnd   AlertStatus = "downtime-end"
)

// Severity orders problems; unknown severities are warnings.
type Severity string

const (
	SeverityCritical Severity = "critical"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// ParseSeverity maps the sources' words (Icinga2's CRITICAL/WARNING/
// UNKNOWN/DOWN, CloudWatch's ALARM, labels like "page") to a Severity.
func ParseSeverity(s string) Severity {
	switch s {
	case "critical", "CRITICAL", "Critical", "page", "DOWN", "UNREACHABLE", "error", "high":
		return SeverityCritical
	case "info", "INFO", "Info", "none", "OK", "UP", "low":
		return SeverityInfo
	}
	return SeverityWarning
}

// Rank is for sorting: lower is more severe.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// Problem is one open or closed problem as the store keeps it: the
// alerts of one fingerprint, counted, with its latest state.
type Problem struct {
	ID          int64
	Fingerprint string
	Source      string
	Key         string
	Customer    string
	Name        string
	Host        string
	Severity    Severity
	Status      AlertStatus
	Summary     string
	Count       int
	FirstAt     time.Time
	LastAt      time.Time
	AckedBy     string
	AckedAt     time.Time
	AckedUntil  time.Time
	// JobID is the running job the problem was expected under, 0 for none.
	JobID int64
}

// Open reports whether the problem still needs someone.
func (p Problem) Open() bool { return p.Status != AlertResolved }

// Acknowledgeable reports whether p is worth acknowledging at now, which
// is when its message offers the Acknowledge button: it is open and no
// acknowledgement holds (one whose end has passed no longer does, as an
// Alertmanager silence that expired).
func (p Problem) Acknowledgeable(now time.Time) bool {
	if !p.Open() {
		return false
	}
	return p.AckedBy == "" || (!p.AckedUntil.IsZero() && !now.Before(p.AckedUntil))
}

// AlertAction is what one alert does to one channel's view of its problem.
type AlertAction int

const (
	// AlertIgnore: nothing to show (a repeat of a state already shown and
	// folded into a summary that already counts it is still counted).
	AlertIgnore AlertAction = iota
	// AlertNew posts the problem's own message.
	AlertNew
	// AlertUpdate re-renders the problem's message in place (a repeat).
	AlertUpdate
	// AlertUpdateReply re-renders it and tells the change in its thread.
	AlertUpdateReply
	// AlertFold counts the problem in the channel's storm summary instead
	// of giving it a message of its own.
	AlertFold
	// AlertUpdateSummary re-renders the summary that holds the problem.
	AlertUpdateSummary
)

func (a AlertAction) String() string {
	return [...]string{"ignore", "new", "update", "update+reply", "fold", "update-summary"}[a]
}

// AlertView is what a channel already shows of a problem.
type AlertView struct {
	// Shown is true when the channel has (or will have) a message for it.
	Shown bool
	// Folded is true when the channel counts it in a summary instead.
	Folded bool
	// Status is the state the channel last showed.
	Status AlertStatus
}

// DecideAlert is the dedup and grouping decision for one channel: given
// what the channel shows of the problem, the new alert's status, and how
// many problem messages the channel got in the current interval against
// its budget, what to do. Pure, so every case is in the table test.
//
// A problem keeps the one message it got first: a state change is an
// update plus a reply in its thread; a repeat only updates it. A new
// problem beyond the channel's budget (Slack takes about one message per
// second per channel) is folded into the interval's summary, as is every
// later alert of a folded problem. Only a firing alert opens a message:
// a resolution, an acknowledgement or a downtime of a problem never seen
// (a downtime set outside mcloud notifies once per service) is not worth
// one.
func DecideAlert(v AlertView, status AlertStatus, postedInInterval, budget int) AlertAction {
	switch {
	case v.Folded:
		return AlertUpdateSummary
	case v.Shown && status != v.Status:
		return AlertUpdateReply
	case v.Shown:
		return AlertUpdate
	case status != AlertFiring:
		return AlertIgnore
	case postedInInterval >= budget:
		return AlertFold
	}
	return AlertNew
}
