package sshtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AnsibleSetup writes an inventory and an ssh_config that send every host
// through the bastion (ProxyJump) and verify all host keys, for comparing
// the bot with `ansible all -i INVENTORY ...` on the same machines. It
// returns the inventory's path and the environment to run ansible with;
// everything ansible writes goes under dir.
func (e *Env) AnsibleSetup(dir string) (inventory string, env []string, err error) {
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := e.WriteKnownHosts(knownHosts); err != nil {
		return "", nil, err
	}
	// ProxyJump goes through an alias so the bastion itself is not jumped
	// through (in loopback mode it shares its address with the hosts).
	// Options are in a config file passed with -F because ssh hands -F,
	// unlike -o, on to the jump connection.
	sshConfig := fmt.Sprintf(`Host mcloud-bastion
  HostName %s
  Port %d
  User %s
  ProxyJump none
Host *
  ProxyJump mcloud-bastion
Host *
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  IdentityFile %s
  IdentitiesOnly yes
  BatchMode yes
`, e.Bastion.Host, e.Bastion.Port, e.User, knownHosts, e.KeyPath)
	cfgPath := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(cfgPath, []byte(sshConfig), 0o600); err != nil {
		return "", nil, err
	}
	var inv strings.Builder
	inv.WriteString("[all]\n")
	for _, h := range e.Hosts {
		fmt.Fprintf(&inv, "%s ansible_host=%s ansible_port=%d\n", h.Name, h.Host, h.Port)
	}
	fmt.Fprintf(&inv, "[all:vars]\nansible_user=%s\nansible_ssh_common_args='-F %s'\n", e.User, cfgPath)
	inventory = filepath.Join(dir, "inventory.ini")
	if err := os.WriteFile(inventory, []byte(inv.String()), 0o600); err != nil {
		return "", nil, err
	}
	return inventory, append(os.Environ(),
		"ANSIBLE_HOME="+filepath.Join(dir, "ansible-home"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "ansible-local"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(dir, "ansible-remote"),
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_CONFIG="+filepath.Join(dir, "none.cfg"), // ignore any ansible.cfg around
	), nil
}
