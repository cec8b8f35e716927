package commands

import (
	"context"
	"fmt"
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
	line += fmt.Sprintf(", %s since %s ago, %d alert(s) from %s", p.Status, humanDuration(now.Sub(p.FirstAt)), p.Count, p.Source)
	if p.AckedBy != "" {
		line += ", acknowledged by " + p.AckedBy
		if !p.AckedUntil.IsZero() {
			line += " until " + p.AckedUntil.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	return line
}
