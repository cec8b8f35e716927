package commands

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	mssh "github.com/mcloud/mcloud/integrations/ssh"
)

// SSHConnector is what patch and run need of integrations/ssh: a session to
// one customer's hosts, through that customer's bastion, with every host key
// checked against the ones pinned in the configuration.
type SSHConnector interface {
	// Connect prepares a session for one job; it does not dial yet. Its
	// errors are configuration problems (an unreadable key, a bad pinned
	// host key) for the log, not for the channel.
	Connect(ctx context.Context, cu *config.Customer) (SSHSession, error)
}

// SSHSession reaches the hosts of one customer for the length of one job;
// *ssh.Client implements it. Errors carry the host and what was being done
// (see ssh.UserMessage); a command that ran and exited non-zero is not an
// error but a Result.
type SSHSession interface {
	Run(ctx context.Context, t mssh.Target, cmd string) (mssh.Result, error)
	// RunAll runs cmd on every target, ssh.parallelism at a time, and
	// returns one Result per target in input order.
	RunAll(ctx context.Context, ts []mssh.Target, cmd string) []mssh.Result
	CopyFile(ctx context.Context, t mssh.Target, path string, data []byte, mode fs.FileMode) error
	// HTTPGet fetches url as seen from the target itself, through the tunnel.
	HTTPGet(ctx context.Context, t mssh.Target, url string) (*mssh.HTTPResponse, error)
	Close() error
}

var _ SSHSession = (*mssh.Client)(nil)

// needSSH refuses a plan that could never run because this bot has no SSH.
func needSSH(c *Call) error {
	if c.svc.Deps.SSH == nil {
		return mcloud.Errorf(mcloud.ECONFLICT, "SSH is not set up in this bot, so %s cannot run; ask the DevOps team.", c.Verb.Name)
	}
	return nil
}

// connectSSH opens the job's session. What went wrong in detail stays in the
// log: the channel may be a customer's.
func (x *Exec) connectSSH(ctx context.Context) (SSHSession, error) {
	if x.svc.Deps.SSH == nil {
		return nil, mcloud.Errorf(mcloud.ECONFLICT, "SSH is not set up in this bot any more, so job #%d cannot run.", x.Job.ID)
	}
	s, err := x.svc.Deps.SSH.Connect(ctx, x.Customer)
	if err != nil {
		x.svc.Log.Error("set up SSH", "job", x.Job.ID, "customer", x.Customer.Name, "err", err)
		return nil, mcloud.Errorf(mcloud.EINTERNAL, "The bot could not set up SSH for %s (its key or the pinned host keys could not be loaded), so nothing was run; the DevOps team has the details in the bot's log.", x.Customer.Name)
	}
	return s, nil
}

// selectHosts resolves --hosts against the environment: all of its hosts in
// configuration order when the list is empty, else the named ones in the
// order given (so the first named can be the canary).
func selectHosts(cu *config.Customer, env *config.Environment, list string) ([]config.Host, error) {
	if len(env.Hosts) == 0 {
		return nil, mcloud.Errorf(mcloud.ECONFLICT, "%s/%s has no hosts in the configuration.", cu.Name, env.Name)
	}
	if list == "" {
		return env.Hosts, unbuilt(cu, env, env.Hosts)
	}
	var out []config.Host
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = lower(strings.TrimSpace(name))
		if name == "" {
			return nil, invalid("--hosts has an empty host name; write the names like --hosts %s", exampleHosts(env))
		}
		if seen[name] {
			return nil, invalid("%s appears twice in --hosts", quoted(name))
		}
		seen[name] = true
		i := slices.IndexFunc(env.Hosts, func(h config.Host) bool { return lower(h.Name) == name })
		if i < 0 {
			return nil, invalid("unknown host %s in --hosts; %s/%s has: %s", quoted(name), cu.Name, env.Name, strings.Join(hostNames(env.Hosts), ", "))
		}
		out = append(out, env.Hosts[i])
	}
	return out, unbuilt(cu, env, out)
}

// unbuilt refuses hosts that have no address yet: those of a provisioned
// environment that provision has not built (the address is recorded from
// the stack, as is the host key). Nothing is dialed for them.
func unbuilt(cu *config.Customer, env *config.Environment, hosts []config.Host) error {
	var names []string
	for _, h := range hosts {
		if h.Address == "" {
			names = append(names, h.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	has := "has"
	if len(names) > 1 {
		has = "have"
	}
	return mcloud.Errorf(mcloud.ECONFLICT, "%s %s no address yet: %s/%s has not been provisioned; run /mcloud provision %s %s first.",
		strings.Join(names, ", "), has, cu.Name, env.Name, cu.Name, env.Name)
}

func exampleHosts(env *config.Environment) string {
	names := hostNames(env.Hosts)
	return strings.Join(names[:min(2, len(names))], ",")
}

func hostNames(hosts []config.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

func sshTargets(cu *config.Customer, hosts []config.Host) []mssh.Target {
	out := make([]mssh.Target, len(hosts))
	for i, h := range hosts {
		out[i] = mssh.Target{Name: h.Name, Address: h.Address, User: h.LoginUser(cu.Bastion)}
	}
	return out
}

func bastionAddr(cu *config.Customer) string {
	return mssh.Bastion{Host: cu.Bastion.Host, Port: cu.Bastion.Port}.Addr()
}

// sshFailure is one sentence for the thread saying why a host could not be
// worked on. Host keys are pinned in the configuration, so a refused key
// points there rather than at a known_hosts file.
func sshFailure(err error) string {
	var hk *mssh.HostKeyError
	if errors.As(err, &hk) {
		who := hk.Host
		if who == "bastion" {
			who = "the bastion"
		}
		switch hk.Kind() {
		case mssh.KindHostKeyUnknown:
			return fmt.Sprintf("Refused to connect to %s (%s): its host key %s is not pinned in the configuration; check the fingerprint on the machine itself and set it as its host_key.",
				who, hk.Addr, hk.Fingerprint)
		case mssh.KindHostKeyMismatch:
			return fmt.Sprintf("Refused to connect to %s (%s): it presented host key %s, not the one pinned in the configuration, so it was rebuilt or someone is intercepting the connection; check the fingerprint before changing its host_key.",
				who, hk.Addr, hk.Fingerprint)
		}
	}
	return mssh.UserMessage(err)
}

// asClause turns a sentence into a clause to continue another sentence with.
func asClause(sentence string) string {
	s := strings.TrimSuffix(strings.TrimSpace(sentence), ".")
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || (len(s) > n && unicode.IsUpper(rune(s[n]))) {
		return s // an acronym or a name: leave it as written
	}
	return string(unicode.ToLower(r)) + s[n:]
}

// commandProblem says why a command on a host did not succeed, or "" if it
// did: it could not be run, was killed, or exited non-zero (with the last
// line it printed, which is usually the reason).
func commandProblem(cmd string, res mssh.Result, err error) string {
	switch {
	case res.Signal != "":
		return fmt.Sprintf("`%s` was killed by signal %s", cmd, res.Signal)
	case err != nil:
		return asClause(sshFailure(err))
	case res.ExitStatus != 0:
		p := fmt.Sprintf("`%s` exited %d", cmd, res.ExitStatus)
		if last := lastLine(res.Stderr, res.Stdout); last != "" {
			p += ": " + last
		}
		return p
	}
	return ""
}

// lastLine is the last non-empty line of the first stream that has one,
// cut to fit a chat line.
func lastLine(streams ...[]byte) string {
	for _, s := range streams {
		lines := strings.Split(strings.TrimSpace(string(s)), "\n")
		if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
			return cutRunes(l, 200)
		}
	}
	return ""
}

// cutRunes shortens s to n runes, marking the cut.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9._/:@%+=,-]+$`)

// shellWord quotes s for /bin/sh on the host only when it needs it, so
// commands shown in plans read as an operator would type them.
func shellWord(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return mssh.ShellQuote(s)
}

// expand fills a configured command's placeholders ({patch}, {service},
// {host}, {file}), each as one shell word: a value can never become
// another command.
func expand(cmd string, vars map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(cmd, func(m string) string {
		if v, ok := vars[m]; ok {
			return shellWord(v)
		}
		return m
	})
}

var placeholderRE = regexp.MustCompile(`\{[a-z]+\}`)

// elapsedSince is a duration for a chat line.
func elapsedSince(start time.Time) string {
	d := time.Since(start)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
