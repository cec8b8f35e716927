package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	mssh "github.com/mcloud/mcloud/integrations/ssh"
	"github.com/mcloud/mcloud/jobs"
)

// patch rolls a product patch out over an environment's hosts, one host at
// a time: pre-check, stop, apply, start, health check. The first failure
// halts the rollout: that host is rolled back and the hosts after it are
// not touched, so at most one host is ever in an unknown state.
//
// It is not Resumable. A process that dies mid-rollout may leave a host
// stopped or half-patched; repeating steps on it automatically could make
// that worse, so the job is failed visibly, naming the hosts it completed,
// for a person to look at the host it was on. It Unwinds all the same:
// the downtime of the host it was on is removed.
func patchVerb() *Verb {
	return &Verb{
		Name:    "patch",
		Summary: "roll a product patch out host by host through the bastion; halt and roll back at the first failure",
		Help: "On each host in turn: the environment's pre-check, stop the service, apply the patch, start the service, " +
			"and health-check it (its health_url through the SSH tunnel, or the configured command) with retries. " +
			"The first failure halts the rollout: that host is rolled back and the hosts after it are not touched. " +
			"--hosts picks hosts and their order. /mcloud cancel <job> stops after the host being patched.",
		Examples: []string{
			"/mcloud patch customer-x prod WSO2-2024-0042",
			"/mcloud patch customer-x prod WSO2-2024-0042 --hosts x-prod-apim-2,x-prod-apim-1",
			"/mcloud patch customer-x staging WSO2-2024-0042 --dry-run",
		},
		Spec: Spec{
			Args: []Arg{
				{Name: "customer", Kind: KindCustomer, About: "whose hosts to patch"},
				{Name: "env", Kind: KindEnv, About: "which environment to patch"},
				{Name: "patch-id", Kind: KindWord, About: "the patch's id, as the product's update tool names it"},
			},
			Flags: []Flag{{Name: "hosts", Kind: KindWord}},
		},
		Access:            mcloud.AccessCustomer,
		DevOpsApprovals:   1,
		CustomerApprovals: 1,
		DryRun:            true,
		Resumable:         false,
		Unwinds:           true,
		Plan:              planPatch,
		Execute:           executePatch,
	}
}

// patchIDRE admits the ids update tools use (WSO2-CARBON-UPDATE-4.4.0-2024,
// 4.2.0.67, U2_level-12) and nothing a shell would read as syntax.
var patchIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$`)

// maxPatchFile bounds what is read into memory to copy to every host.
const maxPatchFile = 1 << 30

// healthAttemptLimit bounds one health check attempt, so an endpoint that
// hangs counts as a failed attempt instead of stalling the rollout.
const healthAttemptLimit = 30 * time.Second

// rollout is one patch over a list of hosts.
type rollout struct {
	cu    *config.Customer
	env   *config.Environment
	pt    config.Patch
	id    string
	hosts []config.Host
	file  *patchFile // nil when the environment has no patch.source

	// Set only while executing.
	x       *Exec
	sess    SSHSession
	targets []mssh.Target
	done    []string // hosts patched so far, in order
	halted  *halt    // why the rollout stopped at a host, for its rollback
	// quiet is each host's downtime not yet removed, by host index: what
	// its "downtime" step set (saved, so the attempt that ends the job
	// removes it even after a crash).
	quiet map[int]hostQuiet
}

// Downtimer quiets the monitoring of a host while a job changes it (an
// Icinga2 downtime of the host and its services, Alertmanager silences);
// alerts.Downtimes implements it. Schedule returns what it set also when
// it fails, since what was set must be removed all the same.
type Downtimer interface {
	// Systems names what Schedule sets, for the plan.
	Systems() []string
	// Schedule quiets customer's host, never another customer's host
	// that reuses its address or name.
	Schedule(ctx context.Context, customer, host, address string, end time.Time, author, comment string) ([]mcloud.Downtime, error)
	Remove(ctx context.Context, ds []mcloud.Downtime) error
	// RemoveCommented removes what author set with a comment starting
	// with prefix, and says how many: a job's downtimes whose ids were
	// never saved (the bot died between setting and saving them).
	RemoveCommented(ctx context.Context, author, prefix string) (int, error)
}

// workStore records the host a job is changing, so that alerts for it
// go to the job's thread, marked expected (mcloud.ExpectAlert).
type workStore interface {
	StartWork(ctx context.Context, w mcloud.HostWork) error
	EndWork(ctx context.Context, jobID int64, host string) error
}

// hostQuiet is what a host's "downtime" step did: the step's typed state.
type hostQuiet struct {
	Downtimes []mcloud.Downtime `json:"downtimes,omitempty"`
	Until     time.Time         `json:"until"`
}

// downtimeAuthor is the author of every downtime mcloud sets, and
// jobComment the start of their comment: together they find a job's
// downtimes in monitoring without their ids.
const downtimeAuthor = "mcloud"

func jobComment(id int64) string { return fmt.Sprintf("mcloud job #%d: ", id) }

// downtimeCall bounds one call to a monitoring API made while the bot
// may be shutting down: a downtime is removed even then.
const downtimeCall = time.Minute

// halt is where a rollout stopped: host i failed its step, and whether
// anything had been changed on it (then the rollback cleanup runs).
type halt struct {
	i         int
	step, why string
	changed   bool
}

// patchFile is the file patch.source names, read on the bot's machine.
type patchFile struct {
	local, remote string
	data          []byte
	sum           string // hex SHA-256, shown in the plan and checked before running
}

// newRollout checks everything that can be checked without touching a
// host; Plan and Execute share it, so the job re-checks what was approved
// against the configuration it runs with.
func newRollout(cu *config.Customer, env *config.Environment, params mcloud.Params) (*rollout, error) {
	r := &rollout{}
	if err := r.configure(cu, env, params); err != nil {
		return nil, err
	}
	if err := r.readFile(); err != nil {
		return nil, err
	}
	return r, nil
}

// configure checks what the configuration and the parameters say, without
// reading the patch file: a job that only unwinds needs no more.
func (r *rollout) configure(cu *config.Customer, env *config.Environment, params mcloud.Params) error {
	r.cu, r.env, r.pt, r.id = cu, env, env.Patch, params["patch-id"]
	if !patchIDRE.MatchString(r.id) {
		return invalid("%q is not a patch id: use letters, digits, dots, dashes, underscores and plus signs, like WSO2-2024-0042", r.id)
	}
	if !r.pt.Configured() {
		return mcloud.Errorf(mcloud.ECONFLICT, "%s/%s has no patch settings yet (patch.apply and patch.rollback of that environment in mcloud.yaml), so the bot cannot patch it; ask the DevOps team.", cu.Name, env.Name)
	}
	var err error
	r.hosts, err = selectHosts(cu, env, params["hosts"])
	return err
}

// readFile reads the file patch.source names, if any.
func (r *rollout) readFile() error {
	if r.pt.Source == "" {
		return nil
	}
	var err error
	r.file, err = readPatchFile(r.pt.Source, r.id)
	return err
}

func readPatchFile(source, id string) (*patchFile, error) {
	local := strings.ReplaceAll(source, "{patch}", id)
	fi, err := os.Stat(local)
	if errors.Is(err, os.ErrNotExist) {
		return nil, mcloud.Errorf(mcloud.ENOTFOUND, "There is no file for patch %s on the bot's machine (%s); check the patch id, or ask the DevOps team to put the file there.", id, local)
	}
	if err != nil {
		return nil, fmt.Errorf("read patch file %s: %w", local, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxPatchFile {
		return nil, mcloud.Errorf(mcloud.ECONFLICT, "The file for patch %s (%s) is not a regular file of at most 1 GiB.", id, local)
	}
	data, err := os.ReadFile(local)
	if err != nil {
		return nil, fmt.Errorf("read patch file %s: %w", local, err)
	}
	sum := sha256.Sum256(data)
	return &patchFile{local: local, remote: "/tmp/mcloud-" + filepath.Base(local), data: data, sum: hex.EncodeToString(sum[:])}, nil
}

func (r *rollout) vars(h config.Host) map[string]string {
	v := map[string]string{"{patch}": r.id, "{service}": h.Service, "{host}": h.Name}
	if r.file != nil {
		v["{file}"] = r.file.remote
	}
	return v
}

func planPatch(ctx context.Context, c *Call) (mcloud.Plan, error) {
	if err := needSSH(c); err != nil {
		return mcloud.Plan{}, err
	}
	r, err := newRollout(c.Customer, c.Env, c.Params)
	if err != nil {
		return mcloud.Plan{}, err
	}
	p := mcloud.Plan{Summary: fmt.Sprintf("Patch %s/%s with %s: %s, one at a time, halting at the first failure",
		c.Customer.Name, c.Env.Name, r.id, nOf(len(r.hosts), "host", "hosts"))}
	reach := fmt.Sprintf("reach all %s through the bastion %s and verify their pinned host keys; nothing is changed yet", nOf(len(r.hosts), "host", "hosts"), bastionAddr(c.Customer))
	if len(r.hosts) == 1 {
		reach = fmt.Sprintf("reach the host through the bastion %s and verify its pinned host key; nothing is changed yet", bastionAddr(c.Customer))
	}
	p.Steps = append(p.Steps, reach)
	for _, h := range r.hosts {
		p.Steps = append(p.Steps, r.describe(h))
	}
	if r.file != nil {
		// The job refuses to run if the file changes between this plan and
		// its approval being acted on: approvers approve these bytes.
		c.Params["sha256"] = r.file.sum
		p.Notes = append(p.Notes, fmt.Sprintf("The patch file %s (%s, sha256 %s) is copied to each host as %s; the job refuses to run if it changes after this plan.",
			r.file.local, humanBytes(int64(len(r.file.data))), r.file.sum[:16], r.file.remote))
	}
	p.Notes = append(p.Notes, r.downtimeNote(c.svc.Deps.Downtimes, c.svc.cfg.SSH.CommandLimit()))
	p.Notes = append(p.Notes,
		fmt.Sprintf("A health check is tried up to %s, %s apart, each attempt for at most %s.", nOf(r.pt.HealthAttempts(), "time", "times"), r.pt.HealthWait(), healthAttemptLimit),
		fmt.Sprintf("On the first failure the rollout halts: that host is rolled back with %s and the hosts after it are not touched.", r.rollbackText()),
		"/mcloud cancel <job> stops the rollout after the host being patched.",
		"If the bot stops mid-rollout the job is not resumed: it fails, naming the hosts it completed, for a person to check the host it was on.")
	return p, nil
}

// rollbackText shows the rollback command as it will run, or as
// configured when it differs between the hosts.
func (r *rollout) rollbackText() string {
	first := expand(r.pt.Rollback, r.vars(r.hosts[0]))
	for _, h := range r.hosts[1:] {
		if expand(r.pt.Rollback, r.vars(h)) != first {
			return "`" + r.pt.Rollback + "` (placeholders filled in per host)"
		}
	}
	return "`" + first + "`"
}

// describe is one host's line of the plan: its steps with the exact
// commands it will run.
func (r *rollout) describe(h config.Host) string {
	v := r.vars(h)
	var steps []string
	if r.pt.PreCheck != "" {
		steps = append(steps, "pre-check `"+expand(r.pt.PreCheck, v)+"`")
	}
	steps = append(steps, "stop `"+expand(r.pt.StopCommand(), v)+"`")
	if r.file != nil {
		steps = append(steps, "copy the patch file")
	}
	steps = append(steps, "apply `"+expand(r.pt.Apply, v)+"`", "start `"+expand(r.pt.StartCommand(), v)+"`")
	if cmd, url := r.pt.HealthProbe(h); url != "" {
		steps = append(steps, "health check GET "+url+" (through the tunnel, until 2xx)")
	} else {
		steps = append(steps, "health check `"+expand(cmd, v)+"` (until it exits 0)")
	}
	return fmt.Sprintf("%s (%s): %s", h.Name, h.Address, strings.Join(steps, ", "))
}

func executePatch(ctx context.Context, x *Exec) (string, error) {
	// The cleanups are declared before anything that can fail: an attempt
	// that only unwinds after the bot died (often because the bastion was
	// unreachable) must end the downtimes even if the bastion, the patch
	// file or the configuration changed meanwhile. They run newest first:
	// the downtime ends after the rollback.
	r := &rollout{x: x, quiet: map[int]hostQuiet{}}
	x.Cleanup("end downtimes", r.endDowntimes)
	x.Cleanup("roll back", r.rollBack)
	defer r.closeSession()
	if err := r.configure(x.Customer, x.Env, x.Params); err != nil {
		return "", err
	}
	r.targets = sshTargets(x.Customer, r.hosts)

	// The patch file is checked and the bastion reached inside the first
	// step, so an attempt that passes it without running it needs neither.
	if _, err := x.Step(ctx, "reach hosts", r.reachAll); err != nil {
		return "", r.stopped(ctx, err)
	}
	for i, h := range r.hosts {
		if err := ctx.Err(); err != nil {
			return "", err // shutting down: no new host is started
		}
		q, err := jobs.StepOf(ctx, x.Attempt, "downtime "+h.Name, func(ctx context.Context) (hostQuiet, string, error) { return r.quietHost(ctx, i) })
		if err != nil {
			return "", r.stopped(ctx, err)
		}
		r.quiet[i] = q
		// A host is one step: cancel is honoured between hosts, never
		// between a host's stop and its start.
		if _, err := x.Step(ctx, "patch "+h.Name, func(ctx context.Context) (string, error) { return r.patchHost(ctx, i) }); err != nil {
			return "", r.stopped(ctx, err)
		}
		r.done = append(r.done, h.Name)
		if _, err := x.Step(ctx, "end downtime "+h.Name, func(ctx context.Context) (string, error) { return r.unquietHost(ctx, i), nil }); err != nil {
			return "", r.stopped(ctx, err)
		}
		delete(r.quiet, i)
	}
	return fmt.Sprintf("%s is on %s of %s/%s: %s", r.id, nOf(len(r.done), "host", "hosts"), x.Customer.Name, x.Env.Name, strings.Join(r.done, ", ")), nil
}

// connect reads and checks the patch file and opens the job's SSH
// session, once, when a step first needs a host.
func (r *rollout) connect(ctx context.Context) error {
	if r.sess != nil {
		return nil
	}
	if err := r.readFile(); err != nil {
		return err
	}
	if r.file != nil && r.file.sum != r.x.Params["sha256"] {
		return mcloud.Errorf(mcloud.ECONFLICT, "The file for patch %s changed after its plan was approved (sha256 is now %s), so nothing was run; ask again to have the new file approved.", r.id, r.file.sum[:16])
	}
	sess, err := r.x.connectSSH(ctx)
	if err != nil {
		return err
	}
	r.sess = sess
	return nil
}

func (r *rollout) closeSession() {
	if r.sess != nil {
		r.sess.Close()
		r.sess = nil
	}
}

// stopped says, for a cancel, where the rollout stopped; the job runner
// reports the cancel itself from the returned jobs.ErrCancelled.
func (r *rollout) stopped(ctx context.Context, err error) error {
	if errors.Is(err, jobs.ErrCancelled) {
		r.x.Say(ctx, fmt.Sprintf("Job #%d: cancelled between hosts as asked; %s.", r.x.Job.ID, r.standing(len(r.done))))
	}
	return err
}

// standing says which hosts are patched and which were not touched, when
// the rollout stops before host i.
func (r *rollout) standing(i int) string {
	var parts []string
	if len(r.done) > 0 {
		parts = append(parts, "patched: "+strings.Join(r.done, ", "))
	} else {
		parts = append(parts, "no host was patched")
	}
	if rest := hostNames(r.hosts[i:]); len(rest) > 0 {
		parts = append(parts, "not touched: "+strings.Join(rest, ", "))
	}
	return strings.Join(parts, "; ")
}

// reachAll connects to every host before any is changed, so a stopped
// bastion or a host key that changed stops the rollout while nothing is
// half done.
func (r *rollout) reachAll(ctx context.Context) (string, error) {
	if err := r.connect(ctx); err != nil {
		return "", err
	}
	results := r.sess.RunAll(ctx, r.targets, "true")
	var bad, why []string
	for _, res := range results {
		if p := commandProblem("true", res, res.Err); p != "" {
			bad = append(bad, res.Target.Name)
			if len(why) == 0 || why[len(why)-1] != p {
				why = append(why, p)
			}
		}
	}
	if len(bad) > 0 {
		reason := strings.Join(why, "; ")
		if len(why) > 1 || len(bad) > 1 {
			reason = fmt.Sprintf("%d of %s could not be reached (%s): %s", len(bad), nOf(len(results), "host", "hosts"), strings.Join(bad, ", "), reason)
		}
		return "", mcloud.Errorf(mcloud.ECONFLICT, "Patch %s did not start, so no host was changed: %s.", r.id, reason)
	}
	if len(results) == 1 {
		return "the host answers through the bastion, host key verified", nil
	}
	return fmt.Sprintf("all %d hosts answer through the bastion, host keys verified", len(results)), nil
}

// patchHost is one host's whole procedure. Its failure is the rollout's
// halt; the rollBack cleanup then undoes what it changed.
func (r *rollout) patchHost(ctx context.Context, i int) (string, error) {
	if err := r.connect(ctx); err != nil {
		return "", err // nothing was changed on the host
	}
	h, v := r.hosts[i], r.vars(r.hosts[i])
	start := time.Now()
	r.x.Say(ctx, fmt.Sprintf("Job #%d: patching %s (%d of %d).", r.x.Job.ID, h.Name, i+1, len(r.hosts)))
	var did []string
	changed := false
	halt := func(step, why string) (string, error) { return "", r.halt(i, step, why, changed) }

	if r.pt.PreCheck != "" {
		if why, _ := r.command(ctx, i, "pre-check", expand(r.pt.PreCheck, v)); why != "" {
			return halt("pre-check", why)
		}
		did = append(did, "pre-check ok")
	}
	// From here the host is being changed: a shutdown of the bot must not
	// leave it stopped or half-patched, so the rest of its sequence (and a
	// rollback) runs to its end, bounded by each command's own timeout.
	ctx = context.WithoutCancel(ctx)
	why, reached := r.command(ctx, i, "stop", expand(r.pt.StopCommand(), v))
	changed = reached
	if why != "" {
		return halt("stop", why)
	}
	did = append(did, "stopped")
	if r.file != nil {
		err := r.sess.CopyFile(ctx, r.targets[i], r.file.remote, r.file.data, 0o644)
		why := ""
		if err != nil {
			why = asClause(sshFailure(err))
		}
		r.audit(ctx, h, "copy", fmt.Sprintf("%s (%s) to %s", r.file.local, humanBytes(int64(len(r.file.data))), r.file.remote), why)
		if why != "" {
			return halt("copy of the patch file", why)
		}
		did = append(did, "copied")
	}
	if why, _ := r.command(ctx, i, "apply", expand(r.pt.Apply, v)); why != "" {
		return halt("apply", why)
	}
	did = append(did, "applied")
	if why, _ := r.command(ctx, i, "start", expand(r.pt.StartCommand(), v)); why != "" {
		return halt("start", why)
	}
	did = append(did, "started")
	attempt, why := r.checkHealth(ctx, i)
	if why != "" {
		return halt("health check", why)
	}
	did = append(did, fmt.Sprintf("healthy on attempt %d", attempt))
	return fmt.Sprintf("%s in %s", strings.Join(did, ", "), elapsedSince(start)), nil
}

// command runs one configured command on host i and audits it. reached is
// false only when the host was never reached, so nothing ran on it.
func (r *rollout) command(ctx context.Context, i int, step, cmd string) (why string, reached bool) {
	res, err := r.sess.Run(ctx, r.targets[i], cmd)
	why = commandProblem(cmd, res, err)
	r.audit(ctx, r.hosts[i], step, fmt.Sprintf("`%s` in %s", cmd, res.Duration.Round(time.Millisecond)), why)
	return why, !mssh.Unreached(err)
}

func (r *rollout) audit(ctx context.Context, h config.Host, step, what, why string) {
	outcome := "ok"
	if why != "" {
		outcome = "failed: " + why
	}
	j := r.x.Job
	if err := r.x.svc.store.Audit(ctx, mcloud.AuditEntry{Customer: j.Customer, UserID: "mcloud", UserName: "mcloud",
		ChannelID: j.ChannelID, RequestID: j.RequestID, JobID: j.ID, Event: mcloud.AuditStep,
		Detail: fmt.Sprintf("%s: %s %s: %s", h.Name, step, what, outcome)}); err != nil {
		r.x.svc.Log.Error("audit patch step", "job", j.ID, "host", h.Name, "step", step, "err", err)
	}
}

// checkHealth tries the host's health check until it passes or the
// attempts run out; it returns the attempt that passed, or why it failed.
// ctx is never cancelled here (patchHost: a started host's sequence runs to
// its end), so the attempts, each bounded by healthAttemptLimit, are what
// bound it.
func (r *rollout) checkHealth(ctx context.Context, i int) (int, string) {
	h := r.hosts[i]
	cmd, url := r.pt.HealthProbe(h)
	what := "GET " + url
	if url == "" {
		cmd = expand(cmd, r.vars(h))
		what = "`" + cmd + "`"
	}
	n, wait := r.pt.HealthAttempts(), r.pt.HealthWait()
	for attempt := 1; ; attempt++ {
		why := r.probe(ctx, i, cmd, url)
		if why == "" {
			r.audit(ctx, h, "health check", fmt.Sprintf("%s (attempt %d of %d)", what, attempt, n), "")
			return attempt, ""
		}
		if attempt == n {
			r.audit(ctx, h, "health check", fmt.Sprintf("%s (attempt %d of %d)", what, attempt, n), why)
			return attempt, fmt.Sprintf("%s, the last: %s", nOf(attempt, "attempt", "attempts"), why)
		}
		if attempt == 1 {
			r.x.Say(ctx, fmt.Sprintf("Job #%d: %s is not healthy yet (%s); checking again every %s, up to %d more times.",
				r.x.Job.ID, h.Name, why, wait, n-1))
		}
		time.Sleep(wait)
	}
}

// probe is one health check attempt: "" when healthy, else why not.
func (r *rollout) probe(ctx context.Context, i int, cmd, url string) string {
	actx, cancel := context.WithTimeout(ctx, healthAttemptLimit)
	defer cancel()
	var why string
	if url == "" {
		res, err := r.sess.Run(actx, r.targets[i], cmd)
		why = commandProblem(cmd, res, err)
	} else {
		resp, err := r.sess.HTTPGet(actx, r.targets[i], url)
		switch {
		case err != nil:
			why = asClause(sshFailure(err))
		case resp.StatusCode < 200 || resp.StatusCode > 299:
			why = fmt.Sprintf("%s answered %d %s", url, resp.StatusCode, http.StatusText(resp.StatusCode))
			if body := lastLine(resp.Body); body != "" {
				why += ": " + body
			}
		}
	}
	if why != "" && actx.Err() != nil {
		why = fmt.Sprintf("no answer within %s", healthAttemptLimit)
	}
	return why
}

// halt records that the rollout stopped at host i and returns the error
// that ends the job, saying where every host stands. Until the rollback
// cleanup says how it went, the error says the host needs a person: that
// is what the job reports if the bot dies before the rollback is done.
// The error is final: a shutdown meanwhile must not skip the rollback.
func (r *rollout) halt(i int, step, why string, changed bool) error {
	r.halted = &halt{i: i, step: step, why: why, changed: changed}
	after := fmt.Sprintf("nothing had been changed on %s, so it was not rolled back", r.hosts[i].Name)
	if changed {
		after = fmt.Sprintf("the bot stopped before the rollback on %s was done, so it needs a person now", r.hosts[i].Name)
	}
	return jobs.Final(r.haltError(after))
}

func (r *rollout) haltError(after string) error {
	h := r.halted
	return mcloud.Errorf(mcloud.ECONFLICT, "Patch %s halted at %s (%d of %d) because its %s failed (%s); %s; %s.",
		r.id, r.hosts[h.i].Name, h.i+1, len(r.hosts), h.step, h.why, after, r.standing(h.i+1))
}

// rollBack is the rollout's cleanup step: it rolls the host the rollout
// halted at back, if anything was changed on it, and puts how that went
// in the job's outcome. It does nothing after a success or a cancel
// between hosts, nor in an attempt that did not see the halt (the bot
// died: the outcome recorded then already says the host needs a person).
func (r *rollout) rollBack(ctx context.Context, end *jobs.Ending) (string, error) {
	h := r.halted
	if h == nil || !h.changed {
		return "", nil
	}
	// The host is stopped or half-patched: a shutdown of the bot must not
	// cut its rollback short (each command has its own timeout).
	ctx = context.WithoutCancel(ctx)
	host, id := r.hosts[h.i], r.x.Job.ID
	// The job's session ended with its work; the rollback has its own.
	sess, err := r.x.connectSSH(ctx)
	if err != nil {
		r.x.Say(ctx, fmt.Sprintf("Job #%d: the rollback on %s could not start (%s); %s needs a person to check it now.",
			id, host.Name, strings.TrimSuffix(mcloud.ErrorMessage(err), "."), host.Name))
		end.Fail(mcloud.ErrorMessage(r.haltError(fmt.Sprintf("the rollback on %s could not start (%s), so it needs a person now",
			host.Name, strings.TrimSuffix(mcloud.ErrorMessage(err), ".")))))
		return "", nil
	}
	defer sess.Close()
	r.sess = sess
	cmd := expand(r.pt.Rollback, r.vars(host))
	r.x.Say(ctx, fmt.Sprintf("Job #%d: %s failed its %s (%s); rolling back with `%s`.", id, host.Name, h.step, h.why, cmd))
	var after string
	if rwhy, _ := r.command(ctx, h.i, "rollback", cmd); rwhy != "" {
		after = fmt.Sprintf("the rollback on %s failed too (%s), so it needs a person now", host.Name, rwhy)
		r.x.Say(ctx, fmt.Sprintf("Job #%d: rollback on %s FAILED: %s.", id, host.Name, rwhy))
	} else {
		after = fmt.Sprintf("%s was rolled back", host.Name)
		r.x.Say(ctx, fmt.Sprintf("Job #%d: %s rolled back.", id, host.Name))
	}
	end.Fail(mcloud.ErrorMessage(r.haltError(after)))
	return "", nil
}

// hostLimit bounds one host's patch: every command it may run
// (pre-check, stop, copy, apply, start, rollback) to its timeout, and
// every health check attempt with its pause. A host's downtime ends then
// at the latest, even if the bot never comes back to remove it.
func (r *rollout) hostLimit(command time.Duration) time.Duration {
	d := 6*command + time.Duration(r.pt.HealthAttempts())*(healthAttemptLimit+r.pt.HealthWait())
	return (d + time.Minute - 1).Truncate(time.Minute) // whole minutes, as monitoring shows them
}

// downtimeNote is the plan's word on monitoring during the rollout.
func (r *rollout) downtimeNote(dt Downtimer, command time.Duration) string {
	expected := "alerts that still come for a host while it is being patched are posted in this job's thread, marked expected, not as new problems in the channel"
	if dt == nil || len(dt.Systems()) == 0 {
		return fmt.Sprintf("No monitoring API is configured for downtimes (alerts.icinga2.api, alerts.alertmanager.api): %s.", expected)
	}
	return fmt.Sprintf("While a host is being patched it is quiet in monitoring: %s, by mcloud, for at most %s, removed when the host is done or the job ends; %s. If it cannot be set, the job says so and the patch goes on.",
		strings.Join(dt.Systems(), " and "), r.hostLimit(command), expected)
}

// quietHost is host i's "downtime" step, before anything is changed on
// it: the host counts as under this job's work (its alerts come to the
// thread), and is put in downtime where monitoring allows. A downtime
// that cannot be set does not stop the patch: the thread says so, and
// its alerts still come to the thread.
func (r *rollout) quietHost(ctx context.Context, i int) (hostQuiet, string, error) {
	h, x := r.hosts[i], r.x
	q := hostQuiet{Until: x.svc.Now().Add(r.hostLimit(x.svc.cfg.SSH.CommandLimit())).UTC()}
	if ws, ok := x.svc.store.(workStore); ok {
		w := mcloud.HostWork{JobID: x.Job.ID, Customer: x.Customer.Name, Host: h.Name, Address: h.Address, Until: q.Until}
		if err := ws.StartWork(ctx, w); err != nil {
			return q, "", err
		}
	}
	dt := x.svc.Deps.Downtimes
	if dt == nil {
		return q, fmt.Sprintf("none (no monitoring API is configured for downtimes); alerts for %s come to this thread until it is done", h.Name), nil
	}
	comment := fmt.Sprintf("%spatch %s of %s/%s", jobComment(x.Job.ID), r.id, x.Customer.Name, x.Env.Name)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), downtimeCall)
	defer cancel()
	set, err := dt.Schedule(cctx, x.Customer.Name, h.Name, h.Address, q.Until, downtimeAuthor, comment)
	q.Downtimes = set
	if err != nil {
		x.svc.Log.Warn("schedule downtime", "job", x.Job.ID, "host", h.Name, "set", len(set), "err", err)
		return q, fmt.Sprintf("the monitoring downtime of %s could not be set (the DevOps team has the details in the bot's log); the patch goes on, and alerts for %s come to this thread until it is done", h.Name, h.Name), nil
	}
	return q, fmt.Sprintf("%s is in downtime until %s at the latest (%s set); alerts that still come for it come to this thread", h.Name,
		q.Until.Format("15:04 UTC"), nOf(len(set), "downtime", "downtimes")), nil
}

// unquietHost is host i's "end downtime" step once it is done: its
// alerts are problems again, its downtime is removed. A downtime that
// cannot be removed is said, not a failure: it ends by itself.
func (r *rollout) unquietHost(ctx context.Context, i int) string {
	h, x := r.hosts[i], r.x
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), downtimeCall)
	defer cancel()
	// The work ends first: a problem the host still has once its
	// downtime is gone (Icinga2 then sends what it held back) is a real
	// one, for the channel.
	if ws, ok := x.svc.store.(workStore); ok {
		if err := ws.EndWork(ctx, x.Job.ID, h.Name); err != nil {
			x.svc.Log.Error("end work on host", "job", x.Job.ID, "host", h.Name, "err", err)
		}
	}
	q := r.quiet[i]
	if len(q.Downtimes) == 0 {
		return fmt.Sprintf("alerts for %s go to the channels again", h.Name)
	}
	if why := r.removeDowntimes(ctx, h, q); why != "" {
		return why
	}
	return fmt.Sprintf("the downtime of %s is removed; its alerts go to the channels again", h.Name)
}

// removeDowntimes removes what q set on h, or says why it could not.
func (r *rollout) removeDowntimes(ctx context.Context, h config.Host, q hostQuiet) string {
	x := r.x
	err := errors.New("no monitoring API is configured any more")
	if dt := x.svc.Deps.Downtimes; dt != nil {
		err = dt.Remove(ctx, q.Downtimes)
	}
	if err == nil {
		return ""
	}
	x.svc.Log.Warn("remove downtime", "job", x.Job.ID, "host", h.Name, "err", err)
	return fmt.Sprintf("the downtime of %s could not be removed (the DevOps team has the details in the bot's log); it ends by itself at %s",
		h.Name, q.Until.Format("15:04 UTC"))
}

// endDowntimes is the rollout's cleanup step: however the job ends
// (failed, cancelled mid-host, or unwound after its process died), the
// downtime of the host it was on is removed and the host is no longer
// under its work. It needs only the store and the monitoring APIs: by
// the ids its "downtime" steps saved, then by the job's comment, for a
// downtime set by an attempt that died before saving its ids.
func (r *rollout) endDowntimes(ctx context.Context, _ *jobs.Ending) (string, error) {
	x := r.x
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), downtimeCall)
	defer cancel()
	if ws, ok := x.svc.store.(workStore); ok {
		if err := ws.EndWork(ctx, x.Job.ID, ""); err != nil {
			x.svc.Log.Error("end work on hosts", "job", x.Job.ID, "err", err)
		}
	}
	var said []string
	for i, h := range r.hosts {
		q, ok := r.quiet[i]
		if !ok || len(q.Downtimes) == 0 {
			continue
		}
		if why := r.removeDowntimes(ctx, h, q); why != "" {
			said = append(said, why)
		} else {
			said = append(said, fmt.Sprintf("the downtime of %s is removed", h.Name))
		}
		delete(r.quiet, i)
	}
	if dt := x.svc.Deps.Downtimes; dt != nil {
		n, err := dt.RemoveCommented(ctx, downtimeAuthor, jobComment(x.Job.ID))
		if err != nil {
			x.svc.Log.Warn("remove downtimes by job comment", "job", x.Job.ID, "removed", n, "err", err)
			said = append(said, fmt.Sprintf("monitoring could not be searched for other downtimes of job #%d (the DevOps team has the details in the bot's log); any left end by themselves", x.Job.ID))
		} else if n > 0 {
			said = append(said, fmt.Sprintf("%s whose ids were not saved, found by the job's comment, removed", nOf(n, "downtime", "downtimes")))
		}
	}
	return strings.Join(said, "; "), nil
}
