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
		Summary:  "one job: what it is doing, its completed steps, its outcome",
		Examples: []string{"/mcloud job 12"},
		Spec:     Spec{Args: []Arg{{Name: "job", Kind: KindID, About: "the job's number, from the plan or /mcloud jobs"}}},
		Access:   mcloud.AccessCustomer,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			j, err := c.visibleJob(ctx)
			if err != nil {
				return Reply{}, err
			}
			now := c.svc.Now()
			r := Reply{Title: jobLine(*j, now)}
			r.Lines = append(r.Lines, fmt.Sprintf("Requested by %s as request #%d; attempt %d.", j.Requester, j.RequestID, j.Attempt))
			steps, err := c.svc.store.JobSteps(ctx, j.ID)
			if err != nil {
				return Reply{}, err
			}
			for _, s := range steps {
				line := fmt.Sprintf("  done %s  %s", mcloud.FormatTime(s.At), s.Name)
				if s.Value != "" {
					line += ": " + s.Value
				}
				r.Lines = append(r.Lines, line)
			}
			if j.Error != "" {
				r.Lines = append(r.Lines, "Error: "+j.Error)
			}
			if j.Cancel && !j.Status.Done() {
				r.Lines = append(r.Lines, "Cancel requested: it stops at the next step boundary.")
			}
			return r, nil
		},
	}
}

func cancelVerb() *Verb {
	return &Verb{
		Name:     "cancel",
		Summary:  "stop a job: a queued job never starts, a running one stops after its current step",
		Examples: []string{"/mcloud cancel 12"},
		Spec:     Spec{Args: []Arg{{Name: "job", Kind: KindID, About: "the job's number, from /mcloud jobs"}}},
		Access:   mcloud.AccessDevOps,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			if _, err := c.visibleJob(ctx); err != nil {
				return Reply{}, err
			}
			id, _ := strconv.ParseInt(c.Params["job"], 10, 64)
			j, err := c.svc.store.RequestCancel(ctx, id, c.Caller)
			if err != nil {
				return Reply{}, err
			}
			var text string
			if j.Status == mcloud.JobCancelled {
				text = fmt.Sprintf("Job #%d was cancelled by %s before it started.", j.ID, c.Caller.Name)
			} else {
				text = fmt.Sprintf("%s asked job #%d to stop; it stops after its current step.", c.Caller.Name, j.ID)
			}
			c.svc.post(ctx, j.ChannelID, j.RequestID, j.ID, text)
			return Reply{Title: text}, nil
		},
	}
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

// visibleJob loads the job named by the "job" param, hiding jobs outside
// the call's scope as if they did not exist.
func (c *Call) visibleJob(ctx context.Context) (*mcloud.Job, error) {
	id, _ := strconv.ParseInt(c.Params["job"], 10, 64)
	j, err := c.svc.store.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	if !c.sees(j.Customer, j.ChannelID) {
		return nil, mcloud.Errorf(mcloud.ENOTFOUND, "There is no job #%d.", id)
	}
	return j, nil
}

// visibleRequest is visibleJob for the "request" param.
func (c *Call) visibleRequest(ctx context.Context) (*mcloud.Request, error) {
	id, _ := strconv.ParseInt(c.Params["request"], 10, 64)
	r, err := c.svc.store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if !c.sees(r.Customer, r.Requester.ChannelID) {
		return nil, mcloud.Errorf(mcloud.ENOTFOUND, "There is no request #%d.", id)
	}
	return r, nil
}

func jobLine(j mcloud.Job, now time.Time) string {
	line := fmt.Sprintf("Job #%d %s for %s", j.ID, j.Verb, j.Customer)
	if j.Env != "" {
		line += "/" + j.Env
	}
	line += ": " + string(j.Status)
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
