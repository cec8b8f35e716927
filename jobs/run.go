package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// Attempt is one attempt at a job, handed to the verb that carries it out.
// (A job is run; each time a process takes it up is an attempt.)
type Attempt struct {
	Job  *mcloud.Job
	q    *Queue
	done []string
	// cleanups are the cleanup steps the verb declared, in order.
	cleanups []cleanup
	// unwinding is set when an earlier attempt already decided how the job
	// ends: the verb is run again only to get back its completed steps'
	// results and its cleanup declarations, and stops at the first step
	// that is not done (errUnwinding).
	unwinding bool
}

// errUnwinding stops a verb at its first unfinished step when the job is
// only finishing its cleanups.
var errUnwinding = errors.New("job is ending: only its cleanup steps run")

// Step runs fn as the step called name, once per job: a step an earlier,
// interrupted attempt completed is skipped and its saved result returned.
// Between steps it honours cancel requests. Each completed step is audited
// and reported in the thread. The result is both what the step hands on
// and its progress text; StepOf keeps the two apart.
func (r *Attempt) Step(ctx context.Context, name string, fn func(ctx context.Context) (string, error)) (string, error) {
	st, _, err := r.step(ctx, name, func(ctx context.Context) (store.Step, error) {
		text, err := fn(ctx)
		return store.Step{Value: text}, err
	})
	return st.Value, err
}

// StepOf runs fn as the step called name, once per job, like Attempt.Step, and
// saves its typed result (as JSON) with the step's checkpoint: an attempt
// that resumes the job gets the stored result back without running fn
// again, so later steps receive it however often the job was interrupted.
// fn returns the result and, apart from it, the progress text for the
// thread and the audit log.
func StepOf[T any](ctx context.Context, r *Attempt, name string, fn func(ctx context.Context) (T, string, error)) (T, error) {
	var v T
	st, fresh, err := r.step(ctx, name, func(ctx context.Context) (store.Step, error) {
		var text string
		var err error
		if v, text, err = fn(ctx); err != nil {
			return store.Step{}, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return store.Step{}, fmt.Errorf("encode result: %w", err)
		}
		return store.Step{Value: text, State: string(b)}, nil
	})
	if err != nil || fresh {
		return v, err
	}
	if st.State == "" {
		// Saved by a version of the verb whose step kept only text (a job
		// in flight across an upgrade): guessing the result could report
		// something false, so the job stops and says how to go on.
		return v, mcloud.Errorf(mcloud.ECONFLICT, "Job #%d was started by an older version of mcloud, and this version cannot continue it from its step %q; ask again to run it afresh.", r.Job.ID, name)
	}
	if err := json.Unmarshal([]byte(st.State), &v); err != nil {
		return v, fmt.Errorf("step %s: decode its saved result: %w", name, err)
	}
	return v, nil
}

// step is the checkpointing both Step and StepOf share: it returns the
// saved step and false when an earlier attempt completed it, else runs fn
// and saves what it returns. fresh reports that fn ran in this attempt.
func (r *Attempt) step(ctx context.Context, name string, fn func(ctx context.Context) (store.Step, error)) (st store.Step, fresh bool, err error) {
	if saved, ok, err := r.q.db.Checkpoint(ctx, r.Job.ID, name); err != nil {
		return store.Step{}, false, err
	} else if ok {
		r.done = append(r.done, name)
		return saved, false, nil
	}
	if r.unwinding {
		return store.Step{}, false, errUnwinding
	}
	if cancel, err := r.q.db.CancelRequested(ctx, r.Job.ID); err != nil {
		return store.Step{}, false, err
	} else if cancel {
		return store.Step{}, false, ErrCancelled
	}
	st, err = fn(ctx)
	if err != nil {
		return store.Step{}, false, fmt.Errorf("step %s: %w", name, err)
	}
	st.Name = name
	// A step that did its work is recorded even if the job is being
	// stopped meanwhile: the next attempt must not do it again.
	if err := r.save(ctx, st, ""); err != nil {
		return store.Step{}, false, err
	}
	r.done = append(r.done, name)
	return st, true, nil
}

// save checkpoints st, audits it and says it in the thread; ending, when
// set, is recorded with it.
func (r *Attempt) save(ctx context.Context, st store.Step, ending string) error {
	detail := st.Name
	if st.Value != "" {
		detail += ": " + st.Value
	}
	return r.q.db.SaveCheckpoint(context.WithoutCancel(ctx), r.Job, store.Checkpoint{Step: st, Detail: detail,
		Announce: r.post(fmt.Sprintf("Job #%d: %s", r.Job.ID, detail)), Ending: ending})
}

// Ending is how a job ends, decided before its cleanup steps run and
// recorded, so that an attempt that takes over after a crash finishes the
// cleanups and reports the same outcome. A cleanup may change Error (say
// what it did about the failure), and a failing cleanup fails the job.
type Ending struct {
	Status mcloud.JobStatus `json:"status"`
	// Error is the sentence a failed job reports.
	Error string `json:"error,omitempty"`
	// Detail is the outcome's audit text.
	Detail string `json:"detail"`
}

// Fail makes the job end failed with msg, which replaces the failure's
// sentence (a cleanup that adds what it did to the story).
func (e *Ending) Fail(msg string) {
	e.Status, e.Error, e.Detail = mcloud.JobFailed, msg, msg
}

// CleanupFunc is a cleanup step. end says how the job ends (Status
// succeeded, failed or cancelled); the returned text is the step's progress
// text, and "" with no error means there was nothing to clean up (saved,
// so it is not run again, but neither audited nor said in the thread).
type CleanupFunc func(ctx context.Context, end *Ending) (string, error)

type cleanup struct {
	name string
	fn   CleanupFunc
}

// Cleanup declares a cleanup step called name: it runs once the job's work
// ends, however it ends (success, failure, cancel), like a deferred call,
// in the reverse order of declaration. It is checkpointed like any step,
// so it runs once per job even across a crash: a process that dies while
// a job is cleaning up leaves the next attempt only the cleanups not yet
// done, never the job's work. Declare it before the step whose effect it
// undoes, and on every attempt (declarations are not saved): a resumed
// attempt declares it again as it passes the completed steps.
func (r *Attempt) Cleanup(name string, fn CleanupFunc) {
	for _, c := range r.cleanups {
		if c.name == name {
			return
		}
	}
	r.cleanups = append(r.cleanups, cleanup{name: name, fn: fn})
}

// runCleanups runs the declared cleanup steps not yet done, newest first,
// recording each with the ending as it then stands. A cleanup that fails
// is saved as done too (it ran; a person takes over) and fails the job.
func (r *Attempt) runCleanups(ctx context.Context, end *Ending) error {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		c := r.cleanups[i]
		// Read even while shutting down: a cleanup that must finish
		// ignores ctx, and one that honours it fails and is resumed.
		if _, ok, err := r.q.db.Checkpoint(context.WithoutCancel(ctx), r.Job.ID, c.name); err != nil {
			return err
		} else if ok {
			continue
		}
		text, err := c.fn(ctx, end)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, store.ErrSuperseded) {
				return err
			}
			msg := mcloud.ErrorMessage(err)
			if msg == "" {
				r.q.log.Error("job cleanup failed", "job", r.Job.ID, "cleanup", c.name, "err", err)
				msg = fmt.Sprintf("internal error (reference: job #%d; details are in the bot's log)", r.Job.ID)
			}
			text = "FAILED: " + msg
			why := fmt.Sprintf("cleanup %q failed: %s", c.name, msg)
			switch end.Status {
			case mcloud.JobFailed:
				end.Fail(strings.TrimSuffix(end.Error, ".") + "; then " + why)
			case mcloud.JobCancelled:
				end.Fail("cancelled, then " + why)
			default:
				end.Fail("the work succeeded (" + end.Detail + "), but " + why)
			}
		}
		ending, err := json.Marshal(end)
		if err != nil {
			return err
		}
		st := store.Step{Name: c.name, Value: text}
		if text == "" {
			err = r.q.db.SaveCheckpoint(context.WithoutCancel(ctx), r.Job, store.Checkpoint{Step: st, Ending: string(ending)})
		} else {
			err = r.save(ctx, st, string(ending))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Say posts text in the thread of the job's request. It goes through the
// durable outbox, so nothing is lost while the chat is unreachable. An
// attempt that only finishes a job's cleanups says nothing for the verb:
// it passes again through code whose messages were already sent.
func (r *Attempt) Say(ctx context.Context, text string) {
	if r.unwinding {
		return // said by the attempt that did the work
	}
	if _, err := r.q.db.Post(context.WithoutCancel(ctx), r.post(text)); err != nil {
		r.q.log.Error("queue job message", "job", r.Job.ID, "err", err)
	}
}

// post is a message in the thread of the job's request.
func (r *Attempt) post(text string) mcloud.Post {
	return mcloud.Post{ChannelID: r.Job.ChannelID, RequestID: r.Job.RequestID, JobID: r.Job.ID, Text: text}
}

// Cancelled reports whether someone asked the job to stop, for verbs that
// check between their own units of work (hosts of a rolling patch).
func (r *Attempt) Cancelled(ctx context.Context) bool {
	c, err := r.q.db.CancelRequested(ctx, r.Job.ID)
	return err == nil && c
}

func (r *Attempt) progress() string {
	if len(r.done) == 0 {
		return "no step had completed"
	}
	return "completed: " + strings.Join(r.done, ", ")
}

// progressOf lists the job's saved steps, for an attempt that ran none.
func (r *Attempt) progressOf(ctx context.Context) string {
	steps, err := r.q.db.JobSteps(ctx, r.Job.ID)
	if err != nil || len(steps) == 0 {
		return "no step"
	}
	names := make([]string, len(steps))
	for i, st := range steps {
		names[i] = st.Name
	}
	return strings.Join(names, ", ")
}
