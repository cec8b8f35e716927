package config_test

import (
	"testing"
	"time"

	"github.com/mcloud/mcloud/config"
)

// The ssh and patch keys are refused with the exact key and why.
func TestInvalidSSHKeysNameTheKey(t *testing.T) {
	// Edits start from customer-x's prod patch settings, the first in the file.
	const apply = `apply: "mcloud-patch apply {service} {patch}"`
	expectInvalid(t, []edit{
		{"placeholder typo", apply, `apply: "mcloud-patch apply {servise} {patch}"`,
			"customers[0].environments[0].patch.apply: unknown placeholder {servise}; commands may use {patch}, {service}, {host}"},
		{"file without source", apply, `apply: "unzip {file}"`,
			"customers[0].environments[0].patch.apply: unknown placeholder {file} ({file} needs patch.source)"},
		{"source unused", apply, apply + "\n          source: /srv/patches/{patch}.zip",
			"customers[0].environments[0].patch.apply: does not use {file}, so the file copied from patch.source would be ignored"},
		{"relative source", apply, `apply: "unzip {file}"` + "\n          source: patches/{patch}.zip",
			`customers[0].environments[0].patch.source: "patches/{patch}.zip" must be an absolute path`},
		{"no apply", "          " + apply + "\n", "",
			"customers[0].environments[0].patch.apply: missing"},
		{"no rollback", `rollback: "systemctl stop {service}; mcloud-patch revert {service} {patch} && systemctl start {service}"`, `health_check: "true"`,
			"customers[0].environments[0].patch.rollback: missing; a host whose patch fails is rolled back with it"},
		{"retries", "health_retries: 2", "health_retries: 1000",
			"customers[0].environments[0].patch.health_retries: must be between 0 and 100, not 1000"},
		{"interval", "health_interval: 3s", "health_interval: 1h",
			"customers[0].environments[0].patch.health_interval: must be at most 10m0s, not 1h0m0s"},
		{"service needed", "{name: x-prod-apim-2, address: 10.10.1.12, product: wso2am, service: wso2am,", "{name: x-prod-apim-2, address: 10.10.1.12, product: wso2am,",
			"customers[0].environments[0].hosts[1].service: missing; the patch commands of prod use {service}"},
		{"host user", "{name: y-dev-is-1, address: 10.40.1.11,", "{name: y-dev-is-1, user: Root!, address: 10.40.1.11,",
			`customers[1].environments[1].hosts[0].user: "Root!" is not a login name`},
		{"truncated key", "AAAAC3NzaC1lZDI1NTE5AAAAIHq1aVzR2m0pYc6bX8bYF1tJ9C3m1rjJ6lH6lO8lXbQX", "AAAAC3NzaC1lZDI1NTE5AAAAIHq1aVzR2m0pYc6bX8bYF1tJ9C3m1rjJ6lH6lO8",
			"customers[0].bastion.host_key: is not an SSH public key: its ssh-ed25519 key data does not decode (cut short when pasted?)"},
		{"parallelism", "jobs:", "ssh: {parallelism: 500}\njobs:", "ssh.parallelism: must be between 1 and 200 (0 means 10), not 500"},
		{"handshake", "jobs:", "ssh: {handshake_timeout: 1h}\njobs:", "ssh.handshake_timeout: must be at most 5m0s, not 1h0m0s"},
		{"passphrase without key", "jobs:", "ssh: {passphrase: \"${MCLOUD_SSH_PASSPHRASE}\"}\njobs:", "ssh.passphrase: is set but ssh.key_file is not"},
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
