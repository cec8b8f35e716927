package commands

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mcloud/mcloud"
)

func jobsVerb() *Verb {
	return &Verb{
		Name:     "jobs",
		Summary:  "the newest jobs, of one customer or of all",
		Examples: []string{"/mcloud jobs", "/mcloud jobs customer-x"},
		Spec:     Spec{Args: []Arg{{Name: "customer", Kind: KindCustomer, Optional: true}}},
		Access:   mcloud.AccessCustomer,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			customer := c.Params["customer"]
			if scope := c.scope(); scope != "" {
				customer = scope // a customer channel shows only its customer
			}
			// Read more than are shown: in a customer channel the team's
			// own jobs are left out (see visibleIn).
			all, err := c.svc.store.Jobs(ctx, customer, false, 200)
			if err != nil {
				return Reply{}, err
			}
			var list []mcloud.Job
			for _, j := range all {
				if len(list) < 20 && c.sees(j.Customer, j.ChannelID) {
					list = append(list, j)
				}
			}
			title := "Newest jobs"
			if customer != "" {
				title += " of " + customer
			}
			r := Reply{Title: title}
			if len(list) == 0 {
				r.Lines = append(r.Lines, "No jobs yet.")
			}
			now := c.svc.Now()
			for _, j := range list {
				r.Lines = append(r.Lines, jobLine(j, now))
			}
			return r, nil
		},
	}
}

func jobVerb() *Verb {
	return &Verb{
		Name:     "job",
		Summary:  "one piece of work by its number: what it is doing, its completed steps, its outcome",
		Examples: []string{"/mcloud job 12"},
		Spec:     Spec{Args: []Arg{{Name: "job", Kind: KindID, About: "the job's number, from the plan or /mcloud jobs"}}},
		Access:   mcloud.AccessCustomer,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			r, j, err := c.visibleWork(ctx, "job")
			if err != nil {
				return Reply{}, err
			}
			if j == nil {
				return Reply{Title: notRunning(*r, c.svc.Now())}, nil
			}
			now := c.svc.Now()
			out := Reply{Title: jobLine(*j, now)}
			out.Lines = append(out.Lines, fmt.Sprintf("Requested by %s; attempt %d.", j.Requester, j.Attempt))
			steps, err := c.svc.store.JobSteps(ctx, j.ID)
			if err != nil {
				return Reply{}, err
			}
			for _, s := range steps {
				line := fmt.Sprintf("  done %s  %s", mcloud.FormatTime(s.At), s.Name)
				if s.Value != "" {
					line += ": " + s.Value
				}
				out.Lines = append(out.Lines, line)
			}
			if j.Error != "" {
				out.Lines = append(out.Lines, "Error: "+j.Error)
			}
			if j.Cancel && !j.Status.Done() {
				out.Lines = append(out.Lines, "Cancel requested: it stops at the next step boundary.")
			}
			// The thread, not this answer, has the output and the links:
			// say where it is, whichever channel this is asked in.
			out.Lines = append(out.Lines, fmt.Sprintf("Progress, output and links are in #%s, in the thread of #%d.", c.svc.cfg.ChannelName(j.ChannelID), j.ID))
			if linkable(j.Verb) && j.Status == mcloud.JobSucceeded {
				out.Lines = append(out.Lines, fmt.Sprintf("Links expired? Fresh ones, without a new approval: /mcloud links %d", j.ID))
			}
			return out, nil
		},
	}
}

func cancelVerb() *Verb {
	return &Verb{
		Name:     "cancel",
		Summary:  "stop a job: a queued job never starts, a running one stops after its current step",
		Examples: []string{"/mcloud cancel 12"},
		Spec:     Spec{Args: []Arg{{Name: "job", Kind: KindID, About: "the job's number, from the plan or /mcloud jobs"}}},
		Access:   mcloud.AccessDevOps,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			r, j, err := c.visibleWork(ctx, "job")
			if err != nil {
				return Reply{}, err
			}
			if j == nil {
				msg := notRunning(*r, c.svc.Now())
				if r.Status == mcloud.RequestPending {
					msg = fmt.Sprintf("#%d (%s) has not been approved, so nothing runs yet; to stop it for good, deny or withdraw it: /mcloud deny %d", r.ID, workOf(r.Verb, r.Customer, r.Env), r.ID)
				}
				return Reply{}, mcloud.Errorf(mcloud.ECONFLICT, "%s", msg)
			}
			j, err = c.svc.store.RequestCancel(ctx, j.ID, c.Caller)
			if err != nil {
				return Reply{}, err
			}
			// Name the customer and the verb: the number alone once
			// stopped the wrong customer's work.
			what := fmt.Sprintf("#%d: %s (asked by %s)", j.ID, workOf(j.Verb, j.Customer, j.Env), j.Requester)
			text := fmt.Sprintf("Stopping %s. %s asked it to stop; it stops after its current step.", what, c.Caller.Name)
			if j.Status == mcloud.JobCancelled {
				text = fmt.Sprintf("Cancelled %s before it started. %s cancelled it; nothing ran.", what, c.Caller.Name)
			}
			c.svc.post(ctx, j.ChannelID, j.RequestID, j.ID, text)
			return Reply{Title: text}, nil
		},
	}
}

// workOf names a piece of work for people: "restore-logs for customer-x/prod".
func workOf(verb, customer, env string) string {
	s := verb + " for " + customer
	if env != "" {
		s += "/" + env
	}
	return s
}

// notRunning says why request r has no job.
func notRunning(r mcloud.Request, now time.Time) string {
	what := workOf(r.Verb, r.Customer, r.Env)
	switch {
	case mcloud.Withdrawn(r):
		return fmt.Sprintf("#%d (%s) was withdrawn by %s; it never ran.", r.ID, what, r.DeniedBy)
	case r.Status == mcloud.RequestDenied:
		return fmt.Sprintf("#%d (%s) was denied by %s; it never ran.", r.ID, what, r.DeniedBy)
	case r.Status == mcloud.RequestExpired || !now.Before(r.ExpiresAt):
		return fmt.Sprintf("#%d (%s) expired without enough approvals; it never ran.", r.ID, what)
	}
	return fmt.Sprintf("#%d (%s, asked by %s) waits for approval (%d of %d); it has not run. Approve: /mcloud approve %d    Deny: /mcloud deny %d",
		r.ID, what, r.Requester.Name, len(r.Approvals), r.Needed, r.ID, r.ID)
}

// scope is the one customer this call may see: a customer user's own, or
// the customer whose shared channel it was typed in (whoever typed it: the
// customer reads that channel). "" means any customer.
func (c *Call) scope() string {
	if c.Caller.Role == mcloud.RoleCustomer {
		return c.Caller.Customer
	}
	return c.Caller.ChannelCustomer
}

// visibleWork loads the request named by the param and its job, if it has
// one (a job has its request's number), hiding work outside the call's
// scope as if it did not exist.
func (c *Call) visibleWork(ctx context.Context, param string) (*mcloud.Request, *mcloud.Job, error) {
	id, _ := strconv.ParseInt(c.Params[param], 10, 64)
	r, err := c.svc.store.Request(ctx, id)
	missing := mcloud.Errorf(mcloud.ENOTFOUND, "There is no %s #%d.", param, id)
	if mcloud.ErrorCode(err) == mcloud.ENOTFOUND {
		return nil, nil, missing
	}
	if err != nil {
		return nil, nil, err
	}
	if !c.sees(r.Customer, r.Requester.ChannelID) {
		return nil, nil, missing
	}
	if r.JobID == 0 {
		return r, nil, nil
	}
	j, err := c.svc.store.Job(ctx, r.JobID)
	if err != nil {
		return nil, nil, err
	}
	return r, j, nil
}

// visibleRequest loads the request named by the "request" param, hiding
// requests outside the call's scope as if they did not exist.
func (c *Call) visibleRequest(ctx context.Context) (*mcloud.Request, error) {
	r, _, err := c.visibleWork(ctx, "request")
	return r, err
}

func jobLine(j mcloud.Job, now time.Time) string {
	line := fmt.Sprintf("Job #%d %s: %s", j.ID, workOf(j.Verb, j.Customer, j.Env), j.Status)
	switch {
	case j.Status == mcloud.JobRunning:
		line += fmt.Sprintf(" for %s", humanDuration(now.Sub(j.StartedAt)))
	case j.Status.Done() && !j.EndedAt.IsZero():
		line += fmt.Sprintf(" %s ago", humanDuration(now.Sub(j.EndedAt)))
	}
	return line
}

func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
