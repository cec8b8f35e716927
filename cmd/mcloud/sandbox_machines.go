package main

import (
	"net"
	"strconv"
	"sync"

	xssh "golang.org/x/crypto/ssh"

	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/integrations/ssh/sshsandbox"
	"github.com/mcloud/mcloud/provision"
)

// sandboxMachines makes what the AWS sandbox launches in a customer's DR
// region answer through the SSH sandbox, so a drill's health checks are
// real ones: an instance a stack launches for a configured host becomes a
// scripted host at its private address (answering its health_url as the
// primary's does) whose console output prints its key, the rebuild's
// bastion prints the sandbox bastion's key (every bastion dial goes
// there), and a restored database's endpoint accepts connections through
// the bastion.
type sandboxMachines struct {
	cfg   *config.Config
	mu    sync.Mutex
	boxes map[string]*sshsandbox.Sandbox // by customer
	tools map[string]*sandboxPatchTool
}

func newSandboxMachines(cfg *config.Config) *sandboxMachines {
	return &sandboxMachines{cfg: cfg, boxes: map[string]*sshsandbox.Sandbox{}, tools: map[string]*sandboxPatchTool{}}
}

// add registers a customer's SSH sandbox.
func (sm *sandboxMachines) add(customer string, sb *sshsandbox.Sandbox, tool *sandboxPatchTool) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.boxes[customer], sm.tools[customer] = sb, tool
}

// launch is the emulator's SetMachines hook; it runs with the emulator
// locked and only touches the SSH sandbox.
func (sm *sandboxMachines) launch(m *awsemu.Machine) {
	var cu *config.Customer
	for i := range sm.cfg.Customers {
		if c := &sm.cfg.Customers[i]; c.AWS.AccountID == m.AccountID && c.AWS.DRRegion == m.Region {
			cu = c
		}
	}
	if cu == nil {
		return
	}
	sm.mu.Lock()
	sb, tool := sm.boxes[cu.Name], sm.tools[cu.Name]
	sm.mu.Unlock()
	if sb == nil {
		return
	}
	switch m.Kind {
	case "db":
		sb.AddEndpoint(net.JoinHostPort(m.Address, strconv.Itoa(m.Port)))
	case "instance":
		if m.LogicalID == "Bastion" {
			m.HostKey = string(xssh.MarshalAuthorizedKey(sb.BastionKey()))
			return
		}
		for _, env := range cu.Environments {
			for _, h := range env.Hosts {
				if provision.LogicalID(h.Name) != m.LogicalID {
					continue
				}
				spec, err := sandboxHost(h, tool)
				if err != nil {
					return
				}
				// On the configured address's port, as dr expects a
				// rebuilt host's sshd.
				port := "22"
				if _, p, err := net.SplitHostPort(h.Address); err == nil {
					port = p
				}
				spec.Address = net.JoinHostPort(m.Address, port)
				// A host that cannot be added shows the generated key, and
				// the drill reports it refused.
				if host, err := sb.AddHost(spec); err == nil {
					m.HostKey = host.HostKeyText()
				}
				return
			}
		}
	}
}
