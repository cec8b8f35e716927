package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	xssh "golang.org/x/crypto/ssh"

	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/metrics"
	mssh "github.com/mcloud/mcloud/integrations/ssh"
	"github.com/mcloud/mcloud/integrations/ssh/sshsandbox"
)

// sshDeps builds the SSH integration for the commands: real bastions from
// the configuration normally, in-process stand-ins with a sandbox world. The
// returned func releases what it started.
//
// Nothing is dialed here: a bot whose key or agent is missing still starts,
// and the first patch or run says what is wrong.
func sshDeps(ctx context.Context, cfg *config.Config, sandbox *sandboxWorld, log *slog.Logger, m *metrics.Metrics) (commands.SSHConnector, func(), error) {
	if sandbox == nil {
		return commands.NewSSHConnector(cfg, observeSSH(nil, m)), func() {}, nil
	}
	return sandboxSSH(cfg, sandbox, log, m)
}

// sandboxBroken is what a patch id contains to fail the demo: it installs,
// but the second host of the environment comes up unhealthy, so the halt
// and the rollback can be watched.
const sandboxBroken = "broken"

// sandboxSSH starts one in-process bastion per customer, with a scripted
// host behind it for every configured host, and points the connector at
// them: the configured bastion name is dialed at the sandbox's loopback
// port and pinned to the sandbox's generated keys, as are the configured
// hosts. A host of a provisioned environment with no configured address
// has no machine until provision builds its instance: the world then adds
// it, and its key is pinned only from the instance's console output, as
// provision recorded it.
func sandboxSSH(cfg *config.Config, world *sandboxWorld, log *slog.Logger, m *metrics.Metrics) (commands.SSHConnector, func(), error) {
	dir, err := os.MkdirTemp("", "mcloud-sandbox-ssh-*")
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox ssh: %w", err)
	}
	boxes := map[string]*sshsandbox.Sandbox{}
	hostKeys := map[string][]string{} // customer -> known_hosts lines of its hosts
	release := func() {
		for _, sb := range boxes {
			sb.Close()
		}
		os.RemoveAll(dir)
	}
	for _, cu := range cfg.Customers {
		if cu.Bastion.Host == "" {
			continue
		}
		// One tool per customer: host names are unique within a customer's
		// sandbox, not across customers.
		tool := &sandboxPatchTool{installed: map[string][]string{}, breaks: map[string]bool{}}
		var specs []sshsandbox.HostSpec
		for _, env := range cu.Environments {
			for i, h := range env.Hosts {
				if h.Address == "" && env.Provision != nil {
					continue // built by provision, through the world
				}
				spec, err := sandboxHost(h, tool)
				if err != nil {
					release()
					return nil, nil, fmt.Errorf("sandbox ssh: %s/%s host %s: %w", cu.Name, env.Name, h.Name, err)
				}
				if i == 1 {
					tool.breaks[h.Name] = true
				}
				specs = append(specs, spec)
			}
		}
		keyDir := filepath.Join(dir, cu.Name)
		if err := os.Mkdir(keyDir, 0o700); err != nil {
			release()
			return nil, nil, fmt.Errorf("sandbox ssh: %w", err)
		}
		sb, err := sshsandbox.Start(sshsandbox.Options{Hosts: specs, KeyDir: keyDir})
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("sandbox ssh for %s: %w", cu.Name, err)
		}
		boxes[cu.Name] = sb
		world.addBox(cu.Name, sb, tool)
		for _, spec := range specs {
			hostKeys[cu.Name] = append(hostKeys[cu.Name], sb.Host(spec.Name).KnownHostsLine())
		}
		log.Debug("sandbox bastion", "customer", cu.Name, "configured", cu.Bastion.Host, "listening", sb.BastionAddr())
	}
	adjust := func(cu *config.Customer, c *mssh.Config) error {
		sb := boxes[cu.Name]
		if sb == nil {
			return fmt.Errorf("no sandbox for %s", cu.Name)
		}
		line, err := mssh.KnownHostsLine(c.Bastion.Addr(), string(xssh.MarshalAuthorizedKey(sb.BastionKey())))
		if err != nil {
			return err
		}
		// The sandbox bastion's key comes first and the sandbox hosts' next;
		// the configured keys stay beside them: the hosts' pins from the
		// configuration and from provision's inventory, and what a DR
		// rebuild's session pins from its console output.
		c.KnownHosts = append(append([]string{line}, hostKeys[cu.Name]...), c.KnownHosts...)
		c.Auth = mssh.Auth{KeyFile: sb.KeyPath}
		addr := sb.BastionAddr()
		c.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
		return nil
	}
	return commands.NewSSHConnector(cfg, observeSSH(adjust, m)), release, nil
}

// sandboxHost scripts one configured host: its service, its health
// endpoint where health_url says (TLS with a self-signed certificate for
// https, as WSO2's management port), and the site's patch tool.
func sandboxHost(h config.Host, tool *sandboxPatchTool) (sshsandbox.HostSpec, error) {
	spec := sshsandbox.HostSpec{
		Name:     h.Name,
		Address:  h.Address,
		Commands: map[string]sshsandbox.CommandFunc{"mcloud-patch": tool.run, "uptime": sandboxUptime},
	}
	if h.Service != "" {
		spec.Services = []string{h.Service}
	}
	if h.HealthURL != "" {
		u, err := url.Parse(h.HealthURL)
		if err != nil {
			return spec, err
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		if spec.HTTPPort, err = strconv.Atoi(port); err != nil {
			return spec, fmt.Errorf("health_url port %q: %w", port, err)
		}
		spec.HealthPath, spec.TLS = u.Path, u.Scheme == "https"
	}
	return spec, nil
}

// sandboxPatchTool is the site's patch wrapper the example configuration
// calls on hosts:
//
//	mcloud-patch apply SERVICE PATCH    refuses while SERVICE runs
//	mcloud-patch revert SERVICE PATCH
//	mcloud-patch list
type sandboxPatchTool struct {
	mu        sync.Mutex
	installed map[string][]string // host -> patch ids
	breaks    map[string]bool     // hosts a broken patch leaves unhealthy
}

func (p *sandboxPatchTool) run(ctx context.Context, h *sshsandbox.Host, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(args) == 2 && args[1] == "list" {
		if len(p.installed[h.Name]) == 0 {
			fmt.Fprintln(stdout, "no patches installed")
		}
		for _, id := range p.installed[h.Name] {
			fmt.Fprintln(stdout, id)
		}
		return 0
	}
	if len(args) != 4 || (args[1] != "apply" && args[1] != "revert") {
		fmt.Fprintln(stderr, "usage: mcloud-patch apply|revert SERVICE PATCH, or mcloud-patch list")
		return 2
	}
	verb, svc, id := args[1], args[2], args[3]
	if verb == "apply" {
		if h.ServiceActive(svc) {
			fmt.Fprintf(stderr, "mcloud-patch: %s is running; stop it first\n", svc)
			return 1
		}
		if slices.Contains(p.installed[h.Name], id) {
			fmt.Fprintf(stdout, "%s is already installed\n", id)
			return 0
		}
		p.installed[h.Name] = append(p.installed[h.Name], id)
		if strings.Contains(id, sandboxBroken) && p.breaks[h.Name] {
			h.SetHealthy(false)
		}
		fmt.Fprintf(stdout, "installed %s into %s\n", id, svc)
		return 0
	}
	p.installed[h.Name] = slices.DeleteFunc(p.installed[h.Name], func(s string) bool { return s == id })
	h.SetHealthy(true)
	fmt.Fprintf(stdout, "reverted %s from %s\n", id, svc)
	return 0
}

func sandboxUptime(ctx context.Context, h *sshsandbox.Host, args []string, _ io.Reader, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, " 09:00:00 up 42 days,  3:07,  0 users,  load average: 0.08, 0.03, 0.01")
	return 0
}
