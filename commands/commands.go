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

// Verb is one command. Name is one word ("backup"), or two for a sub-verb
// ("schedules run"): a sub-verb is a verb in its own right, with its own
// grammar, access, approvals (approvals.rules."schedules run"), help and
// dry-run; it shares only the first word with its siblings, and a verb named
// by that word alone (if any) answers when no sub-verb follows.
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
	// Unwinds: an interrupted job that is not resumed still runs its
	// cleanup steps (see jobs.Unwinder); the verb's code outside its
	// steps runs again, so it must change nothing.
	Unwinds bool
	// DryRun: the verb takes --dry-run to show the plan and stop.
	DryRun bool
	// Hidden verbs work but are not listed by help (echo, the smoke test).
	Hidden bool
}

// Usage is the verb's usage line.
func (v *Verb) Usage() string { return v.usage(v.Spec) }

// usageFor is the usage line as it holds for caller: in a customer's
// channel the customer may be left out, so it is shown [optional].
func (v *Verb) usageFor(caller mcloud.Caller) string {
	spec := v.Spec
	if caller.ChannelCustomer != "" && len(spec.Args) > 0 && spec.Args[0].Kind == KindCustomer {
		spec.Args = slices.Clone(spec.Args)
		spec.Args[0].Optional = true
	}
	return v.usage(spec)
}

func (v *Verb) usage(spec Spec) string {
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
	// warnings go at the top of the plan (see optionsAfterDashes).
	warnings []string
	svc      *Service
}

// Exec is one attempt at a verb's job.
type Exec struct {
	*jobs.Attempt
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

	// Schedules (see schedules.go).
	LastFire(ctx context.Context, schedule string) (store.Fire, bool, error)
	Pauses(ctx context.Context) (map[string]store.Pause, error)
	PauseSchedule(ctx context.Context, customer, schedule, reason string, who mcloud.Caller) error
	ResumeSchedule(ctx context.Context, customer, schedule string, who mcloud.Caller) error
}

// Deps are the outside systems verbs reach. A nil one makes its verbs
// answer that the integration is not configured.
type Deps struct {
	AWS    AWSAccounts  // see aws.go
	SSH    SSHConnector // see ssh.go
	Alerts Acknowledger // see alerts.go
	// Downtimes quiets the monitoring of a host a patch is changing.
	Downtimes Downtimer // see patch.go
	// DM sends direct messages that are never stored (see DirectMessenger).
	DM DirectMessenger
	// URLs checks the product URLs handover posts.
	URLs URLChecker
}

// DirectMessenger sends one user a direct message at once, outside the
// outbox: the text content returns (a credential) is fetched only when
// the message is sent, never reaches the database, and is dropped right
// after. Unlike a post it is not durable, so the caller learns whether it
// was delivered: an error from content is returned as it is; a message
// the chat could not deliver is a *DMError.
type DirectMessenger interface {
	SendDM(ctx context.Context, userID string, content func(ctx context.Context) (string, error)) error
}

// DMError is a direct message the chat did not deliver. It names the user
// and why, never the content.
type DMError struct {
	UserID string
	Reason string
}

func (e *DMError) Error() string {
	return fmt.Sprintf("direct message to %s not delivered: %s", e.UserID, e.Reason)
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
	return newService(cfg, st, allVerbs())
}

func newService(cfg *config.Config, st Store, verbs []*Verb) (*Service, error) {
	s := &Service{cfg: cfg, store: st, verbs: map[string]*Verb{}, Now: time.Now, Log: slog.Default()}
	for _, v := range verbs {
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
			bad = append(bad, fmt.Sprintf("approvals.rules.%s: %s takes no approval of its own (it changes nothing, or, like schedules run, asks with the rules of the command it runs)", name, name))
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
	if f := strings.Fields(v.Name); len(f) == 0 || len(f) > 2 || strings.Join(f, " ") != v.Name {
		return fmt.Errorf("command %q must be named by one word, or two for a sub-verb", v.Name)
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
	if len(words) > 0 && (lower(words[0]) == "/mcloud" || lower(words[0]) == "mcloud") {
		words = words[1:]
		rest.at--
	}
	if len(words) == 0 {
		words = []string{"help"}
	}
	v, used, lerr := s.lookup(words, "Unknown command %s")
	if lerr != nil {
		return Reply{Error: lerr.Message, Usage: "/mcloud help", Private: true}
	}
	if v == nil {
		return s.subVerbMissing(words)
	}
	verb = v.Name
	args := words[used:]
	rest.at -= used // now an index into args
	if asksHelp(args, rest) {
		return s.verbHelp(v, caller)
	}
	return s.run(ctx, caller, v, args, rest)
}

// lookup finds the verb words name and how many words named it: a sub-verb
// ("schedules run") before its first word alone. The first word is read
// forgivingly (see resolveVerb: any case, prefixes, aliases), the
// sub-verb's word in any case. (nil, 1, nil) means the first word names
// only sub-verbs and none of them followed. An unknown first word is an
// error that starts with unknown (a format taking the quoted word) and
// suggests the plausible verbs.
func (s *Service) lookup(words []string, unknown string) (*Verb, int, *mcloud.Error) {
	seen := map[string]bool{}
	names := make([]verbName, 0, len(s.verbs))
	for _, v := range s.verbs {
		first, _, _ := strings.Cut(v.Name, " ")
		if !seen[first] {
			seen[first] = true
			names = append(names, verbName{name: first, hidden: v.Hidden})
		}
	}
	name, suggest := resolveVerb(words[0], names)
	if name == "" {
		return nil, 0, mcloud.Errorf(mcloud.EINVALID, "%s", fmt.Sprintf(unknown, quoted(words[0]))+didYouMean(suggest))
	}
	words[0] = name
	if len(words) >= 2 {
		if v := s.verbs[name+" "+lower(words[1])]; v != nil {
			return v, 2, nil
		}
	}
	if v := s.verbs[name]; v != nil {
		return v, 1, nil
	}
	return nil, 1, nil
}

// asksHelp reports whether the words after a verb ask for its help: help
// or ? alone, or --help / -h anywhere before "--".
func asksHelp(args []string, rest tail) bool {
	if len(args) == 1 && (lower(args[0]) == "help" || args[0] == "?") {
		return true
	}
	for i, a := range args {
		if i == rest.at {
			break
		}
		if a := lower(a); a == "--help" || a == "-h" {
			return true
		}
	}
	return false
}

// subVerbs lists the sub-verbs of a first word, by name.
func (s *Service) subVerbs(first string) []*Verb {
	var out []*Verb
	for name, v := range s.verbs {
		if strings.HasPrefix(name, first+" ") {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// subVerbMissing answers a first word that names only sub-verbs, followed
// by none of them.
func (s *Service) subVerbMissing(words []string) Reply {
	subs := s.subVerbs(words[0])
	var names, usages []string
	for _, v := range subs {
		names = append(names, strings.TrimPrefix(v.Name, words[0]+" "))
		usages = append(usages, v.Usage())
	}
	msg := fmt.Sprintf("%q needs one of: %s.", words[0], strings.Join(names, ", "))
	if len(words) > 1 {
		msg = fmt.Sprintf("%q has no %q; it takes one of: %s.", words[0], words[1], strings.Join(names, ", "))
	}
	return Reply{Error: msg, Usage: strings.Join(usages, "\n"), Private: true}
}

func (s *Service) run(ctx context.Context, caller mcloud.Caller, v *Verb, args []string, rest tail) Reply {
	fail := func(err error) Reply {
		r := Reply{Private: true, Usage: v.usageFor(caller), Code: mcloud.ErrorCode(err)}
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
	p, perr := parse(v.Name, spec, args, rest, s.cfg, caller)
	if perr != nil {
		if perr.Code == mcloud.EUNAUTHORIZED || p.otherCustomer {
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
	cu, env := s.withInventory(ctx, p.customer, p.env)
	call := &Call{Caller: caller, Verb: v, Params: p.params, Customer: cu, Env: env, warnings: p.warnings, svc: s}
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
	plan.Warnings = append(slices.Clone(c.warnings), plan.Warnings...)
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
	// A plan may need more approvers than the rule (never fewer).
	req.Needed = max(req.Needed, plan.Approvals)
	if dry || plan.Nothing {
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

// RunJob carries out a job; it implements jobs.Runner.
func (s *Service) RunJob(ctx context.Context, attempt *jobs.Attempt) (string, error) {
	v := s.verbs[attempt.Job.Verb]
	if v == nil || v.Execute == nil {
		return "", fmt.Errorf("job #%d: no command %q can run it", attempt.Job.ID, attempt.Job.Verb)
	}
	cu := s.cfg.Customer(attempt.Job.Customer)
	if cu == nil {
		return "", mcloud.Errorf(mcloud.ENOTFOUND, "customer %s is no longer in the configuration", attempt.Job.Customer)
	}
	x := &Exec{Attempt: attempt, Customer: cu, Params: attempt.Job.Params, svc: s}
	if attempt.Job.Env != "" {
		if x.Env = cu.Env(attempt.Job.Env); x.Env == nil {
			return "", mcloud.Errorf(mcloud.ENOTFOUND, "environment %s/%s is no longer in the configuration", cu.Name, attempt.Job.Env)
		}
	}
	x.Customer, x.Env = s.withInventory(ctx, x.Customer, x.Env)
	out, err := v.Execute(ctx, x)
	if err != nil && ctx.Err() == nil && !errors.Is(err, jobs.ErrCancelled) {
		s.failedByPolicy(ctx, *attempt.Job, err)
	}
	return out, err
}

// failedByPolicy tells the team channel when work a schedule started
// fails: nobody asked for it, so nobody is watching its thread.
func (s *Service) failedByPolicy(ctx context.Context, j mcloud.Job, err error) {
	r, rerr := s.store.Request(ctx, j.RequestID)
	if rerr != nil || r == nil || r.Requester.Role != mcloud.RoleSystem {
		return
	}
	ch := s.ApprovalsChannel()
	if ch == "" {
		return
	}
	why := mcloud.ErrorMessage(err)
	if why == "" {
		why = "an internal error; the details are in the bot's log."
	}
	s.post(context.WithoutCancel(ctx), ch, 0, j.ID, fmt.Sprintf("%s of %s failed (job #%d, started by %s): %s", j.Verb, j.Customer, j.ID, r.Requester.Name, why))
}

// Unwinds implements jobs.Unwinder.
func (s *Service) Unwinds(verb string) bool {
	v := s.verbs[verb]
	return v != nil && v.Unwinds
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
		patchVerb(), runVerb(), pendingVerb(), linksVerb(), handoverVerb(),
		provisionVerb(), driftVerb(),
		reportVerb(), retentionVerb(), schedulesVerb(), schedulesRunVerb(), schedulesPauseVerb(), schedulesResumeVerb(),
		alertsVerb(), ackVerb(),
		drDrillVerb(), drFailoverVerb(), drStatusVerb(), drHistoryVerb(),
	}
	return slices.DeleteFunc(all, func(v *Verb) bool { return v == nil })
}
