package config_test

import (
	"testing"
	"time"

	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/config/configtest"
)

// The ssh and patch keys are refused with the exact key and why. A bad
// value written in defaults.patch is named there; one written in an
// environment's or a customer's patch, there.
func TestInvalidSSHKeysNameTheKey(t *testing.T) {
	const prod = "customers[0].environments[0]"
	expectInvalid(t, []edit{
		{"placeholder typo", set("defaults.patch.apply", "mcloud-patch apply {servise} {patch}"),
			"defaults.patch.apply: unknown placeholder {servise}; commands may use {patch}, {service}, {host}"},
		{"placeholder typo in an environment", set(prod+".patch.apply", "mcloud-patch apply {servise} {patch}"),
			"customers[0].environments[0].patch.apply: unknown placeholder {servise}; commands may use {patch}, {service}, {host}"},
		{"file without source", set("defaults.patch.apply", "unzip {file}"),
			"defaults.patch.apply: unknown placeholder {file} ({file} needs patch.source)"},
		{"source unused", set(prod+".patch.source", "/srv/patches/{patch}.zip"),
			"defaults.patch.apply: does not use {file}, so the file copied from patch.source would be ignored"},
		{"relative source", func(b *configtest.Builder) {
			b.Set(prod+".patch.apply", "unzip {file}").Set(prod+".patch.source", "patches/{patch}.zip")
		}, `customers[0].environments[0].patch.source: "patches/{patch}.zip" must be an absolute path`},
		{"no apply", del("defaults.patch.apply"), "customers[0].environments[0].patch.apply: missing"},
		{"no rollback", del("defaults.patch.rollback"),
			"customers[0].environments[0].patch.rollback: missing; a host whose patch fails is rolled back with it"},
		{"retries", set("defaults.patch.health_retries", 1000), "defaults.patch.health_retries: must be between 0 and 100, not 1000"},
		{"retries of a customer", set("customers[1].patch.health_retries", 1000), "customers[1].patch.health_retries: must be between 0 and 100, not 1000"},
		{"retries of an environment", set(prod+".patch.health_retries", 1000), "customers[0].environments[0].patch.health_retries: must be between 0 and 100, not 1000"},
		{"interval", set("defaults.patch.health_interval", "1h"), "defaults.patch.health_interval: must be at most 10m0s, not 1h0m0s"},
		{"service needed", del("defaults.products.wso2am.service"),
			"customers[0].environments[0].hosts[1].service: missing; the patch commands of prod use {service}"},
		{"host user", set("customers[1].environments[1].hosts[0].user", "Root!"),
			`customers[1].environments[1].hosts[0].user: "Root!" is not a login name`},
		{"truncated key", set("customers[0].bastion.host_key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq1aVzR2m0pYc6bX8bYF1tJ9C3m1rjJ6lH6lO8"),
			"customers[0].bastion.host_key: is not an SSH public key: its ssh-ed25519 key data does not decode (cut short when pasted?)"},
		{"parallelism", set("ssh.parallelism", 500), "ssh.parallelism: must be between 1 and 200 (0 means 10), not 500"},
		{"handshake", set("ssh.handshake_timeout", "1h"), "ssh.handshake_timeout: must be at most 5m0s, not 1h0m0s"},
		{"passphrase without key", set("ssh.passphrase", "${MCLOUD_SSH_PASSPHRASE}"), "ssh.passphrase: is set but ssh.key_file is not"},
		{"health URL default", set("defaults.products.wso2is.health_url", "localhost:9443"),
			`defaults.products.wso2is.health_url: "localhost:9443" is not an http(s) URL`},
		{"product default no host uses", set("defaults.products.wso2amm", map[string]any{"service": "wso2am"}),
			`defaults.products.wso2amm: no host has product "wso2amm"; did you mean wso2am?`},
	})
}

func TestSSHDefaults(t *testing.T) {
	c := mustLoadExample(t)
	if c.SSH.HandshakeLimit() != 15*time.Second || c.SSH.CommandLimit() != 10*time.Minute || c.SSH.Fanout() != 10 || !c.SSH.UseAgent() {
		t.Fatalf("ssh defaults: %+v", c.SSH)
	}
	dev := c.Customer("customer-y").Env("dev")
	pt, h := dev.Patch, dev.Hosts[0]
	if pt.StopCommand() != "systemctl stop {service}" || pt.StartCommand() != "systemctl start {service}" || pt.HealthAttempts() != 2 {
		t.Fatalf("patch defaults: %+v", pt)
	}
	// No health_url and no health_check: the service's state is the check.
	if cmd, url := pt.HealthProbe(h); cmd != "systemctl is-active {service}" || url != "" {
		t.Fatalf("probe without health_url: %q %q", cmd, url)
	}
	prod := c.Customer("customer-x").Env("prod")
	if cmd, url := prod.Patch.HealthProbe(prod.Hosts[0]); cmd != "" || url != "https://127.0.0.1:9443/services/Version" {
		t.Fatalf("probe with health_url: %q %q", cmd, url)
	}
	if h.LoginUser(c.Customer("customer-y").Bastion) != "mcloud" {
		t.Fatal("a host without user logs in as the bastion's user")
	}
	var none config.Patch
	if none.Configured() || none.HealthAttempts() != config.DefaultHealthRetries+1 || none.HealthWait() != config.DefaultHealthInterval {
		t.Fatal("an empty patch block is not configured and takes the defaults")
	}
}
