package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/jobs"
	"github.com/mcloud/mcloud/provision"
)

// provisionVerb builds or converges an environment through CloudFormation.
// mcloud does not converge anything itself: it renders the template, the
// change set CloudFormation computes is the plan people approve, and the
// job executes exactly that change set.
func provisionVerb() *Verb {
	return &Verb{
		Name:    "provision",
		Summary: "build or converge an environment (VPC, subnets, groups, bastion, hosts, DNS, SES) through a CloudFormation change set",
		Help: "Renders the environment's CloudFormation template from mcloud.yaml (or uses its provision.template), asks CloudFormation " +
			"for a change set and shows it as the plan: what is created, changed, replaced or removed. After approval the job executes " +
			"exactly that change set, posts the stack's progress, and records the hosts' addresses and SSH host keys (read from the " +
			"console output, never trusted on first use). Replacing or removing a database, volume or hosted zone needs two approvers. " +
			"See docs/provision.md.",
		Examples: []string{"/mcloud provision customer-x staging --dry-run", "/mcloud provision customer-x staging"},
		Spec: Spec{Args: []Arg{
			{Name: "customer", Kind: KindCustomer, About: "whose environment"},
			{Name: "env", Kind: KindEnv, About: "which environment to build or converge"},
		}},
		Access:          mcloud.AccessDevOps,
		DevOpsApprovals: 1,
		DryRun:          true,
		Resumable:       true,
		Plan:            planProvision,
		Execute:         runProvision,
	}
}

// cfnAccount is what provision, drift and handover need of a customer's
// account: CloudFormation, and the console output of the hosts it built.
type cfnAccount interface {
	Stack(ctx context.Context, name string) (aws.Stack, error)
	CreateChangeSet(ctx context.Context, in aws.ChangeSetRequest) (string, error)
	WaitChangeSet(ctx context.Context, stack, name string) (aws.ChangeSet, error)
	ChangeSet(ctx context.Context, stack, name string) (aws.ChangeSet, error)
	ExecuteChangeSet(ctx context.Context, stack, name string) error
	DeleteChangeSet(ctx context.Context, stack, name string) error
	SetStackPolicy(ctx context.Context, stack, policy string) error
	StackEvents(ctx context.Context, stack, after string) ([]aws.StackEvent, error)
	DetectDrift(ctx context.Context, stack string) ([]aws.ResourceDrift, error)
	ConsoleOutput(ctx context.Context, instanceID string) (string, error)
}

// inventoryStore is where provisioned hosts are recorded.
type inventoryStore interface {
	SetInventory(ctx context.Context, customer, env string, hosts []store.InventoryHost) error
	Inventory(ctx context.Context, customer, env string) ([]store.InventoryHost, error)
}

func (s *Service) cfnAccount(cu *config.Customer) (cfnAccount, error) {
	acct, err := s.account(cu)
	if err != nil {
		return nil, err
	}
	return acct, nil
}

// Params a provision request carries from its plan to its job.
const (
	paramChangeSet = "change-set"
	// paramChangeSetID is its ARN: once executed, CloudFormation may have
	// deleted the change set, and the stack names the one it last ran.
	paramChangeSetID = "change-set-id"
	// paramStackAt is the stack as the plan saw it (its last executed
	// change set and update time): the job refuses if it moved since.
	paramStackAt = "stack-at"
)

// template returns the environment's template and parameters.
func envTemplate(cfg *config.Config, cu *config.Customer, env *config.Environment) (string, map[string]string, error) {
	p := env.Provision
	if p == nil {
		return "", nil, mcloud.Errorf(mcloud.ECONFLICT, "%s/%s is not provisioned by mcloud (no provision block in mcloud.yaml); see docs/provision.md.", cu.Name, env.Name)
	}
	if p.Template == "" {
		b, err := provision.Render(cfg, cu, env)
		if err != nil {
			return "", nil, fmt.Errorf("render the template of %s/%s: %w", cu.Name, env.Name, err)
		}
		return string(b), nil, nil
	}
	b, err := os.ReadFile(p.Template)
	if err != nil {
		return "", nil, mcloud.Errorf(mcloud.ECONFLICT, "Cannot read %s/%s's template %s (provision.template): %v.", cu.Name, env.Name, p.Template, errors.Unwrap(err))
	}
	return string(b), p.Parameters, nil
}

func stackAt(st aws.Stack) string {
	if st.ID == "" {
		return "none"
	}
	return st.ChangeSetID + "@" + st.LastUpdated.UTC().Format("2006-01-02T15:04:05.000Z")
}

// hostIDs maps logical ids to host names for the plan's words.
func hostIDs(env *config.Environment) map[string]string {
	m := map[string]string{}
	for _, h := range env.Hosts {
		m[provision.LogicalID(h.Name)] = h.Name
	}
	return m
}

func toChanges(in []aws.ResourceChange) []provision.Change {
	out := make([]provision.Change, len(in))
	for i, c := range in {
		out[i] = provision.Change{Action: c.Action, LogicalID: c.LogicalID, Type: c.Type, Replacement: c.Replacement, Properties: c.Properties}
	}
	return out
}

func planProvision(ctx context.Context, c *Call) (mcloud.Plan, error) {
	cu, env := c.Customer, c.Env
	body, params, err := envTemplate(c.svc.cfg, cu, env)
	if err != nil {
		return mcloud.Plan{}, err
	}
	acct, err := c.svc.cfnAccount(cu)
	if err != nil {
		return mcloud.Plan{}, err
	}
	stackName := provision.StackName(cu.Name, env.Name)
	st, err := acct.Stack(ctx, stackName)
	exists := err == nil && st.Status != "REVIEW_IN_PROGRESS"
	switch {
	case err != nil && !errors.Is(err, aws.ErrNoStack):
		return mcloud.Plan{}, c.svc.awsFailed("Reading stack "+stackName, err)
	case exists && strings.HasSuffix(st.Status, "_IN_PROGRESS"):
		return mcloud.Plan{}, mcloud.Errorf(mcloud.ECONFLICT, "Stack %s is busy (%s); ask again when it has finished.", stackName, st.Status)
	case st.Status == "ROLLBACK_COMPLETE" || st.Status == "ROLLBACK_FAILED":
		return mcloud.Plan{}, mcloud.Errorf(mcloud.ECONFLICT, "Stack %s failed to create and was rolled back (%s); CloudFormation cannot update it. Delete the stack, then provision again.", stackName, st.Status)
	}
	sum := sha256.Sum256([]byte(body + fmt.Sprint(params)))
	name := fmt.Sprintf("mcloud-%s-%d", hex.EncodeToString(sum[:])[:8], c.svc.Now().UnixNano())
	csID, err := acct.CreateChangeSet(ctx, aws.ChangeSetRequest{Stack: stackName, Name: name, Template: body, Parameters: params, Create: !exists,
		Description: fmt.Sprintf("mcloud provision %s %s, asked by %s", cu.Name, env.Name, c.Caller.Name),
		Tags:        map[string]string{TagCustomer: cu.Name, TagEnv: env.Name}})
	if err != nil {
		return mcloud.Plan{}, c.svc.awsFailed("Asking CloudFormation for a change set of "+stackName, err)
	}
	cs, err := acct.WaitChangeSet(ctx, stackName, name)
	if err != nil {
		return mcloud.Plan{}, c.svc.awsFailed("Waiting for change set "+name, err)
	}
	var drifted []string
	if exists {
		drifts, err := acct.DetectDrift(ctx, stackName)
		if err != nil {
			return mcloud.Plan{}, c.svc.awsFailed("Detecting drift of "+stackName, err)
		}
		drifted = driftLines(drifts, hostIDs(env))
	}
	dry := c.Params["dry-run"] == "true"
	if cs.Empty() || dry {
		if err := acct.DeleteChangeSet(ctx, stackName, name); err != nil {
			c.svc.Log.Warn("delete change set", "stack", stackName, "change_set", name, "err", err)
		}
	}
	if cs.Status == "FAILED" && !cs.Empty() {
		return mcloud.Plan{}, mcloud.Errorf(mcloud.ECONFLICT, "CloudFormation could not make a change set of %s: %s", stackName, cs.Reason)
	}
	p := provisionPlan(cu, env, stackName, exists, toChanges(cs.Changes), drifted)
	if !p.Nothing {
		c.Params[paramChangeSet] = name
		c.Params[paramChangeSetID] = csID
		c.Params[paramStackAt] = stackAt(st)
	}
	return p, nil
}

// provisionPlan words a change set as the plan; pure.
func provisionPlan(cu *config.Customer, env *config.Environment, stack string, exists bool, changes []provision.Change, drifted []string) mcloud.Plan {
	hosts := hostIDs(env)
	p := mcloud.Plan{}
	if len(changes) == 0 {
		p.Nothing = true
		p.Summary = fmt.Sprintf("Nothing to change: %s/%s (stack %s) already matches mcloud.yaml.", cu.Name, env.Name, stack)
	} else {
		verb := "Converge"
		if !exists {
			verb = "Build"
		}
		p.Summary = fmt.Sprintf("%s %s/%s through CloudFormation stack %s: %s", verb, cu.Name, env.Name, stack, provision.Summary(changes))
	}
	var destructive []string
	for _, c := range changes {
		p.Steps = append(p.Steps, provision.Describe(c, hosts))
		if provision.Destructive(c) {
			destructive = append(destructive, provision.Noun(c.LogicalID, c.Type, hosts))
		}
	}
	if len(changes) > 0 {
		p.Steps = append(p.Steps, "record the hosts' addresses and pin their SSH host keys from the console output")
	}
	if len(destructive) > 0 {
		p.Approvals = 2
		p.Notes = append(p.Notes, fmt.Sprintf("This replaces or removes %s: data there is lost. Two approvers are needed, and the stack policy lets only this change set do it.",
			strings.Join(destructive, ", ")))
	}
	for _, d := range drifted {
		p.Notes = append(p.Notes, "Drift: "+d)
	}
	if len(drifted) > 0 && !p.Nothing {
		p.Notes = append(p.Notes, "Drifted properties the change set touches are set back to mcloud.yaml's values.")
	}
	return p
}

func runProvision(ctx context.Context, x *Exec) (string, error) {
	cu, env := x.Customer, x.Env
	acct, err := x.svc.cfnAccount(cu)
	if err != nil {
		return "", err
	}
	stackName := provision.StackName(cu.Name, env.Name)
	name := x.Params[paramChangeSet]
	if name == "" {
		return "", mcloud.Errorf(mcloud.ECONFLICT, "This request carries no change set; run /mcloud provision %s %s again.", cu.Name, env.Name)
	}
	hosts := hostIDs(env)

	// Executing is the one step that must never happen twice: the step's
	// checkpoint covers a restart after it, CloudFormation's own record of
	// the change set covers a crash between the call and the checkpoint.
	if _, err := x.Step(ctx, "execute change set", func(ctx context.Context) (string, error) {
		cs, err := acct.ChangeSet(ctx, stackName, name)
		if aws.IsCode(err, "ChangeSetNotFound") {
			if st, serr := acct.Stack(ctx, stackName); serr == nil && st.ChangeSetID == x.Params[paramChangeSetID] {
				return "change set " + name + " was already executed", nil
			}
			return "", mcloud.Errorf(mcloud.ECONFLICT, "Change set %s is gone: the stack changed since the plan. Nothing was executed; run /mcloud provision %s %s for a fresh plan.",
				name, cu.Name, env.Name)
		}
		if err != nil {
			return "", x.svc.awsFailed("Reading change set "+name, err)
		}
		switch cs.ExecutionStatus {
		case "EXECUTE_IN_PROGRESS", "EXECUTE_COMPLETE", "EXECUTE_FAILED":
			return "change set " + name + " was already executing", nil
		case "AVAILABLE":
		default:
			return "", mcloud.Errorf(mcloud.ECONFLICT, "Change set %s can no longer be executed (%s): the stack changed since the plan. Nothing was executed; run /mcloud provision %s %s for a fresh plan.",
				name, cs.ExecutionStatus, cu.Name, env.Name)
		}
		st, err := acct.Stack(ctx, stackName)
		if err != nil && !errors.Is(err, aws.ErrNoStack) {
			return "", x.svc.awsFailed("Reading stack "+stackName, err)
		}
		if st.Status == "REVIEW_IN_PROGRESS" {
			st = aws.Stack{}
		}
		if got := stackAt(st); got != x.Params[paramStackAt] {
			return "", mcloud.Errorf(mcloud.ECONFLICT, "Stack %s changed since the plan was approved; nothing was executed. Run /mcloud provision %s %s for a fresh plan.",
				stackName, cu.Name, env.Name)
		}
		// The policy lets exactly the approved destructive changes through.
		var allow []string
		for _, c := range toChanges(cs.Changes) {
			if provision.Destructive(c) {
				allow = append(allow, c.LogicalID)
			}
		}
		if st.ID != "" {
			if err := acct.SetStackPolicy(ctx, stackName, provision.StackPolicy(allow)); err != nil {
				return "", x.svc.awsFailed("Setting the stack policy of "+stackName, err)
			}
		}
		if err := acct.ExecuteChangeSet(ctx, stackName, name); err != nil {
			return "", x.svc.awsFailed("Executing change set "+name, err)
		}
		return fmt.Sprintf("executing change set %s (%s)", name, provision.Summary(toChanges(cs.Changes))), nil
	}); err != nil {
		return "", err
	}

	var final aws.Stack
	if _, err := x.Step(ctx, "wait for stack", func(ctx context.Context) (string, error) {
		st, err := waitStack(ctx, x, acct, stackName, hosts)
		if err != nil {
			return "", err
		}
		final = st
		return "stack " + st.Status, nil
	}); err != nil {
		return "", err
	}
	if final.ID == "" {
		if final, err = acct.Stack(ctx, stackName); err != nil {
			return "", x.svc.awsFailed("Reading stack "+stackName, err)
		}
	}
	// Back to denying destructive updates, whatever happened.
	if err := acct.SetStackPolicy(ctx, stackName, provision.StackPolicy(nil)); err != nil {
		x.svc.Log.Error("restore stack policy", "stack", stackName, "err", err)
	}
	if final.Status != "CREATE_COMPLETE" && final.Status != "UPDATE_COMPLETE" {
		return "", stackFailed(ctx, x, acct, stackName, final, hosts)
	}

	inv, keyProblems, err := recordInventory(ctx, x, acct, final)
	if err != nil {
		return "", err
	}
	summary := fmt.Sprintf("%s/%s provisioned: stack %s is %s; %s recorded", cu.Name, env.Name, stackName, final.Status, nOf(len(inv), "host", "hosts"))
	if len(keyProblems) > 0 {
		summary += "; no host key for " + strings.Join(keyProblems, ", ") + " (patch and run refuse them until a key is configured)"
	}
	if env.Provision.ExternalDNS {
		var lines []string
		for _, h := range inv {
			lines = append(lines, h.Host+" → "+h.Address)
		}
		x.Say(ctx, "For the customer's DNS (external_dns), the names and addresses:\n"+strings.Join(lines, "\n"))
	}
	var dkim []string
	for _, k := range sortedStrings(final.Outputs) {
		if strings.HasPrefix(k, "Dkim") {
			dkim = append(dkim, final.Outputs[k])
		}
	}
	if len(dkim) > 0 && env.Provision.ExternalDNS {
		x.Say(ctx, "DKIM records for "+env.Provision.SESDomain+" (add them to the customer's DNS):\n"+strings.Join(dkim, "\n"))
	}
	return summary, nil
}

func sortedStrings(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// waitStack polls the stack until its operation ends, posting its events
// to the thread grouped per poll.
func waitStack(ctx context.Context, x *Exec, acct cfnAccount, stackName string, hosts map[string]string) (aws.Stack, error) {
	p := newAWSPoller(x.svc.Deps.AWS.Waits())
	last := ""
	// A resumed wait starts after the events an earlier attempt posted:
	// those before the change set's execution began are not this job's.
	for {
		if x.Cancelled(ctx) {
			return aws.Stack{}, jobs.ErrCancelled
		}
		st, err := acct.Stack(ctx, stackName)
		if err != nil {
			return aws.Stack{}, x.svc.awsFailed("Reading stack "+stackName, err)
		}
		evs, err := acct.StackEvents(ctx, stackName, last)
		if err != nil {
			return aws.Stack{}, x.svc.awsFailed("Reading the events of "+stackName, err)
		}
		if last == "" {
			evs = sinceExecution(evs)
		}
		if len(evs) > 0 {
			last = evs[len(evs)-1].ID
			if msg := groupEvents(evs, hosts); msg != "" {
				x.Say(ctx, msg)
			}
		}
		if !strings.HasSuffix(st.Status, "_IN_PROGRESS") {
			return st, nil
		}
		if err := p.sleep(ctx); err != nil {
			return aws.Stack{}, err
		}
	}
}

// sinceExecution drops the events before the stack's latest operation.
func sinceExecution(evs []aws.StackEvent) []aws.StackEvent {
	start := 0
	for i, e := range evs {
		if e.Type == "AWS::CloudFormation::Stack" && (e.Status == "CREATE_IN_PROGRESS" || e.Status == "UPDATE_IN_PROGRESS") {
			start = i
		}
	}
	return evs[start:]
}

// groupEvents turns a batch of stack events into one message: finished
// resources counted per outcome, failures spelled out; pure.
func groupEvents(evs []aws.StackEvent, hosts map[string]string) string {
	done := map[string][]string{}
	var order []string
	var failures []string
	// CloudFormation says on a resource's UPDATE_IN_PROGRESS that it is
	// building a new one; its UPDATE_COMPLETE is then a replacement.
	replacing := map[string]bool{}
	for _, e := range evs {
		if e.Type == "AWS::CloudFormation::Stack" {
			continue
		}
		noun := provision.Noun(e.LogicalID, e.Type, hosts)
		switch {
		case e.Status == "UPDATE_IN_PROGRESS" && strings.HasPrefix(e.Reason, "Requested update requires the creation of a new physical resource"):
			replacing[e.LogicalID] = true
		case strings.HasSuffix(e.Status, "_FAILED"):
			failures = append(failures, fmt.Sprintf("%s failed: %s", noun, e.Reason))
		case strings.HasSuffix(e.Status, "_COMPLETE"):
			verb := map[string]string{"CREATE_COMPLETE": "created", "UPDATE_COMPLETE": "updated", "DELETE_COMPLETE": "deleted"}[e.Status]
			if verb == "updated" && replacing[e.LogicalID] {
				verb = "replaced"
			}
			if verb == "" {
				continue
			}
			if _, ok := done[verb]; !ok {
				order = append(order, verb)
			}
			done[verb] = append(done[verb], noun)
		}
	}
	var parts []string
	for _, verb := range order {
		names := done[verb]
		if len(names) > 6 {
			names = append(names[:6:6], fmt.Sprintf("%d more", len(done[verb])-6))
		}
		parts = append(parts, fmt.Sprintf("%s %d: %s", verb, len(done[verb]), strings.Join(names, ", ")))
	}
	parts = append(parts, failures...)
	if len(parts) == 0 {
		return ""
	}
	return "Stack progress: " + strings.Join(parts, "; ")
}

// stackFailed names the resource that failed, CloudFormation's reason, and
// how the rollback ended.
func stackFailed(ctx context.Context, x *Exec, acct cfnAccount, stackName string, st aws.Stack, hosts map[string]string) error {
	evs, err := acct.StackEvents(ctx, stackName, "")
	if err != nil {
		return x.svc.awsFailed("Reading the events of "+stackName, err)
	}
	evs = sinceExecution(evs)
	cause := "CloudFormation gave no reason"
	for _, e := range evs {
		if e.Type != "AWS::CloudFormation::Stack" && strings.HasSuffix(e.Status, "_FAILED") {
			cause = fmt.Sprintf("%s (%s) failed: %s", provision.Noun(e.LogicalID, e.Type, hosts), e.LogicalID, strings.TrimSuffix(e.Reason, "."))
			break
		}
	}
	rollback := "the rollback did not finish (" + st.Status + "); look at the stack in the console"
	switch st.Status {
	case "ROLLBACK_COMPLETE":
		rollback = "the rollback completed: nothing of the new stack remains; fix the cause, delete the stack, and provision again"
	case "UPDATE_ROLLBACK_COMPLETE":
		rollback = "the rollback completed: the environment is as it was before"
	}
	return mcloud.Errorf(mcloud.ECONFLICT, "Stack %s did not converge: %s; %s.", stackName, cause, rollback)
}

// recordInventory stores the outputs' hosts with their host keys, read from
// the console output.
func recordInventory(ctx context.Context, x *Exec, acct cfnAccount, st aws.Stack) ([]store.InventoryHost, []string, error) {
	var inv []store.InventoryHost
	var problems []string
	for _, h := range x.Env.Hosts {
		id := provision.LogicalID(h.Name)
		ih := store.InventoryHost{Host: h.Name, InstanceID: st.Outputs[id+"InstanceId"], Address: st.Outputs[id+"PrivateIp"]}
		if ih.InstanceID == "" {
			continue
		}
		out, err := acct.ConsoleOutput(ctx, ih.InstanceID)
		if err != nil {
			ih.KeyProblem = "console output unreadable: " + err.Error()
		} else if ih.HostKey, err = HostKeyFromConsole(out); err != nil {
			ih.KeyProblem = err.Error()
		}
		if ih.KeyProblem != "" {
			problems = append(problems, h.Name)
		}
		inv = append(inv, ih)
	}
	if _, ok := st.Outputs["BastionInstanceId"]; ok {
		bi := store.InventoryHost{Host: "bastion", InstanceID: st.Outputs["BastionInstanceId"], Address: st.Outputs["BastionPublicIp"]}
		if out, err := acct.ConsoleOutput(ctx, bi.InstanceID); err != nil {
			bi.KeyProblem = "console output unreadable"
		} else if bi.HostKey, err = HostKeyFromConsole(out); err != nil {
			bi.KeyProblem = err.Error()
		}
		inv = append(inv, bi)
	}
	is, ok := x.svc.store.(inventoryStore)
	if !ok {
		return nil, nil, errors.New("the store cannot record inventory")
	}
	if err := is.SetInventory(ctx, x.Customer.Name, x.Env.Name, inv); err != nil {
		return nil, nil, err
	}
	return inv, problems, nil
}

// HostKeyFromConsole reads the ed25519 host key cloud-init prints between
// its "SSH HOST KEY KEYS" markers; only a key printed there is pinned,
// never one offered on first connection.
func HostKeyFromConsole(out string) (string, error) {
	_, rest, ok := strings.Cut(out, "-----BEGIN SSH HOST KEY KEYS-----")
	if !ok {
		return "", errors.New("the console output shows no SSH host keys (cloud-init did not print them)")
	}
	block, _, ok := strings.Cut(rest, "-----END SSH HOST KEY KEYS-----")
	if !ok {
		return "", errors.New("the console output's host key block is cut short")
	}
	var fallback string
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			continue
		}
		key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
		if pk.Type() == ssh.KeyAlgoED25519 {
			return key, nil
		}
		if fallback == "" {
			fallback = key
		}
	}
	if fallback == "" {
		return "", errors.New("the console output's host key block holds no readable key")
	}
	return fallback, nil
}

// withInventory fills what the configuration leaves out of a customer's
// provisioned hosts (address, and the host key pinned from the console
// output) from the inventory `provision` recorded, so status, patch and
// run reach them. A configured address or key always wins; a key is taken
// only with the address it was read for. The customer and environment
// returned are copies; the configuration is never changed.
func (s *Service) withInventory(ctx context.Context, cu *config.Customer, env *config.Environment) (*config.Customer, *config.Environment) {
	is, ok := s.store.(inventoryStore)
	if cu == nil || !ok {
		return cu, env
	}
	var out *config.Customer
	for i, e := range cu.Environments {
		if e.Provision == nil {
			continue
		}
		inv, err := is.Inventory(ctx, cu.Name, e.Name)
		if err != nil {
			s.Log.Error("read inventory", "customer", cu.Name, "env", e.Name, "err", err)
			continue
		}
		if len(inv) == 0 {
			continue
		}
		if out == nil {
			cp := *cu
			cp.Environments = append([]config.Environment(nil), cu.Environments...)
			out = &cp
		}
		ne := &out.Environments[i]
		ne.Hosts = fillHosts(e.Hosts, inv)
	}
	if out == nil {
		return cu, env
	}
	if env != nil {
		env = out.Env(env.Name)
	}
	return out, env
}

// fillHosts applies the inventory to configured hosts; pure.
func fillHosts(hosts []config.Host, inv []store.InventoryHost) []config.Host {
	by := map[string]store.InventoryHost{}
	for _, h := range inv {
		by[h.Host] = h
	}
	out := make([]config.Host, len(hosts))
	for i, h := range hosts {
		ih, ok := by[h.Name]
		if ok && ih.Address != "" && (h.Address == "" || h.Address == ih.Address) {
			h.Address = ih.Address
			if h.HostKey == "" {
				h.HostKey = ih.HostKey
			}
		}
		out[i] = h
	}
	return out
}
