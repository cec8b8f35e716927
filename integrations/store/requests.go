package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mcloud/mcloud"
)

// Enqueue puts a job on the durable queue inside tx, so the job exists if
// and only if the transaction that approved it commits.
type Enqueue func(ctx context.Context, tx *sql.Tx, job mcloud.Job) error

// Submit stores a new request with its plan. When it needs no approval it
// is approved at once and its job enqueued, in the same transaction.
func (s *DB) Submit(ctx context.Context, r *mcloud.Request, enqueue Enqueue) (*mcloud.Job, error) {
	return s.SubmitWith(ctx, r, enqueue, SubmitOptions{})
}

// SubmitOptions are what the request flow adds to a plain Submit.
type SubmitOptions struct {
	// Unique refuses a request that repeats one still waiting for
	// approval (same verb, customer, environment and parameters), with
	// *AlreadyWaiting: asking twice must not make approvers decide twice.
	Unique bool
	// Announce returns messages to queue when the request waits for
	// approval, in the transaction that files it, so no waiting request
	// goes untold (the approvers' copy of its plan).
	Announce func(r mcloud.Request) []OutboxItem
	// Thread returns messages to queue whatever the request needs: the
	// plan message of work policy asked for, which no reply renders.
	Thread func(r mcloud.Request) []OutboxItem
	// Fire, when set, is claimed in the same transaction: a fire time
	// already claimed files nothing and returns *AlreadyFired.
	Fire *Fire
}

// AlreadyWaiting is SubmitWith's refusal of a repeated request.
type AlreadyWaiting struct {
	// Request is the one already waiting.
	Request mcloud.Request
}

func (e *AlreadyWaiting) Error() string {
	return fmt.Sprintf("already waiting as request #%d", e.Request.ID)
}

// SubmitWith is Submit with o's additions.
func (s *DB) SubmitWith(ctx context.Context, r *mcloud.Request, enqueue Enqueue, o SubmitOptions) (*mcloud.Job, error) {
	params, _ := json.Marshal(r.Params)
	plan, _ := json.Marshal(r.Plan)
	requester, _ := json.Marshal(r.Requester)
	var job *mcloud.Job
	var dup *AlreadyWaiting
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// A delivery worked again after a crash gets the request it made.
		if prev, prevJob, ok, err := s.submitted(ctx, tx); err != nil || ok {
			if ok {
				*r, job = *prev, prevJob
			}
			return err
		}
		if o.Unique {
			// Params encode with sorted keys, so equal params are equal text.
			rows, err := tx.QueryContext(ctx, s.rebind(requestSelect+` WHERE status = ? AND verb = ? AND customer = ? AND env = ? AND params = ? AND expires_at > ? ORDER BY id LIMIT 1`),
				string(mcloud.RequestPending), r.Verb, r.Customer, r.Env, string(params), ms(s.Now()))
			if err != nil {
				return fmt.Errorf("look for the same request waiting: %w", err)
			}
			same, err := scanRequests(rows)
			if err != nil {
				return err
			}
			if len(same) > 0 {
				dup = &AlreadyWaiting{Request: same[0]}
				return nil
			}
		}
		r.Status = mcloud.RequestPending
		if o.Fire != nil && o.Fire.RequestID == 0 {
			// Claimed first, so a replica that lost the race files nothing.
			if err := s.claimFire(ctx, tx, o.Fire); err != nil {
				return err
			}
		}
		id, err := s.insertID(ctx, tx, `INSERT INTO requests (verb, customer, env, params, plan, requester, requester_id, channel_id, needed, status, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Verb, r.Customer, r.Env, string(params), string(plan), string(requester), r.Requester.UserID, r.Requester.ChannelID,
			r.Needed, string(r.Status), ms(r.CreatedAt), ms(r.ExpiresAt))
		if err != nil {
			return fmt.Errorf("insert request: %w", err)
		}
		r.ID = id
		if err := s.markSubmitted(ctx, tx, id); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, auditFor(r, r.Requester, mcloud.AuditRequested, r.Verb+" "+paramsText(r.Params))); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, auditFor(r, r.Requester, mcloud.AuditPlanned, planText(r.Plan, r.Needed))); err != nil {
			return err
		}
		if o.Fire != nil {
			if err := s.fireFiled(ctx, tx, o.Fire, r.ID); err != nil {
				return err
			}
		}
		if err := s.queueFor(ctx, tx, r, o.Thread); err != nil {
			return err
		}
		if r.Needed > 0 {
			if o.Announce == nil {
				return nil
			}
			return s.queueFor(ctx, tx, r, o.Announce)
		}
		job, err = s.approve(ctx, tx, r, r.Requester, enqueue)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("submit %s request: %w", r.Verb, err)
	}
	if dup != nil {
		return nil, dup
	}
	return job, nil
}

// queueFor queues the messages of request r that f returns, inside tx.
func (s *DB) queueFor(ctx context.Context, tx *sql.Tx, r *mcloud.Request, f func(mcloud.Request) []OutboxItem) error {
	if f == nil {
		return nil
	}
	for _, it := range f(*r) {
		it.RequestID = r.ID
		if _, err := s.queueMessage(ctx, tx, it); err != nil {
			return fmt.Errorf("queue a message of request #%d: %w", r.ID, err)
		}
	}
	return nil
}

// PlanChannels lists the channels that have, or will have, a plan
// message of request id: the requester's and the approvers'. A decision
// updates each of them in place.
func (s *DB) PlanChannels(ctx context.Context, id int64) ([]string, error) {
	return s.queryStrings(ctx, fmt.Sprintf("list plan messages of request #%d", id), `SELECT channel_id FROM outbox WHERE request_id = ? AND kind = ?
		UNION SELECT channel_id FROM slack_messages WHERE request_id = ? ORDER BY 1`, id, KindPlan, id)
}

// approve marks r approved, creates its job and enqueues it, inside tx;
// who is the last approver (or the requester when none was needed).
func (s *DB) approve(ctx context.Context, tx *sql.Tx, r *mcloud.Request, who mcloud.Caller, enqueue Enqueue) (*mcloud.Job, error) {
	job := &mcloud.Job{RequestID: r.ID, Verb: r.Verb, Customer: r.Customer, Env: r.Env, Params: r.Params,
		Status: mcloud.JobQueued, ChannelID: r.Requester.ChannelID, Requester: r.Requester.Name, CreatedAt: s.Now()}
	params, _ := json.Marshal(job.Params)
	// The job takes its request's number: one number names the work from
	// plan to outcome, so "cancel 2" can only mean request #2's job.
	id := r.ID
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO jobs (id, request_id, verb, customer, env, params, status, channel_id, requester, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		id, job.RequestID, job.Verb, job.Customer, job.Env, string(params), string(job.Status), job.ChannelID, job.Requester, ms(job.CreatedAt)); err != nil {
		return nil, fmt.Errorf("insert job: %w", err)
	}
	job.ID = id
	r.Status, r.JobID = mcloud.RequestApproved, id
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE requests SET status = ?, job_id = ? WHERE id = ?`), string(r.Status), id, r.ID); err != nil {
		return nil, fmt.Errorf("mark request approved: %w", err)
	}
	e := auditFor(r, who, mcloud.AuditQueued, fmt.Sprintf("job #%d queued", id))
	e.JobID = id
	if err := s.audit(ctx, tx, e); err != nil {
		return nil, err
	}
	if err := enqueue(ctx, tx, *job); err != nil {
		return nil, fmt.Errorf("enqueue job #%d: %w", id, err)
	}
	return job, nil
}

// ApproveResult says what an approval did.
type ApproveResult struct {
	Outcome mcloud.ApprovalOutcome
	Request mcloud.Request
	// Job is set when this approval was the last one needed.
	Job *mcloud.Job
}

// Approve records approver's approval of request id, deciding with
// mcloud.DecideApproval inside the transaction so two clicks at once are
// counted once and the job is enqueued at most once. A refusal is returned
// as a *mcloud.Error (EUNAUTHORIZED, ECONFLICT) and audited.
func (s *DB) Approve(ctx context.Context, id int64, approver mcloud.Caller, enqueue Enqueue) (ApproveResult, error) {
	var res ApproveResult
	var refusal *mcloud.Error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := s.getRequest(ctx, tx, id, true)
		if err != nil {
			return err
		}
		now := s.Now()
		outcome, refused := mcloud.DecideApproval(*r, approver, now)
		res.Outcome, res.Request = outcome, *r
		switch outcome {
		case mcloud.ApprovalRefused:
			refusal = refused
			return s.audit(ctx, tx, auditFor(r, approver, mcloud.AuditRefused, "approval refused: "+refused.Message))
		case mcloud.ApprovalRepeated:
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO approvals (request_id, user_id, name, at) VALUES (?, ?, ?, ?)`),
			r.ID, approver.UserID, approver.Name, ms(now)); err != nil {
			return fmt.Errorf("insert approval: %w", err)
		}
		r.Approvals = append(r.Approvals, mcloud.Approval{UserID: approver.UserID, Name: approver.Name, At: now})
		if err := s.audit(ctx, tx, auditFor(r, approver, mcloud.AuditApproved,
			fmt.Sprintf("approval %d of %d", len(r.Approvals), r.Needed))); err != nil {
			return err
		}
		if outcome == mcloud.ApprovalComplete {
			if res.Job, err = s.approve(ctx, tx, r, approver, enqueue); err != nil {
				return err
			}
		}
		res.Request = *r
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("approve request #%d: %w", id, err)
	}
	if refusal != nil {
		return res, refusal
	}
	return res, nil
}

// Deny denies (or, for the requester, withdraws) request id.
func (s *DB) Deny(ctx context.Context, id int64, denier mcloud.Caller, reason string) (mcloud.Request, error) {
	var out mcloud.Request
	var refusal *mcloud.Error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := s.getRequest(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if refusal = mcloud.DecideDenial(*r, denier, s.Now()); refusal != nil {
			out = *r
			return s.audit(ctx, tx, auditFor(r, denier, mcloud.AuditRefused, "denial refused: "+refusal.Message))
		}
		r.Status, r.DeniedBy, r.Denier, r.Reason = mcloud.RequestDenied, denier.Name, denier, reason
		// The denier's identity is kept so that whether this was a
		// withdrawal is decided by who they are (mcloud.Withdrawn).
		who, err := json.Marshal(denier)
		if err != nil {
			return fmt.Errorf("encode denier: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE requests SET status = ?, denied_by = ?, denier = ?, reason = ? WHERE id = ?`),
			string(r.Status), r.DeniedBy, string(who), r.Reason, r.ID); err != nil {
			return fmt.Errorf("mark denied: %w", err)
		}
		out = *r
		detail := "denied"
		if reason != "" {
			detail += ": " + reason
		}
		return s.audit(ctx, tx, auditFor(r, denier, mcloud.AuditDenied, detail))
	})
	if err != nil {
		return out, fmt.Errorf("deny request #%d: %w", id, err)
	}
	if refusal != nil {
		return out, refusal
	}
	return out, nil
}

// ExpirePending marks every pending request past its expiry as expired,
// queues announce(request) for each in the same transaction (so no expiry
// goes untold), and returns them. announce may be nil.
func (s *DB) ExpirePending(ctx context.Context, announce func(mcloud.Request) mcloud.Post) ([]mcloud.Request, error) {
	var expired []mcloud.Request
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.rebind(requestSelect+` WHERE status = ? AND expires_at <= ?`+s.forUpdate()),
			string(mcloud.RequestPending), ms(s.Now()))
		if err != nil {
			return err
		}
		list, err := scanRequests(rows)
		if err != nil {
			return err
		}
		for _, r := range list {
			if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE requests SET status = ? WHERE id = ? AND status = ?`),
				string(mcloud.RequestExpired), r.ID, string(mcloud.RequestPending)); err != nil {
				return err
			}
			r.Status = mcloud.RequestExpired
			sys := mcloud.Caller{UserID: "mcloud", Name: "mcloud", ChannelID: r.Requester.ChannelID}
			if err := s.audit(ctx, tx, auditFor(&r, sys, mcloud.AuditExpired, "expired without enough approvals; nothing ran")); err != nil {
				return err
			}
			if announce != nil {
				if _, err := s.post(ctx, tx, announce(r)); err != nil {
					return err
				}
			}
			expired = append(expired, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expire requests: %w", err)
	}
	return expired, nil
}

// Request returns request id with its approvals, or ENOTFOUND.
func (s *DB) Request(ctx context.Context, id int64) (*mcloud.Request, error) {
	return s.getRequest(ctx, s.db, id, false)
}

// PendingRequests lists a customer's requests waiting for approval ("" for all).
func (s *DB) PendingRequests(ctx context.Context, customer string) ([]mcloud.Request, error) {
	q, args := requestSelect+` WHERE status = ?`, []any{string(mcloud.RequestPending)}
	if customer != "" {
		q, args = q+` AND customer = ?`, append(args, customer)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("list pending requests: %w", err)
	}
	return scanRequests(rows)
}

const requestSelect = `SELECT id, verb, customer, env, params, plan, requester, needed, status, denied_by, denier, reason, job_id, created_at, expires_at FROM requests`

func (s *DB) getRequest(ctx context.Context, q querier, id int64, lock bool) (*mcloud.Request, error) {
	query := requestSelect + ` WHERE id = ?`
	if lock {
		query += s.forUpdate()
	}
	rows, err := q.QueryContext(ctx, s.rebind(query), id)
	if err != nil {
		return nil, fmt.Errorf("read request #%d: %w", id, err)
	}
	list, err := scanRequests(rows)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, mcloud.Errorf(mcloud.ENOTFOUND, "There is no request #%d.", id)
	}
	r := &list[0]
	arows, err := q.QueryContext(ctx, s.rebind(`SELECT user_id, name, at FROM approvals WHERE request_id = ? ORDER BY at, user_id`), id)
	if err != nil {
		return nil, fmt.Errorf("read approvals of #%d: %w", id, err)
	}
	defer arows.Close()
	for arows.Next() {
		var a mcloud.Approval
		var at int64
		if err := arows.Scan(&a.UserID, &a.Name, &at); err != nil {
			return nil, err
		}
		a.At = fromMS(at)
		r.Approvals = append(r.Approvals, a)
	}
	return r, arows.Err()
}

func scanRequests(rows *sql.Rows) ([]mcloud.Request, error) {
	defer rows.Close()
	var out []mcloud.Request
	for rows.Next() {
		var r mcloud.Request
		var params, plan, requester, denier, status string
		var created, expires int64
		if err := rows.Scan(&r.ID, &r.Verb, &r.Customer, &r.Env, &params, &plan, &requester, &r.Needed, &status,
			&r.DeniedBy, &denier, &r.Reason, &r.JobID, &created, &expires); err != nil {
			return nil, fmt.Errorf("scan request: %w", err)
		}
		var denierErr error
		if denier != "" { // denied before the denier was kept, or not denied
			denierErr = json.Unmarshal([]byte(denier), &r.Denier)
		}
		if err := errors.Join(json.Unmarshal([]byte(params), &r.Params), json.Unmarshal([]byte(plan), &r.Plan),
			json.Unmarshal([]byte(requester), &r.Requester), denierErr); err != nil {
			return nil, fmt.Errorf("decode request #%d: %w", r.ID, err)
		}
		r.Status, r.CreatedAt, r.ExpiresAt = mcloud.RequestStatus(status), fromMS(created), fromMS(expires)
		out = append(out, r)
	}
	return out, rows.Err()
}

func auditFor(r *mcloud.Request, who mcloud.Caller, event, detail string) mcloud.AuditEntry {
	return mcloud.AuditEntry{Customer: r.Customer, UserID: who.UserID, UserName: who.Name, ChannelID: who.ChannelID,
		RequestID: r.ID, JobID: r.JobID, Event: event, Detail: detail}
}
