package commands

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
)

// problemLister is what the alerts verb and status read of the alert
// store; a store without alerts (a test double) has no open problems.
type problemLister interface {
	OpenProblems(ctx context.Context, customer string) ([]mcloud.Problem, error)
}

func (s *Service) openProblems(ctx context.Context, customer string) ([]mcloud.Problem, error) {
	pl, ok := s.store.(problemLister)
	if !ok {
		return nil, nil
	}
	ps, err := pl.OpenProblems(ctx, customer)
	if err != nil {
		return nil, fmt.Errorf("list open alerts: %w", err)
	}
	return ps, nil
}

// alerts lists the open problems from monitoring: severity, since when,
// how often, who acknowledged them. Every alert is listed here, also the
// ones a storm folded into a summary message.
func alertsVerb() *Verb {
	return &Verb{
		Name:     "alerts",
		Summary:  "open monitoring alerts, most severe first, with since when and who acknowledged them",
		Help:     "Without a customer, in a team channel, it lists every customer's alerts and those that matched no customer. In a customer's channel it lists that customer's only.",
		Examples: []string{"/mcloud alerts", "/mcloud alerts customer-x"},
		Spec:     Spec{Args: []Arg{{Name: "customer", Kind: KindCustomer, Optional: true}}},
		Access:   mcloud.AccessDevOps,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			customer := c.Params["customer"]
			if scope := c.scope(); scope != "" {
				customer = scope
			}
			ps, err := c.svc.openProblems(ctx, customer)
			if err != nil {
				return Reply{}, err
			}
			title := "Open alerts"
			if customer != "" {
				title += " of " + customer
			}
			r := Reply{Title: title}
			for _, p := range ps {
				r.Lines = append(r.Lines, alertLine(p, customer == "", c.svc.Now()))
			}
			if len(r.Lines) == 0 {
				r.Lines = append(r.Lines, "No open alerts.")
			}
			return r, nil
		},
	}
}

func alertLine(p mcloud.Problem, showCustomer bool, now time.Time) string {
	line := fmt.Sprintf("#%d %s %s", p.ID, p.Severity, p.Name)
	if p.Host != "" {
		line += " on " + p.Host
	}
	if showCustomer {
		who := p.Customer
		if who == "" {
			who = "no customer"
		}
		line += " (" + who + ")"
	}
	line += fmt.Sprintf(", %s since %s ago, %s from %s", p.Status, humanDuration(now.Sub(p.FirstAt)), mcloud.Count(p.Count, "alert", "alerts"), p.Source)
	if p.AckedBy != "" {
		line += ", acknowledged by " + p.AckedBy
		if !p.AckedUntil.IsZero() {
			line += " until " + p.AckedUntil.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	return line
}

// Acknowledger acknowledges a problem in the monitoring system it came
// from (Icinga2 acknowledge-problem, an Alertmanager silence) and then
// records it, so its messages show who, when and until when.
type Acknowledger interface {
	Acknowledge(ctx context.Context, p mcloud.Problem, by, comment string, until time.Time) (mcloud.Problem, error)
}

type problemReader interface {
	Problem(ctx context.Context, id int64) (mcloud.Problem, error)
}

// ack acknowledges an alert back in its monitoring system.
func ackVerb() *Verb {
	return &Verb{
		Name:    "ack",
		Summary: "acknowledge an alert in its monitoring system (Icinga2 acknowledgement, Alertmanager silence)",
		Help: "The duration (minutes, hours or days: 30m, 4h, 1d, 1h30m) bounds the acknowledgement; an Alertmanager silence lasts 2h without one. " +
			"In a customer's channel only that customer's alerts can be acknowledged.",
		Examples: []string{"/mcloud ack 12", "/mcloud ack 12 4h disk cleanup running"},
		Spec: Spec{Args: []Arg{
			{Name: "alert", Kind: KindID, About: "the alert's number, shown in its message and by alerts"},
			{Name: "comment", Kind: KindText, Optional: true, Shown: "[duration] [comment...]"},
		}},
		Access: mcloud.AccessDevOps,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			id, _ := strconv.ParseInt(c.Params["alert"], 10, 64)
			pr, ok := c.svc.store.(problemReader)
			acker := c.svc.Deps.Alerts
			if !ok || acker == nil {
				return Reply{}, mcloud.Errorf(mcloud.EINVALID, "Acknowledging alerts is not configured here (alerts.icinga2.api or alerts.alertmanager.api).")
			}
			p, err := pr.Problem(ctx, id)
			if err != nil {
				return Reply{}, err
			}
			if scope := c.scope(); scope != "" && p.Customer != scope {
				return Reply{}, mcloud.Errorf(mcloud.ENOTFOUND, "There is no alert #%d.", id)
			}
			comment := c.Params["comment"]
			var until time.Time
			if first, rest, _ := strings.Cut(comment, " "); first != "" {
				d, isDuration, err := ackDuration(first)
				if err != nil {
					return Reply{}, err
				}
				if isDuration {
					until, comment = c.svc.Now().Add(d), strings.TrimSpace(rest)
				}
			}
			p, err = acker.Acknowledge(ctx, p, c.Caller.Name, comment, until)
			if err != nil {
				return Reply{}, err
			}
			line := fmt.Sprintf("Alert #%d (%s) acknowledged by %s in %s", p.ID, p.Name, c.Caller.Name, p.Source)
			if !p.AckedUntil.IsZero() {
				line += " until " + p.AckedUntil.UTC().Format("2006-01-02 15:04 UTC")
			}
			// The monitoring system has it already: a failure to audit is
			// told, not undone.
			detail := strings.TrimPrefix(line, "Alert ")
			if comment != "" {
				detail += ": " + comment
			}
			if aerr := c.svc.store.Audit(ctx, mcloud.AuditEntry{Customer: p.Customer, UserID: c.Caller.UserID, UserName: c.Caller.Name,
				ChannelID: c.Caller.ChannelID, Event: mcloud.AuditAcknowledged, Detail: detail}); aerr != nil {
				return Reply{}, fmt.Errorf("audit the acknowledgement of alert #%d: %w", p.ID, aerr)
			}
			return Reply{Title: line + "."}, nil
		},
	}
}

// durationWord is a word written like a duration: numbers each followed
// by a unit, as "4h", "1d", "1h30m", "1w" or "2x".
var durationWord = regexp.MustCompile(`^([0-9]+[a-zA-Z]+)+$`)

// ackDuration reads the word after ack's alert number. isDuration is
// false when the word is the comment's first word; a word written like a
// duration in units ack does not read ("1w", "2x", "90s") is an error, not
// a comment, so that an acknowledgement never lasts other than meant.
// Units: m (minutes), h (hours), d (days), as the Acknowledge button
// offers them.
func ackDuration(word string) (d time.Duration, isDuration bool, err error) {
	if !durationWord.MatchString(word) {
		return 0, false, nil
	}
	unit := map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	bad := mcloud.Errorf(mcloud.EINVALID, "%q is not a duration ack reads: use minutes, hours or days, like 30m, 4h, 1d or 1h30m.", word)
	tooLong := mcloud.Errorf(mcloud.EINVALID, "%s is longer than an acknowledgement may last (a year at most).", word)
	for rest := word; rest != ""; {
		i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		j := strings.IndexFunc(rest[i:], func(r rune) bool { return r >= '0' && r <= '9' })
		if j < 0 {
			j = len(rest) - i
		}
		n, err := strconv.Atoi(rest[:i])
		u, ok := unit[strings.ToLower(rest[i:i+j])]
		if err != nil || !ok {
			return 0, true, bad
		}
		if n > 366*24*60 {
			return 0, true, tooLong
		}
		d += time.Duration(n) * u
		rest = rest[i+j:]
	}
	if d <= 0 {
		return 0, true, bad
	}
	if d > 366*24*time.Hour {
		return 0, true, tooLong
	}
	return d, true, nil
}
