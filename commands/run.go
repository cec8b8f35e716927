package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/mcloud/mcloud"
)

// run is the DevOps team's ad hoc command on every host of an environment,
// in parallel through the bastion. It is a job like any change: the command
// and the hosts are in the plan an approver sees, and its outcome per host
// is in the thread and the audit log.
func runVerb() *Verb {
	return &Verb{
		Name:    "run",
		Summary: "run a shell command on the hosts of an environment, in parallel through the bastion",
		Help: "Put the command after -- so that its own options are not taken for mcloud's. " +
			"The output is posted in the thread with failures first and identical outputs grouped; " +
			"the job fails if the command could not run or exited non-zero on any host. " +
			"Everything after -- reaches each host's /bin/sh exactly as typed, quotes included; the plan shows that line.",
		Examples: []string{
			"/mcloud run customer-x prod -- uptime",
			"/mcloud run customer-x prod --hosts x-prod-apim-1 -- systemctl status wso2am",
			`/mcloud run customer-x prod -- grep -c "ERROR " /opt/wso2am/repository/logs/wso2carbon.log`,
		},
		Spec: Spec{
			Args: []Arg{
				{Name: "customer", Kind: KindCustomer, About: "whose hosts"},
				{Name: "env", Kind: KindEnv, About: "which environment's hosts"},
				{Name: "command", Kind: KindText, AfterDashes: true, About: "the command to run on each host, after --"},
			},
			Flags: []Flag{{Name: "hosts", Kind: KindWord}},
		},
		Access:            mcloud.AccessDevOps,
		DevOpsApprovals:   1,
		CustomerApprovals: 1,
		DryRun:            true,
		// An ad hoc command may do anything; running it twice because the
		// bot restarted is not ours to decide.
		Resumable: false,
		Plan:      planRun,
		Execute:   executeRun,
	}
}

func planRun(ctx context.Context, c *Call) (mcloud.Plan, error) {
	if err := needSSH(c); err != nil {
		return mcloud.Plan{}, err
	}
	hosts, err := selectHosts(c.Customer, c.Env, c.Params["hosts"])
	if err != nil {
		return mcloud.Plan{}, err
	}
	sc := c.svc.cfg.SSH
	p := mcloud.Plan{Summary: fmt.Sprintf("Run this command on %s of %s/%s, up to %d at a time:",
		nOf(len(hosts), "host", "hosts"), c.Customer.Name, c.Env.Name, sc.Fanout()), Command: c.Params["command"]}
	for _, h := range hosts {
		p.Steps = append(p.Steps, fmt.Sprintf("%s (%s) as %s", h.Name, h.Address, h.LoginUser(c.Customer.Bastion)))
	}
	p.Notes = append(p.Notes,
		fmt.Sprintf("Through the bastion %s, with every host key checked against the pinned one.", bastionAddr(c.Customer)),
		fmt.Sprintf("Each host runs the command above, exactly as shown, with /bin/sh; it is stopped after %s (ssh.command_timeout).", sc.CommandLimit()),
		"The output is posted in the thread: failures first, identical outputs grouped.")
	return p, nil
}

func executeRun(ctx context.Context, x *Exec) (string, error) {
	hosts, err := selectHosts(x.Customer, x.Env, x.Params["hosts"])
	if err != nil {
		return "", err
	}
	cmd := x.Params["command"]
	sess, err := x.connectSSH(ctx)
	if err != nil {
		return "", err
	}
	defer sess.Close()
	where := fmt.Sprintf("%s/%s", x.Customer.Name, x.Env.Name)
	var groups []outputGroup
	_, err = x.Step(ctx, fmt.Sprintf("run on %s", nOf(len(hosts), "host", "hosts")), func(ctx context.Context) (string, error) {
		results := sess.RunAll(ctx, sshTargets(x.Customer, hosts), cmd)
		groups = groupResults(results)
		failed := failedHosts(groups)
		tally := fmt.Sprintf("%d ok", len(hosts)-len(failed))
		if len(failed) > 0 {
			tally = fmt.Sprintf("%d failed, %s", len(failed), tally)
		}
		x.Say(ctx, renderGroups(fmt.Sprintf("Job #%d: `%s` on %s of %s: %s", x.Job.ID, cmd, nOf(len(hosts), "host", "hosts"), where, tally), groups))
		return outcomeTally(groups), nil
	})
	if err != nil {
		return "", err
	}
	if failed := failedHosts(groups); len(failed) == 1 && len(hosts) == 1 {
		// These sentences are also what "job N" shows, in any channel:
		// they name the thread rather than pointing "above".
		return "", mcloud.Errorf(mcloud.ECONFLICT, "`%s` failed on %s, the only host of %s; its output is in the thread of #%d.", cmd, failed[0], where, x.Job.ID)
	} else if len(failed) > 0 {
		return "", mcloud.Errorf(mcloud.ECONFLICT, "`%s` failed on %d of %s of %s (%s); each host's output is in the thread of #%d.",
			cmd, len(failed), nOf(len(hosts), "host", "hosts"), where, strings.Join(failed, ", "), x.Job.ID)
	}
	return fmt.Sprintf("ran `%s` on %s of %s; every one exited 0", cmd, nOf(len(hosts), "host", "hosts"), where), nil
}

func failedHosts(groups []outputGroup) []string {
	var out []string
	for _, g := range groups {
		if g.failed {
			out = append(out, g.hosts...)
		}
	}
	return out
}

// outcomeTally is the audited result of a run: which hosts ended how,
// without the output (which is in the thread).
func outcomeTally(groups []outputGroup) string {
	var outcomes []string
	hosts := map[string][]string{}
	for _, g := range groups {
		if hosts[g.outcome] == nil {
			outcomes = append(outcomes, g.outcome)
		}
		hosts[g.outcome] = append(hosts[g.outcome], g.hosts...)
	}
	parts := make([]string, len(outcomes))
	for i, o := range outcomes {
		parts[i] = fmt.Sprintf("%s: %s", strings.Join(hosts[o], ", "), o)
	}
	return strings.Join(parts, "; ")
}
