package mcloud

import (
	"slices"
	"time"
)

// Role is what a caller is, derived from the verified identity and the
// channel, never from anything the caller typed.
type Role int

const (
	RoleNone     Role = iota // unknown user: may only ask for help
	RoleCustomer             // a user of one customer, in that customer's channel
	RoleDevOps               // a member of the team
	// RoleSystem is policy, not a person: a schedule of the reviewed
	// configuration starting work (see PolicyMayStart). No Slack payload
	// ever resolves to it.
	RoleSystem
)

func (r Role) String() string {
	switch r {
	case RoleCustomer:
		return "customer"
	case RoleDevOps:
		return "devops"
	case RoleSystem:
		return "system"
	}
	return "none"
}

// Caller is who sent a command, where.
type Caller struct {
	UserID       string
	TeamID       string
	EnterpriseID string
	ChannelID    string
	// Name is for display only; it never decides anything.
	Name string
	Role Role
	// Approver is set only for DevOps members named as approvers.
	Approver bool
	// Customer is the customer whose user this is (RoleCustomer only).
	Customer string
	// ChannelKind is what the channel is (team, customer, other); it
	// decides whether an answer may be public (see Public).
	ChannelKind ChannelKind
	// ChannelCustomer is the customer the channel is bound to, "" for a
	// team channel or any other.
	ChannelCustomer string
	// Home is the configured workspace (team id) that vouches for this
	// user, "" when none does; with UserID it is who they are (SameUser).
	Home string
}

// Request is a command that changes something and waits for approval.
type Request struct {
	ID        int64
	Verb      string
	Customer  string
	Env       string
	Params    Params
	Plan      Plan
	Requester Caller
	// Needed is how many distinct approvers must approve.
	Needed    int
	Status    RequestStatus
	Approvals []Approval
	// DeniedBy (a display name) and Reason are set when Status is
	// denied; Denier is who denied it, by identity (empty for a request
	// denied before it was kept), which is what Withdrawn decides by.
	DeniedBy  string
	Denier    Caller
	Reason    string
	JobID     int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// RequestStatus is where a request is in its life.
type RequestStatus string

const (
	RequestPending  RequestStatus = "pending"
	RequestApproved RequestStatus = "approved"
	RequestDenied   RequestStatus = "denied"
	RequestExpired  RequestStatus = "expired"
)

// Approval is one approver's yes.
type Approval struct {
	UserID string
	Name   string
	At     time.Time
}

// Params are a command's parsed arguments, by name, as stored with a request
// and handed to its job.
type Params map[string]string

// Plan is what a command will do, shown before anything runs.
type Plan struct {
	Summary string
	// Command is text that is sent somewhere exactly as typed (run's
	// shell line), shown verbatim in a code block so that what is
	// approved is what runs.
	Command string `json:",omitempty"`
	Steps   []string
	// Notes carry cost-relevant choices.
	Notes []string
	// Warnings are what the asker probably did not mean (an option typed
	// where mcloud does not read it); shown before everything else.
	Warnings []string `json:",omitempty"`
	// Approvals, when above the verb's rule, is how many approvers this
	// particular plan needs (provision: two when it replaces or removes a
	// database, volume or hosted zone).
	Approvals int
	// Nothing: the plan changes nothing, so it is shown and not filed.
	Nothing bool
	// Deletes counts what the plan destroys (snapshots a retention run
	// would delete), for the rule on what policy may start alone.
	Deletes int `json:",omitempty"`
	// DeleteCap is the most such a run may destroy without a person.
	DeleteCap int `json:",omitempty"`
}

// Job is approved work running durably.
type Job struct {
	ID        int64
	RequestID int64
	Verb      string
	Customer  string
	Env       string
	Params    Params
	Status    JobStatus
	Attempt   int
	// ChannelID and Requester let the job report where it was asked for.
	ChannelID string
	Requester string
	Error     string
	CreatedAt time.Time
	StartedAt time.Time
	EndedAt   time.Time
	Cancel    bool
}

// JobStatus is where a job is in its life.
type JobStatus string

const (
	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
	JobCancelled JobStatus = "cancelled"
)

// Done reports whether the job will never run again.
func (s JobStatus) Done() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCancelled
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	ID        int64
	At        time.Time
	Customer  string
	UserID    string
	UserName  string
	ChannelID string
	RequestID int64
	JobID     int64
	Event     string
	Detail    string
}

// Audit events.
const (
	AuditRequested = "requested"
	AuditPlanned   = "planned"
	AuditApproved  = "approved"
	AuditDenied    = "denied"
	AuditExpired   = "expired"
	AuditRefused   = "refused"
	AuditQueued    = "queued"
	AuditStarted   = "started"
	AuditResumed   = "resumed"
	AuditStep      = "step"
	AuditSucceeded = "succeeded"
	AuditFailed    = "failed"
	AuditCancel    = "cancel-requested"
	AuditCancelled = "cancelled"
	// A person paused or resumed a schedule.
	AuditPaused          = "schedule-paused"
	AuditResumedSchedule = "schedule-resumed"
	// AuditLinks: fresh download links were given to someone.
	AuditLinks = "links"
	// AuditHandover: a credential was sent to someone by direct message
	// (the secret's name and the recipient, never its value).
	AuditHandover = "handover"
	// AuditAcknowledged: an alert was acknowledged back in its monitoring
	// system (typed ack or the Acknowledge button).
	AuditAcknowledged = "alert-acknowledged"
)

// Post is a message for a channel, optionally in the thread of a request.
type Post struct {
	ID        int64
	ChannelID string
	RequestID int64
	JobID     int64
	Text      string
	CreatedAt time.Time
}

// HasApproved reports whether userID already approved r. Approvers are
// DevOps members, whom only the DevOps workspace vouches for, so within
// one request the user id is their whole identity (see SameUser).
func (r *Request) HasApproved(userID string) bool {
	return slices.ContainsFunc(r.Approvals, func(a Approval) bool { return a.UserID == userID })
}
