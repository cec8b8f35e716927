package jobs

import (
	"context"
	"fmt"
	"strings"

	"github.com/mcloud/mcloud"
)

// Run is one attempt at a job, handed to the verb that carries it out.
type Run struct {
	Job  *mcloud.Job
	q    *Queue
	done []string
}

// Step runs fn as the step called name, once per job: a step an earlier,
// interrupted attempt completed is skipped and its saved result returned.
// Between steps it honours cancel requests. Each completed step is audited
// and reported in the thread.
func (r *Run) Step(ctx context.Context, name string, fn func(ctx context.Context) (string, error)) (string, error) {
	if v, ok, err := r.q.db.Step(ctx, r.Job.ID, name); err != nil {
		return "", err
	} else if ok {
		r.done = append(r.done, name)
		return v, nil
	}
	if cancel, err := r.q.db.CancelRequested(ctx, r.Job.ID); err != nil {
		return "", err
	} else if cancel {
		return "", ErrCancelled
	}
	result, err := fn(ctx)
	if err != nil {
		return "", fmt.Errorf("step %s: %w", name, err)
	}
	detail := name
	if result != "" {
		detail += ": " + result
	}
	// A step that did its work is recorded even if the job is being
	// stopped meanwhile: the next attempt must not do it again.
	if err := r.q.db.SaveStep(context.WithoutCancel(ctx), r.Job, name, result, detail, r.post(fmt.Sprintf("Job #%d: %s", r.Job.ID, detail))); err != nil {
		return "", err
	}
	r.done = append(r.done, name)
	return result, nil
}

// Say posts text in the thread of the job's request. It goes through the
// durable outbox, so nothing is lost while the chat is unreachable.
func (r *Run) Say(ctx context.Context, text string) {
	if _, err := r.q.db.Post(context.WithoutCancel(ctx), r.post(text)); err != nil {
		r.q.log.Error("queue job message", "job", r.Job.ID, "err", err)
	}
}

// post is a message in the thread of the job's request.
func (r *Run) post(text string) mcloud.Post {
	return mcloud.Post{ChannelID: r.Job.ChannelID, RequestID: r.Job.RequestID, JobID: r.Job.ID, Text: text}
}

// Cancelled reports whether someone asked the job to stop, for verbs that
// check between their own units of work (hosts of a rolling patch).
func (r *Run) Cancelled(ctx context.Context) bool {
	c, err := r.q.db.CancelRequested(ctx, r.Job.ID)
	return err == nil && c
}

func (r *Run) progress() string {
	if len(r.done) == 0 {
		return "no step had completed"
	}
	return "completed: " + strings.Join(r.done, ", ")
}
