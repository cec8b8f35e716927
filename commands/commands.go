// Package commands is mcloud's user-facing contract: one file per verb with
// its grammar, who may run it, its plan, and the job that carries it out.
// It knows nothing of Slack: it takes a verified caller and a line of text
// and returns a neutral Reply that bot/ renders.
package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/jobs"
)

// Verb is one command.
type Verb struct {
	Name     string
	Summary  string
	Help     string
	Examples []string
	Spec     Spec
	Access   mcloud.Access
	// Approvals needed by default when DevOps or a customer asks; config's
	// approvals.rules override them. Only verbs with Execute use them.
	DevOpsApprovals, CustomerApprovals int
	// Do answers at once (reads, approvals).
	Do func(ctx context.Context, c *Call) (Reply, error)
	// Plan and Execute are set for verbs that change something: the plan
	// is shown and approved first, then Execute runs as a durable job.
	Plan    func(ctx context.Context, c *Call) (mcloud.Plan, error)
	Execute func(ctx context.Context, x *Exec) (string, error)
	// Resumable: an interrupted job may continue from its last completed
	// step. Verbs whose steps are not idempotent leave it false and are
	// failed visibly instead.
	Resumable bool
	// DryRun: the verb takes --dry-run to show the plan and stop.
	DryRun bool
	// Hidden verbs work but are not listed by help (echo, the smoke test).
	Hidden bool
}

// Usage is the verb's usage line.
func (v *Verb) Usage() string {
	spec := v.Spec
	if v.DryRun {
		spec.Flags = append(slices.Clone(spec.Flags), Flag{Name: "dry-run", Bool: true})
	}
	u := "/mcloud " + v.Name
	if s := spec.usage(); s != "" {
		u += " " + s
	}
	return u
}

// Call is one invocation of a verb, after parsing and authorization.
type Call struct {
	Caller   mcloud.Caller
	Verb     *Verb
	Params   mcloud.Params
	Customer *config.Customer
	Env      *config.Environment
	svc      *Service
}

// Exec is one attempt at a verb's job.
type Exec struct {
	*jobs.Run
	Customer *config.Customer
	Env      *config.Environment
	Params   mcloud.Params
	svc      *Service
}

// Reply is a verb's answer, free of any chat format.
type Reply struct {
	// Title is the first line; Lines follow it.
	Title string
	Lines []string
	// Error is one sentence saying what was wrong; Usage then shows how to
	// say it right.
	Error string
	Usage string
	// Code is the error's code (mcloud.EINVALID...) when a verb refused.
	Code string
	// Private replies are seen by the caller only (ephemeral in Slack).
	Private bool
	// Request is set when the answer is a plan: pending approval, or with
	// its job already queued.
	Request *mcloud.Request
	Job     *mcloud.Job
	// DryRun marks a plan shown and stopped.
	DryRun bool
}

// Store is what commands need of the store.
type Store interface {
	SubmitWith(ctx context.Context, r *mcloud.Request, enqueue store.Enqueue, o store.SubmitOptions) (*mcloud.Job, error)
	Approve(ctx context.Context, id int64, approver mcloud.Caller, enqueue store.Enqueue) (store.ApproveResult, error)
	Deny(ctx context.Context, id int64, denier mcloud.Caller, reason string) (mcloud.Request, error)
	ExpirePending(ctx context.Context, announce func(mcloud.Request) mcloud.Post) ([]mcloud.Request, error)
	Request(ctx context.Context, id int64) (*mcloud.Request, error)
	PendingRequests(ctx context.Context, customer string) ([]mcloud.Request, error)
	Job(ctx context.Context, id int64) (*mcloud.Job, error)
	Jobs(ctx context.Context, customer string, active bool, limit int) ([]mcloud.Job, error)
	JobSteps(ctx context.Context, id int64) ([]store.Step, error)
	RequestCancel(ctx context.Context, id int64, who mcloud.Caller) (*mcloud.Job, error)
	Audit(ctx context.Context, e mcloud.AuditEntry) error
	AuditLog(ctx context.Context, customer string, since time.Time, limit int) ([]mcloud.AuditEntry, error)
	Post(ctx context.Context, p mcloud.Post) (int64, error)
}

// Deps are the outside systems verbs reach. A nil one makes its verbs
// answer that the integration is not configured.
type Deps struct {
	AWS    AWSAccounts  // see aws.go
	SSH    SSHConnector // see ssh.go
	Alerts Acknowledger // see alerts.go
}

// Service runs commands.
type Service struct {
	// Deps is set once at start, before the first command.
	Deps    Deps
	cfg     *config.Config
	store   Store
	enqueue store.Enqueue
	verbs   map[string]*Verb
	Now     func() time.Time
	Log     *slog.Logger
	// Observe, when set, hears of every command handled: its verb
	// ("unknown" when none matched) and its Outcome (metrics).
	Observe func(verb, outcome string)
}

// New registers every verb and checks the configuration's approval rules
// against them. Two verbs with one name is a programming error, refused here.
func New(cfg *config.Config, st Store) (*Service, error) {
	s := &Service{cfg: cfg, store: st, verbs: map[string]*Verb{}, Now: time.Now, Log: slog.Default()}
	for _, v := range allVerbs() {
		if err := s.register(v); err != nil {
			return nil, err
		}
	}
	var bad []string
	for name := range cfg.Approvals.Rules {
		v := s.verbs[name]
		switch {
		case v == nil:
			bad = append(bad, fmt.Sprintf("approvals.rules.%s: unknown command; commands that take approval: %s", name, strings.Join(s.approvable(), ", ")))
		case v.Execute == nil:
			bad = append(bad, fmt.Sprintf("approvals.rules.%s: %s changes nothing and never needs approval", name, name))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, &config.Invalid{Problems: bad}
	}
	return s, nil
}

// SetQueue connects the job queue; requests can be made before it is set
// only if none needs to enqueue.
func (s *Service) SetQueue(enqueue store.Enqueue) { s.enqueue = enqueue }

func (s *Service) register(v *Verb) error {
	if _, dup := s.verbs[v.Name]; dup {
		return fmt.Errorf("two commands are named %q", v.Name)
	}
	if (v.Do == nil) == (v.Execute == nil) || (v.Execute != nil && v.Plan == nil) {
		return fmt.Errorf("command %q must have either Do, or Plan and Execute", v.Name)
	}
	s.verbs[v.Name] = v
	return nil
}

func (s *Service) approvable() []string {
	var out []string
	for name, v := range s.verbs {
		if v.Execute != nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Verbs lists the registered verbs by name.
func (s *Service) Verbs() []*Verb {
	out := make([]*Verb, 0, len(s.verbs))
	for _, v := range s.verbs {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Config returns the configuration the service runs with.
func (s *Service) Config() *config.Config { return s.cfg }

// Handle runs one command line from caller. It never panics on input and
// always answers: bad input gets one sentence and the usage line.
func (s *Service) Handle(ctx context.Context, caller mcloud.Caller, line string) (reply Reply) {
	verb := "unknown" // a label for metrics: never the typed word, which could be anything
	defer func() {
		if r := recover(); r != nil {
			// Not the line itself: it may carry a secret typed after --.
			s.Log.Error("command panicked", "verb", verbOf(line), "panic", r)
			reply = Reply{Error: "Something went wrong on our side (internal error); the DevOps team has the details in the bot's log.", Private: true}
		}
		if s.Observe != nil {
			s.Observe(verb, Outcome(verb, reply))
		}
	}()
	if r, bad := s.refuseInvisible(line); bad {
		return r
	}
	words, rest, err := tokenize(strings.TrimSpace(line))
	if err != nil {
		return Reply{Error: capitalize(err.Error()) + ".", Usage: "/mcloud help", Private: true}
	}
	if len(words) > 0 && (words[0] == "/mcloud" || words[0] == "mcloud") {
		words = words[1:]
		rest.at--
	}
	if len(words) == 0 {
		words = []string{"help"}
	}
	v := s.verbs[words[0]]
	if v == nil {
		msg := fmt.Sprintf("Unknown command %q.", words[0])
		if near := s.nearest(words[0]); near != "" {
			msg = fmt.Sprintf("Unknown command %q; did you mean %q?", words[0], near)
		}
		return Reply{Error: msg, Usage: "/mcloud help", Private: true}
	}
	verb = v.Name
	args := words[1:]
	rest.at-- // now an index into args
	if len(args) == 1 && (args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
		return s.verbHelp(v, caller)
	}
	return s.run(ctx, caller, v, args, rest)
}

func (s *Service) run(ctx context.Context, caller mcloud.Caller, v *Verb, args []string, rest tail) Reply {
	fail := func(err error) Reply {
		r := Reply{Private: true, Usage: v.Usage(), Code: mcloud.ErrorCode(err)}
		if msg := mcloud.ErrorMessage(err); msg != "" {
			r.Error = msg
			if code := mcloud.ErrorCode(err); code == mcloud.EUNAUTHORIZED || code == mcloud.ENOTFOUND || code == mcloud.ECONFLICT {
				r.Usage = "" // the usage is not what went wrong
			}
			return r
		}
		ref := fmt.Sprintf("%x", s.Now().UnixNano()&0xffffff)
		s.Log.Error("command failed", "verb", v.Name, "user", caller.UserID, "ref", ref, "err", err)
		return Reply{Private: true, Code: mcloud.EINTERNAL, Error: fmt.Sprintf("Something went wrong on our side (internal error, reference %s); the DevOps team can look it up in the bot's log.", ref)}
	}
	if err := mcloud.Authorize(caller, v.Name, v.Access, ""); err != nil {
		s.refused(ctx, caller, caller.Customer, v.Name, err)
		return fail(err)
	}
	spec := v.Spec
	if v.DryRun {
		spec.Flags = append(slices.Clone(spec.Flags), Flag{Name: "dry-run", Bool: true})
	}
	p, perr := parse(spec, args, rest, s.cfg, caller)
	if perr != nil {
		if perr.Code == mcloud.EUNAUTHORIZED {
			s.refused(ctx, caller, caller.Customer, v.Name, perr)
		}
		return fail(perr)
	}
	customer := ""
	if p.customer != nil {
		customer = p.customer.Name
	}
	if err := mcloud.Authorize(caller, v.Name, v.Access, customer); err != nil {
		s.refused(ctx, caller, caller.Customer, v.Name, err)
		return fail(err)
	}
	call := &Call{Caller: caller, Verb: v, Params: p.params, Customer: p.customer, Env: p.env, svc: s}
	if v.Do != nil {
		r, err := v.Do(ctx, call)
		if err != nil {
			return fail(err)
		}
		return r
	}
	r, err := s.propose(ctx, call)
	if err != nil {
		return fail(err)
	}
	return r
}

// propose shows a changing verb's plan and either stops (--dry-run), waits
// for approval, or, when none is needed, queues the job at once.
func (s *Service) propose(ctx context.Context, c *Call) (Reply, error) {
	plan, err := c.Verb.Plan(ctx, c)
	if err != nil {
		return Reply{}, err
	}
	now := s.Now()
	params := c.Params
	dry := params["dry-run"] == "true"
	delete(params, "dry-run")
	req := &mcloud.Request{Verb: c.Verb.Name, Customer: c.Customer.Name, Params: params, Plan: plan,
		Requester: c.Caller, Needed: s.cfg.Approvers(c.Verb.Name, c.Caller.Role, c.Verb.DevOpsApprovals, c.Verb.CustomerApprovals),
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.Approvals.Expiry.Std())}
	if c.Env != nil {
		req.Env = c.Env.Name
	}
	if dry {
		return Reply{Request: req, DryRun: true}, nil
	}
	if err := mcloud.MayRequest(c.Caller, c.Verb.Name, c.Customer.Name); err != nil {
		s.refused(ctx, c.Caller, c.Customer.Name, c.Verb.Name, err)
		return Reply{}, err
	}
	if s.enqueue == nil {
		return Reply{}, errors.New("job queue not connected")
	}
	job, err := s.store.SubmitWith(ctx, req, s.enqueue, store.SubmitOptions{Unique: true, Announce: s.announce})
	var dup *store.AlreadyWaiting
	if errors.As(err, &dup) {
		w := dup.Request
		return Reply{}, mcloud.Errorf(mcloud.ECONFLICT, "This is already waiting as #%d (%s, asked by %s %s ago; %d of %d approvals; expires %s); nothing new was filed. See it with /mcloud job %d.",
			w.ID, workOf(w.Verb, w.Customer, w.Env), w.Requester.Name, humanDuration(now.Sub(w.CreatedAt)), len(w.Approvals), w.Needed,
			w.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"), w.ID)
	}
	if err != nil {
		return Reply{}, err
	}
	return Reply{Request: req, Job: job}, nil
}

// ApprovalsChannel is where requests waiting for DevOps are announced: the
// first of the team's channels ("" when none is configured).
func (s *Service) ApprovalsChannel() string {
	if len(s.cfg.Team.Channels) == 0 {
		return ""
	}
	return s.cfg.Team.Channels[0].ID
}

// announce tells the approvers of a request that waits for them, unless it
// was asked in their channel, where its plan already is. It is the same
// request with the same buttons: whichever message is clicked decides it,
// and both are updated.
func (s *Service) announce(r mcloud.Request) []store.OutboxItem {
	ch := s.ApprovalsChannel()
	if ch == "" || ch == r.Requester.ChannelID {
		return nil
	}
	text := fmt.Sprintf("Request #%d waits for approval: %s, asked by %s in #%s; expires %s.\nApprove: /mcloud approve %d    Deny: /mcloud deny %d [reason]",
		r.ID, workOf(r.Verb, r.Customer, r.Env), r.Requester.Name, s.cfg.ChannelName(r.Requester.ChannelID),
		r.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"), r.ID, r.ID)
	return []store.OutboxItem{{Post: mcloud.Post{ChannelID: ch, RequestID: r.ID, Text: text}, Kind: store.KindPlan}}
}

// refused audits an authorization refusal against the caller's own customer,
// so DevOps can see who tried what.
func (s *Service) refused(ctx context.Context, caller mcloud.Caller, customer, verb string, err *mcloud.Error) {
	if customer == "" {
		customer = caller.ChannelCustomer
	}
	if customer == "" {
		return
	}
	if aerr := s.store.Audit(ctx, mcloud.AuditEntry{Customer: customer, UserID: caller.UserID, UserName: caller.Name,
		ChannelID: caller.ChannelID, Event: mcloud.AuditRefused, Detail: verb + ": " + err.Message}); aerr != nil {
		s.Log.Error("audit refusal", "err", aerr)
	}
}

// verbOf is the verb a line names, for logs: at most its first word after
// /mcloud, cut short.
func verbOf(line string) string {
	f := strings.Fields(line)
	if len(f) > 0 && (f[0] == "/mcloud" || f[0] == "mcloud") {
		f = f[1:]
	}
	if len(f) == 0 {
		return ""
	}
	if len(f[0]) > 32 {
		return f[0][:32]
	}
	return f[0]
}

// nearest suggests a verb for a typo.
func (s *Service) nearest(word string) string {
	best, bestD := "", 3
	for name := range s.verbs {
		if d := distance(word, name); d < bestD || (d == bestD && name < best) {
			best, bestD = name, d
		}
	}
	return best
}

func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// RunJob carries out a job; it implements jobs.Runner.
func (s *Service) RunJob(ctx context.Context, run *jobs.Run) (string, error) {
	v := s.verbs[run.Job.Verb]
	if v == nil || v.Execute == nil {
		return "", fmt.Errorf("job #%d: no command %q can run it", run.Job.ID, run.Job.Verb)
	}
	cu := s.cfg.Customer(run.Job.Customer)
	if cu == nil {
		return "", mcloud.Errorf(mcloud.ENOTFOUND, "customer %s is no longer in the configuration", run.Job.Customer)
	}
	x := &Exec{Run: run, Customer: cu, Params: run.Job.Params, svc: s}
	if run.Job.Env != "" {
		if x.Env = cu.Env(run.Job.Env); x.Env == nil {
			return "", mcloud.Errorf(mcloud.ENOTFOUND, "environment %s/%s is no longer in the configuration", cu.Name, run.Job.Env)
		}
	}
	return v.Execute(ctx, x)
}

// Resumable implements jobs.Runner.
func (s *Service) Resumable(verb string) bool {
	v := s.verbs[verb]
	return v != nil && v.Resumable
}

// ExpireRequests expires overdue requests and tells their threads, in one
// transaction. Run it periodically.
func (s *Service) ExpireRequests(ctx context.Context) error {
	_, err := s.store.ExpirePending(ctx, func(r mcloud.Request) mcloud.Post {
		return mcloud.Post{ChannelID: r.Requester.ChannelID, RequestID: r.ID,
			Text: fmt.Sprintf("Request #%d (%s for %s) expired without enough approvals; nothing ran. Ask again if it is still needed.", r.ID, r.Verb, r.Customer)}
	})
	return err
}

func (s *Service) post(ctx context.Context, channel string, requestID, jobID int64, text string) {
	if _, err := s.store.Post(ctx, mcloud.Post{ChannelID: channel, RequestID: requestID, JobID: jobID, Text: text}); err != nil {
		s.Log.Error("queue message", "channel", channel, "err", err)
	}
}

// allVerbs is the registry: adding a verb means adding its file and a line here.
func allVerbs() []*Verb {
	all := []*Verb{
		helpVerb(), statusVerb(), jobsVerb(), jobVerb(), cancelVerb(),
		approveVerb(), denyVerb(), auditVerb(), echoVerb(),
		restoreLogsVerb(), restoreArtifactsVerb(), backupVerb(), backupsVerb(), dbExportVerb(),
		patchVerb(), runVerb(), pendingVerb(), linksVerb(), alertsVerb(), ackVerb(),
	}
	return slices.DeleteFunc(all, func(v *Verb) bool { return v == nil })
}
