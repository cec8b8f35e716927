package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of the ssh and patch keys, applied by the accessors below so the
// file keeps saying only what the operator chose.
const (
	DefaultSSHHandshakeTimeout = 15 * time.Second
	DefaultSSHCommandTimeout   = 10 * time.Minute
	DefaultSSHParallelism      = 10
	DefaultPatchStop           = "systemctl stop {service}"
	DefaultPatchStart          = "systemctl start {service}"
	// DefaultPatchHealthCheck is used for a host without a health_url.
	DefaultPatchHealthCheck = "systemctl is-active {service}"
	DefaultHealthRetries    = 10
	DefaultHealthInterval   = 10 * time.Second
)

// Limits that catch typos (a 5-hour handshake) rather than express policy.
const (
	maxHandshakeTimeout = 5 * time.Minute
	maxCommandTimeout   = 24 * time.Hour
	maxParallelism      = 200
	maxHealthRetries    = 100
	maxHealthInterval   = 10 * time.Minute
)

// PatchPlaceholders are what patch commands may contain; each is replaced,
// shell-quoted, by the patch id, the host's service, the host's name, and
// the path the patch file was copied to on the host.
var PatchPlaceholders = []string{"{patch}", "{service}", "{host}", "{file}"}

var (
	placeholderRE = regexp.MustCompile(`\{[^{}\s]*\}`)
	unixUserRE    = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)
)

// HandshakeLimit bounds connecting plus the SSH handshake, per hop.
func (s SSH) HandshakeLimit() time.Duration {
	if s.HandshakeTimeout == 0 {
		return DefaultSSHHandshakeTimeout
	}
	return s.HandshakeTimeout.Std()
}

// CommandLimit bounds each command run on a host.
func (s SSH) CommandLimit() time.Duration {
	if s.CommandTimeout == 0 {
		return DefaultSSHCommandTimeout
	}
	return s.CommandTimeout.Std()
}

// Fanout is how many hosts `run` works on at once.
func (s SSH) Fanout() int {
	if s.Parallelism == 0 {
		return DefaultSSHParallelism
	}
	return s.Parallelism
}

// UseAgent reports whether ssh-agent's keys are offered: when asked for,
// and always when there is no key file.
func (s SSH) UseAgent() bool { return s.Agent || s.KeyFile == "" }

// Configured reports whether the environment says how to patch it at all.
func (p Patch) Configured() bool { return p != Patch{} }

// StopCommand stops a host's service before the patch is applied.
func (p Patch) StopCommand() string {
	if p.Stop == "" {
		return DefaultPatchStop
	}
	return p.Stop
}

// StartCommand starts it again afterwards.
func (p Patch) StartCommand() string {
	if p.Start == "" {
		return DefaultPatchStart
	}
	return p.Start
}

// HealthProbe says how a patched host is checked: a command (health_check,
// or the default when the host has no health_url), or the host's health_url
// fetched through the SSH tunnel. Exactly one of the two is set.
func (p Patch) HealthProbe(h Host) (command, url string) {
	switch {
	case p.HealthCheck != "":
		return p.HealthCheck, ""
	case h.HealthURL != "":
		return "", h.HealthURL
	}
	return DefaultPatchHealthCheck, ""
}

// HealthAttempts is how often the health check is tried before the host
// counts as failed: once, plus the retries.
func (p Patch) HealthAttempts() int {
	if p.HealthRetries == 0 {
		return DefaultHealthRetries + 1
	}
	return p.HealthRetries + 1
}

// HealthWait is the pause between health check attempts.
func (p Patch) HealthWait() time.Duration {
	if p.HealthInterval == 0 {
		return DefaultHealthInterval
	}
	return p.HealthInterval.Std()
}

// LoginUser is who the bot logs in to h as: its own user, else the bastion's.
func (h Host) LoginUser(b Bastion) string {
	if h.User != "" {
		return h.User
	}
	return b.User
}

// validateSSHOps checks the keys patch and run use (ssh, environments'
// patch settings, host users). Each problem starts with its key's path.
func (c *Config) validateSSHOps() []string {
	var p []string
	bad := func(path, format string, args ...any) {
		p = append(p, fmt.Sprintf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	s := c.SSH
	if s.HandshakeTimeout.Std() > maxHandshakeTimeout {
		bad("ssh.handshake_timeout", "must be at most %s, not %s", maxHandshakeTimeout, s.HandshakeTimeout.Std())
	}
	if s.CommandTimeout.Std() > maxCommandTimeout {
		bad("ssh.command_timeout", "must be at most %s, not %s", maxCommandTimeout, s.CommandTimeout.Std())
	}
	if s.Parallelism < 0 || s.Parallelism > maxParallelism {
		bad("ssh.parallelism", "must be between 1 and %d (0 means %d), not %d", maxParallelism, DefaultSSHParallelism, s.Parallelism)
	}
	if s.Passphrase.Set() && s.KeyFile == "" {
		bad("ssh.passphrase", "is set but ssh.key_file is not; the passphrase decrypts the key file")
	}

	for i, cu := range c.Customers {
		path := fmt.Sprintf("customers[%d]", i)
		for j, env := range cu.Environments {
			ep := fmt.Sprintf("%s.environments[%d]", path, j)
			for k, h := range env.Hosts {
				hp := fmt.Sprintf("%s.hosts[%d]", ep, k)
				if h.User != "" && !unixUserRE.MatchString(h.User) {
					bad(hp+".user", "%q is not a login name (lowercase letters, digits, _ . -)", h.User)
				}
			}
			validatePatch(ep, env, bad)
		}
	}
	return p
}

func validatePatch(ep string, env Environment, bad complain) {
	pt := env.Patch
	if !pt.Configured() {
		return
	}
	pp := ep + ".patch"
	if strings.TrimSpace(pt.Apply) == "" {
		bad(pp+".apply", "missing; say how a patch is applied, e.g. \"/usr/local/bin/mcloud-patch apply {service} {patch}\"")
	}
	if strings.TrimSpace(pt.Rollback) == "" {
		bad(pp+".rollback", "missing; a host whose patch fails is rolled back with it, so it must be set")
	}
	if pt.Source != "" {
		if !filepath.IsAbs(strings.ReplaceAll(pt.Source, "{patch}", "x")) {
			bad(pp+".source", "%q must be an absolute path on the bot's machine, e.g. /srv/patches/{patch}.zip", pt.Source)
		}
		if placeholders(pt.Source, "{patch}") != "" {
			bad(pp+".source", "may only use {patch}")
		}
		if pt.Apply != "" && !strings.Contains(pt.Apply, "{file}") {
			bad(pp+".apply", "does not use {file}, so the file copied from patch.source would be ignored")
		}
	}
	if pt.HealthRetries < 0 || pt.HealthRetries > maxHealthRetries {
		bad(pp+".health_retries", "must be between 0 and %d, not %d", maxHealthRetries, pt.HealthRetries)
	}
	if pt.HealthInterval.Std() > maxHealthInterval {
		bad(pp+".health_interval", "must be at most %s, not %s", maxHealthInterval, pt.HealthInterval.Std())
	}
	usesService := checkPatchCommands(pp, pt, bad)
	for k, h := range env.Hosts {
		if h.Service != "" {
			continue
		}
		probe, _ := pt.HealthProbe(h)
		if usesService || strings.Contains(probe, "{service}") {
			bad(fmt.Sprintf("%s.hosts[%d].service", ep, k), "missing; the patch commands of %s use {service}", env.Name)
		}
	}
}

// checkPatchCommands reports placeholders the commands may not use
// ({file} only with source) and whether any command uses {service}.
func checkPatchCommands(pp string, pt Patch, bad complain) (usesService bool) {
	allowed := PatchPlaceholders
	if pt.Source == "" {
		allowed = slices.DeleteFunc(slices.Clone(allowed), func(s string) bool { return s == "{file}" })
	}
	for _, cmd := range []struct{ key, text string }{
		{"pre_check", pt.PreCheck}, {"stop", pt.StopCommand()}, {"apply", pt.Apply},
		{"start", pt.StartCommand()}, {"health_check", pt.HealthCheck}, {"rollback", pt.Rollback},
	} {
		if unknown := placeholders(cmd.text, allowed...); unknown != "" {
			hint := ""
			if unknown == "{file}" {
				hint = " ({file} needs patch.source)"
			}
			bad(pp+"."+cmd.key, "unknown placeholder %s%s; commands may use %s", unknown, hint, strings.Join(allowed, ", "))
		}
		usesService = usesService || strings.Contains(cmd.text, "{service}")
	}
	return usesService
}

// placeholders returns the first {word} in cmd that is not allowed, or "".
func placeholders(cmd string, allowed ...string) string {
	for _, m := range placeholderRE.FindAllString(cmd, -1) {
		if !slices.Contains(allowed, m) {
			return m
		}
	}
	return ""
}
