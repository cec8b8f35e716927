package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"

	xssh "golang.org/x/crypto/ssh"

	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/integrations/ssh/sshsandbox"
	"github.com/mcloud/mcloud/provision"
)

// sandboxWorld ties the sandbox's stand-ins together, as one customer
// world: what the AWS emulator starts answers through the customer's SSH
// sandbox.
//   - An instance a stack builds for a configured host becomes an SSH host
//     behind the sandbox bastion at the instance's private address, and
//     the instance's console output shows the host key that host presents,
//     as cloud-init prints it. So `provision` pins the key `run` then
//     meets, read from the console as in AWS, never from the sandbox; and
//     a DR rebuild's hosts answer their health_url for real checks.
//   - A DR rebuild's bastion prints the sandbox bastion's key (every
//     bastion dial goes there), and a restored database's endpoint accepts
//     connections through the bastion.
//
// It also carries out the shell's :sandbox directive, which changes the
// stand-ins behind mcloud's back. Only `mcloud shell --sandbox` has one:
// `mcloud serve` never runs against the sandbox.
type sandboxWorld struct {
	cfg *config.Config
	log *slog.Logger

	mu    sync.Mutex
	emu   *awsemu.Server
	boxes map[string]*sshsandbox.Sandbox // by customer
	tools map[string]*sandboxPatchTool   // by customer
}

func newSandboxWorld(cfg *config.Config, log *slog.Logger) *sandboxWorld {
	return &sandboxWorld{cfg: cfg, log: log, boxes: map[string]*sshsandbox.Sandbox{}, tools: map[string]*sandboxPatchTool{}}
}

func (w *sandboxWorld) setEmulator(emu *awsemu.Server) {
	w.mu.Lock()
	w.emu = emu
	w.mu.Unlock()
	emu.SetMachines(w.launch)
}

func (w *sandboxWorld) addBox(customer string, sb *sshsandbox.Sandbox, tool *sandboxPatchTool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.boxes[customer], w.tools[customer] = sb, tool
}

// launch is the emulator's SetMachines hook: it runs with the emulator
// locked, so it never calls the emulator. A machine of an account or
// region the configuration does not name keeps the emulator's own key.
func (w *sandboxWorld) launch(m *awsemu.Machine) {
	// By the customer tag (accounts may be shared), which every stack
	// mcloud makes in a primary region carries; a DR region's machine
	// without one (a restored database) goes to the first customer of
	// its account and region.
	var cu *config.Customer
	for i := range w.cfg.Customers {
		c := &w.cfg.Customers[i]
		if c.AWS.AccountID != m.AccountID || c.AWS.Region != m.Region && c.AWS.DRRegion != m.Region {
			continue
		}
		t := m.Tags[provision.TagCustomer]
		if t == c.Name || t == "" && m.Region != c.AWS.Region {
			cu = c
			break
		}
	}
	if cu == nil {
		return
	}
	w.mu.Lock()
	box, tool := w.boxes[cu.Name], w.tools[cu.Name]
	w.mu.Unlock()
	if box == nil {
		return
	}
	dr := m.Region == cu.AWS.DRRegion && m.Region != cu.AWS.Region
	switch {
	case m.Kind == "db" && dr:
		if err := box.AddEndpoint(net.JoinHostPort(m.Address, strconv.Itoa(m.Port))); err != nil {
			w.log.Warn("sandbox: no endpoint for a restored database", "customer", cu.Name, "db", m.LogicalID, "err", err)
		}
	case m.Kind != "instance":
	case dr && m.LogicalID == "Bastion":
		m.HostKey = string(xssh.MarshalAuthorizedKey(box.BastionKey()))
	default:
		w.boot(cu, box, tool, m, dr)
	}
}

// boot starts the SSH host of a configured host's new instance and gives
// its key to the console output. A rebuilt host in the DR region listens
// on its configured address's port, as dr expects of a rebuilt host's
// sshd; one that cannot be started keeps the emulator's key, and whatever
// reaches it is refused.
func (w *sandboxWorld) boot(cu *config.Customer, box *sshsandbox.Sandbox, tool *sandboxPatchTool, m *awsemu.Machine, dr bool) {
	var host *config.Host
find:
	for _, env := range cu.Environments {
		if env.Name != m.Tags[provision.TagEnv] {
			continue
		}
		for i := range env.Hosts {
			h := &env.Hosts[i]
			if dr && provision.LogicalID(h.Name) == m.LogicalID || !dr && h.Name == m.Tags[provision.TagHost] {
				host = h
				break find
			}
		}
	}
	if host == nil {
		return
	}
	h := *host
	h.Address = m.Address
	if dr {
		port := "22"
		if _, p, err := net.SplitHostPort(host.Address); err == nil {
			port = p
		}
		h.Address = net.JoinHostPort(m.Address, port)
	}
	spec, err := sandboxHost(h, tool)
	if err == nil {
		var added *sshsandbox.Host
		if added, err = box.AddHost(spec); err == nil {
			w.log.Debug("sandbox host built", "customer", cu.Name, "host", h.Name, "region", m.Region, "address", h.Address)
			m.HostKey = added.AuthorizedKey()
			return
		}
	}
	w.log.Warn("sandbox: no SSH host for a new instance", "customer", cu.Name, "host", h.Name, "region", m.Region, "err", err)
}

// sandboxUsage is what :sandbox does, one line per verb.
const sandboxUsage = `:sandbox open-ssh CUSTOMER ENV         someone opens SSH (22) to 0.0.0.0/0 on the hosts' security group, in the AWS console
:sandbox add-database CUSTOMER ENV     someone adds a database to the environment's stack with their own CloudFormation update
:sandbox change-database CUSTOMER ENV  someone renames the environment's database (DBName) with their own CloudFormation update, which replaces it
:sandbox rekey CUSTOMER HOST           the machine at HOST's address now presents another SSH host key than its console output showed`

// directive carries out ":sandbox VERB ...": a change made outside mcloud,
// for the tours to show what mcloud then says. It answers in one sentence.
func (w *sandboxWorld) directive(ctx context.Context, args []string) string {
	if len(args) == 0 {
		return "What should change behind mcloud's back?\n" + sandboxUsage
	}
	verb, args := args[0], args[1:]
	usage := func(why string) string {
		return why + "\n" + sandboxUsage
	}
	if len(args) != 2 {
		if !strings.Contains(sandboxUsage, ":sandbox "+verb+" ") {
			return usage(fmt.Sprintf("Unknown :sandbox change %q.", verb))
		}
		what := "an environment"
		if verb == "rekey" {
			what = "a host"
		}
		return usage(fmt.Sprintf(":sandbox %s needs a customer and %s.", verb, what))
	}
	cu := w.cfg.Customer(args[0])
	if cu == nil {
		return usage(fmt.Sprintf("Unknown customer %q; customers: %s.", args[0], strings.Join(w.cfg.CustomerNames(), ", ")))
	}
	w.mu.Lock()
	emu, box := w.emu, w.boxes[cu.Name]
	w.mu.Unlock()
	switch verb {
	case "open-ssh", "add-database", "change-database":
		env := cu.Env(args[1])
		if env == nil {
			return usage(fmt.Sprintf("Unknown environment %q for %s; it has: %s.", args[1], cu.Name, strings.Join(cu.EnvNames(), ", ")))
		}
		stack := provision.StackName(cu.Name, env.Name)
		if emu == nil || emu.StackResource(stack, "VPC") == "" {
			return fmt.Sprintf("%s/%s has no stack %s in the sandbox yet; provision it first.", cu.Name, env.Name, stack)
		}
		if verb == "open-ssh" {
			sg := emu.StackResource(stack, "HostsSecurityGroup")
			if err := emu.AuthorizeIngressBehindBack(sg, 22, "0.0.0.0/0"); err != nil {
				return fmt.Sprintf("Could not open SSH on %s/%s: %v.", cu.Name, env.Name, err)
			}
			return fmt.Sprintf("Sandbox: someone opened SSH (22) to 0.0.0.0/0 on security group HostsSecurityGroup (%s) of %s/%s in the AWS console, outside mcloud.", sg, cu.Name, env.Name)
		}
		if verb == "change-database" {
			return w.changeDatabase(emu, cu, env, stack)
		}
		id := cu.Name + "-" + env.Name + "-reports"
		err := emu.AddResourceBehindBack(stack, "ReportsDb", "AWS::RDS::DBInstance", map[string]any{
			"DBInstanceIdentifier": id, "Engine": "postgres", "DBInstanceClass": "db.t3.medium", "AllocatedStorage": "20",
			"Tags": []any{map[string]any{"Key": provision.TagCustomer, "Value": cu.Name}, map[string]any{"Key": provision.TagEnv, "Value": env.Name}},
		})
		if err != nil {
			return fmt.Sprintf("Could not add a database to %s: %v.", stack, err)
		}
		return fmt.Sprintf("Sandbox: someone added database ReportsDb (%s) to stack %s with their own CloudFormation update, outside mcloud.yaml.", id, stack)
	case "rekey":
		var h *sshsandbox.Host
		if box != nil {
			h = box.Host(args[1])
		}
		if h == nil {
			return fmt.Sprintf("%s has no host %q running in the sandbox (a provisioned host runs once provision built it).", cu.Name, args[1])
		}
		if err := h.Rekey(); err != nil {
			return fmt.Sprintf("Could not give %s a new host key: %v.", h.Name, err)
		}
		return fmt.Sprintf("Sandbox: %s (%s) now presents another SSH host key than the one its console output showed.", h.Name, h.Address)
	}
	return usage(fmt.Sprintf("Unknown :sandbox change %q.", verb))
}

// changeDatabase renames the environment's database as a colleague's own
// CloudFormation update would (overriding the stack policy for it):
// DBName forces a new instance, so the stack's database is replaced, and
// mcloud's next plan, which sets mcloud.yaml's name back, replaces it again.
func (w *sandboxWorld) changeDatabase(emu *awsemu.Server, cu *config.Customer, env *config.Environment, stack string) string {
	if env.Database == nil || emu.StackResource(stack, "Database") == "" {
		return fmt.Sprintf("%s/%s has no database in stack %s; give the environment a database in mcloud.yaml and provision it first.", cu.Name, env.Name, stack)
	}
	name := env.Database.Name + "_v2"
	if _, err := emu.ChangeResourceBehindBack(stack, "Database", map[string]any{"DBName": name}); err != nil {
		return fmt.Sprintf("Could not change the database of %s: %v.", stack, err)
	}
	return fmt.Sprintf("Sandbox: someone renamed the database of %s to %s with their own CloudFormation update, outside mcloud.yaml; CloudFormation replaced it with a new instance (%s).",
		stack, name, emu.StackResource(stack, "Database"))
}
