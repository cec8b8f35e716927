package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/mcloud/mcloud"
)

// reportVerb posts the backups report to the customer's channel as a job:
// the morning report a schedule files (or DevOps, with schedules run). A
// job, so a fire time's report is claimed with it and posted once, as the
// job's outcome.
func reportVerb() *Verb {
	return &Verb{
		Name:    "report",
		Summary: "post the backup report to the customer's channel (the morning report)",
		Help:    "Posts what /mcloud backups shows to the customer's channel (or its schedules.reports_channel). Its schedule runs it every morning.",
		Spec:    Spec{Args: []Arg{{Name: "customer", Kind: KindCustomer, About: "whose backups to report"}}},
		Access:  mcloud.AccessDevOps,
		Hidden:  true,
		// Changes nothing: no approval, and safe to run again on resume.
		Resumable: true,
		Plan: func(ctx context.Context, c *Call) (mcloud.Plan, error) {
			p := mcloud.Plan{Summary: fmt.Sprintf("Post the backup report of %s in #%s", c.Customer.Name, c.svc.cfg.ChannelName(reportsChannel(c)))}
			if late := c.Params["late"]; late != "" {
				p.Notes = append(p.Notes, "This run is "+late+", because mcloud was down.")
			}
			return p, nil
		},
		Execute: func(ctx context.Context, x *Exec) (string, error) {
			r, _, err := x.svc.backupReport(ctx, x.Customer)
			if err != nil {
				return "", err
			}
			text := r.Title + "\n" + strings.Join(r.Lines, "\n")
			if late := x.Params["late"]; late != "" {
				text = "This report ran " + late + ", because mcloud was down.\n" + text
			}
			return text, nil
		},
	}
}

// reportsChannel is where a report goes: the requester's channel, which
// for a schedule's report is the customer's reports channel.
func reportsChannel(c *Call) string { return c.Caller.ChannelID }

// Digest is the team's morning digest: one line per customer with its worst
// RPO, what is stale or missing (in DR too), and paused schedules. A
// customer whose facts could not be gathered gets a line saying why: none
// is skipped in silence.
func (s *Service) Digest(ctx context.Context) string {
	lines := []string{fmt.Sprintf("Backup digest, %s:", s.Now().UTC().Format("2006-01-02 15:04 UTC"))}
	for i := range s.cfg.Customers {
		cu := &s.cfg.Customers[i]
		line := cu.Name + ": "
		_, h, err := s.backupReport(ctx, cu)
		switch {
		case err != nil:
			why := mcloud.ErrorMessage(err)
			if why == "" {
				s.Log.Error("digest: gather backups", "customer", cu.Name, "err", err)
				why = "internal error (details in the bot's log)"
			}
			line += "could not gather its backups: " + strings.TrimSuffix(why, ".")
		case len(h.Problems) == 0:
			line += "worst RPO " + humanDuration(h.Worst) + ", all within policy"
		default:
			line += fmt.Sprintf("worst RPO %s; %s flagged: %s", humanDuration(h.Worst), nOf(len(h.Problems), "backup", "backups"), strings.Join(h.Problems, "; "))
		}
		paused, err := s.pausedSchedules(ctx, cu.Name)
		if err != nil {
			s.Log.Error("digest: read pauses", "err", err)
			paused = []string{"(paused schedules could not be read; see the bot's log)"}
		}
		for _, p := range paused {
			line += "; " + p
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
