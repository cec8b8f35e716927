package commands

import (
	"context"
	"fmt"

	"github.com/mcloud/mcloud/config"
	mssh "github.com/mcloud/mcloud/integrations/ssh"
)

// NewSSHConnector reaches customers' hosts the way cfg says: its ssh
// settings, each customer's bastion, and the host keys pinned for the
// bastion and every host. adjust, when not nil, may change a customer's
// client configuration before it is used; the sandbox uses it to point the
// bastion at in-process servers and pin their generated keys.
func NewSSHConnector(cfg *config.Config, adjust func(cu *config.Customer, c *mssh.Config) error) SSHConnector {
	return &sshConnector{cfg: cfg, adjust: adjust}
}

type sshConnector struct {
	cfg    *config.Config
	adjust func(cu *config.Customer, c *mssh.Config) error
}

func (s *sshConnector) Connect(ctx context.Context, cu *config.Customer) (SSHSession, error) {
	c, err := SSHClientConfig(s.cfg.SSH, cu)
	if err != nil {
		return nil, err
	}
	if s.adjust != nil {
		if err := s.adjust(cu, &c); err != nil {
			return nil, fmt.Errorf("ssh for %s: %w", cu.Name, err)
		}
	}
	client, err := mssh.New(c)
	if err != nil {
		return nil, fmt.Errorf("ssh for %s: %w", cu.Name, err)
	}
	return client, nil
}

// SSHClientConfig is the ssh client configuration for one customer. A host
// without a pinned host_key gets no known_hosts line, so connecting to it is
// refused with its fingerprint for an operator to verify and pin: there is
// no trust on first use.
func SSHClientConfig(sc config.SSH, cu *config.Customer) (mssh.Config, error) {
	c := mssh.Config{
		Bastion:          mssh.Bastion{Host: cu.Bastion.Host, Port: cu.Bastion.Port, User: cu.Bastion.User},
		Auth:             mssh.Auth{KeyFile: sc.KeyFile, Agent: sc.UseAgent()},
		HandshakeTimeout: sc.HandshakeLimit(),
		CommandTimeout:   sc.CommandLimit(),
		Parallelism:      sc.Fanout(),
	}
	if sc.Passphrase.Set() {
		v, ok := sc.Passphrase.Value()
		if !ok {
			return c, fmt.Errorf("ssh.passphrase: environment variable %s is not set", sc.Passphrase.Ref)
		}
		c.Auth.Passphrase = []byte(v)
	}
	line, err := mssh.KnownHostsLine(c.Bastion.Addr(), cu.Bastion.HostKey)
	if err != nil {
		return c, fmt.Errorf("%s bastion.host_key: %w", cu.Name, err)
	}
	c.KnownHosts = append(c.KnownHosts, line)
	for _, env := range cu.Environments {
		for _, h := range env.Hosts {
			if h.HostKey == "" {
				continue
			}
			line, err := mssh.KnownHostsLine(h.Address, h.HostKey)
			if err != nil {
				return c, fmt.Errorf("%s/%s host %s host_key: %w", cu.Name, env.Name, h.Name, err)
			}
			c.KnownHosts = append(c.KnownHosts, line)
		}
	}
	return c, nil
}
