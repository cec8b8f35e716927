package commands_test

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	mssh "github.com/mcloud/mcloud/integrations/ssh"
	"github.com/mcloud/mcloud/integrations/ssh/sshsandbox"
	"github.com/mcloud/mcloud/integrations/ssh/sshtest"
	"github.com/mcloud/mcloud/provision"
)

// drSandboxHosts makes what the emulator launches in customer-x's DR
// region answer through an in-process SSH sandbox, as the bot's sandbox
// does: each prod host's instance is a scripted host answering its
// health_url, whose key the console output prints; the rebuild's bastion
// prints the sandbox bastion's key; restored databases accept connections.
func drSandboxHosts(t *testing.T, w *awsWorld) *sshsandbox.Sandbox {
	t.Helper()
	sb, err := sshsandbox.Start(sshsandbox.Options{KeyDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	bastionKey := strings.TrimSpace(string(xssh.MarshalAuthorizedKey(sb.BastionKey())))
	hosts := w.cfg.Customer("customer-x").Env("prod").Hosts
	w.emu.SetMachines(func(m *awsemu.Machine) {
		if m.Region != xDR {
			return
		}
		switch {
		case m.Kind == "db":
			sb.AddEndpoint(net.JoinHostPort(m.Address, strconv.Itoa(m.Port)))
		case m.Kind == "instance" && m.LogicalID == "Bastion":
			m.HostKey = bastionKey
		case m.Kind == "instance":
			for _, h := range hosts {
				if provision.LogicalID(h.Name) != m.LogicalID {
					continue
				}
				u, _ := url.Parse(h.HealthURL)
				port, _ := strconv.Atoi(u.Port())
				host, err := sb.AddHost(sshsandbox.HostSpec{Name: h.Name, Address: m.Address + ":22", HTTPPort: port, HealthPath: u.Path, TLS: u.Scheme == "https"})
				if err == nil {
					m.HostKey = host.AuthorizedKey()
				}
			}
		}
	})
	w.svc.Deps.SSH = commands.NewSSHConnector(w.cfg, func(cu *config.Customer, c *mssh.Config) error {
		line, err := mssh.KnownHostsLine(c.Bastion.Addr(), bastionKey)
		if err != nil {
			return err
		}
		c.KnownHosts = append(c.KnownHosts, line)
		c.Auth = mssh.Auth{KeyFile: sb.KeyPath}
		c.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, sb.BastionAddr())
		}
		return nil
	})
	return sb
}

// drSSHWorld is customer-x with prod's two hosts and its bastion real
// OpenSSH sshd servers, each host's health endpoint on the hosts' own
// loopback, and the emulator's DR rebuild placed on them: the rebuild's
// bastion address and each host's instance resolve to the sshd servers,
// whose keys the instances' console output prints, and restored
// databases to a TCP listener on loopback (db).
type drSSHWorld struct {
	*awsWorld
	ssh  *sshWorld
	dbLn net.Listener
}

func startDRSSHWorld(t *testing.T) *drSSHWorld {
	t.Helper()
	env := sshtest.Start(t, sshtest.Options{Hosts: 2, Network: sshLoopback})
	sw := &sshWorld{t: t, env: env}
	var hosts []any
	for i, h := range env.Hosts {
		hosts = append(hosts, map[string]any{
			"name": "x-prod-apim-" + strconv.Itoa(i+1), "address": h.Addr(), "product": "wso2am", "service": "wso2am",
			"health_url": "http://" + sw.serveHealth(h) + "/health", "host_key": keyOf(t, h.KnownHostsLine),
		})
	}
	cfg := sw.config(map[string]any{"host": env.Bastion.Host, "port": env.Bastion.Port, "user": env.User, "host_key": keyOf(t, env.Bastion.KnownHostsLine)},
		map[string]any{"name": "prod", "hosts": hosts}, 0)
	w := &drSSHWorld{awsWorld: newAWSWorld(t, awsWorldOptions{cfg: cfg, emu: awsemu.Options{DBRestoreDelay: 200 * time.Millisecond}}), ssh: sw}
	w.svc.Deps.SSH = commands.NewSSHConnector(cfg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	w.dbLn = ln
	dbPort := ln.Addr().(*net.TCPAddr).Port
	w.emu.SetMachines(func(m *awsemu.Machine) {
		if m.Region != xDR {
			return
		}
		switch {
		case m.Kind == "address" && m.LogicalID == "BastionAddress":
			m.Address = env.Bastion.Host
		case m.Kind == "db":
			m.Address, m.Port = "127.0.0.1", dbPort
		case m.Kind == "instance" && m.LogicalID == "Bastion":
			m.HostKey = keyOf(t, env.Bastion.KnownHostsLine)
		case m.Kind == "instance":
			for i, h := range env.Hosts {
				if m.LogicalID == provision.LogicalID("x-prod-apim-"+strconv.Itoa(i+1)) {
					m.Address, m.HostKey = h.Host, keyOf(t, h.KnownHostsLine)
				}
			}
		}
	})
	return w
}

// A drill checks health for real, through the rebuild's bastion (a real
// sshd): each host's health_url fetched over SSH to the host, whose key
// is the one its console output printed, and the database's endpoint
// connected to from the bastion. The report's health column says what
// was seen.
func TestDRDrillChecksHealthThroughTheDRBastion(t *testing.T) {
	w := startDRSSHWorld(t)
	alice, bob := w.as("alice", "devops"), w.as("bob", "devops")
	seedDRCopies(t, w.awsWorld, time.Now().UTC(), 3*time.Hour)

	if text := planText(w.do(alice, "/mcloud dr drill customer-x prod --dry-run")); !strings.Contains(text, "health-check through the rebuild's bastion: each host's health_url over SSH") {
		t.Errorf("the plan does not say how health is checked:\n%s", text)
	}
	w.do(alice, "/mcloud dr drill customer-x prod")
	j := w.waitJob(w.do(bob, "/mcloud approve 1").Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobSucceeded {
		t.Fatalf("drill %s: %s\n%s", j.Status, j.Error, thread)
	}
	for _, want := range []string{
		"Job #1: health check: all healthy",
		"EBS x-prod-apim-1 data | snap-apim1new | 3h00m",
		"| with the stack | 200 in ",
		"host x-prod-apim-2 | - | - | new empty data volume | 200 in ",
		"RDS x-prod-db | mcloud-job7-x-prod-db | 2h30m",
		"| available, port " + strconv.Itoa(w.dbLn.Addr().(*net.TCPAddr).Port) + " answers in ",
		"Drill of customer-x/prod in eu-central-1: RPO 3h00m",
		"within targets.",
	} {
		if !strings.Contains(thread, want) {
			t.Errorf("thread lacks %q:\n%s", want, thread)
		}
	}
	// The health check reached the hosts through the bastion.
	for i, h := range w.ssh.env.Hosts {
		if !strings.Contains(h.Log(), "Accepted publickey") {
			t.Errorf("host %d's sshd saw no login:\n%s", i+1, h.Log())
		}
	}
	if left := drillLeftovers(w.awsWorld, "1"); len(left) > 0 {
		t.Errorf("the drill left %v", left)
	}
}

// A host whose health_url answers 503 and a database whose endpoint
// refuses make the drill unhealthy: the first line of the report names
// them with what was seen, the table shows it, the checks stop at the RTO
// target, and the teardown is still complete.
func TestDRDrillUnhealthyHostReportedFirstAndTornDown(t *testing.T) {
	w := startDRSSHWorld(t)
	alice, bob := w.as("alice", "devops"), w.as("bob", "devops")
	seedDRCopies(t, w.awsWorld, time.Now().UTC(), 3*time.Hour)
	w.ssh.mark(1, "unhealthy") // x-prod-apim-2's endpoint answers 503
	w.dbLn.Close()             // nothing listens at the database's endpoint
	w.cfg.Customer("customer-x").DR.RTOTarget = 3 * 1e9

	w.do(alice, "/mcloud dr drill customer-x prod")
	j := w.waitJob(w.do(bob, "/mcloud approve 1").Job.ID)
	thread := w.thread()
	if j.Status != mcloud.JobFailed || !strings.Contains(j.Error, "The rebuild of customer-x/prod in eu-central-1 is not healthy: see the report.") {
		t.Fatalf("drill %s: %s\n%s", j.Status, j.Error, thread)
	}
	runs, err := w.db.DRRuns(context.Background(), "customer-x")
	if err != nil || len(runs) != 1 {
		t.Fatalf("stored drills: %v %+v", err, runs)
	}
	report := runs[0].Report
	t.Logf("report:\n%s", report)
	first, _, _ := strings.Cut(report, "\n")
	if !strings.HasPrefix(first, "WARNING: not healthy: x-prod-apim-2 (503 in ") || !strings.Contains(first, "x-prod-db (available; endpoint refused)") ||
		strings.Contains(first, "x-prod-apim-1") {
		t.Errorf("first line: %q", first)
	}
	for _, want := range []string{
		"RTO not reached: not all healthy after ", ": unhealthy.",
		"EBS x-prod-apim-1 data | snap-apim1new | 3h00m", "| with the stack | 200 in ",
		"host x-prod-apim-2 | - | - | new empty data volume | 503 in ",
		"| available; endpoint refused",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if runs[0].Outcome != "unhealthy" || !strings.Contains(thread, report) {
		t.Errorf("outcome %q; thread:\n%s", runs[0].Outcome, thread)
	}
	if !strings.Contains(thread, "Job #1: tear down: deleted stack mcloud-drill-customer-x-prod-1") {
		t.Errorf("no teardown in the thread:\n%s", thread)
	}
	if left := drillLeftovers(w.awsWorld, "1"); len(left) > 0 {
		t.Errorf("the drill left %v", left)
	}
}

// Without SSH a drill could not check health, so it is refused at the plan.
func TestDRDrillNeedsSSH(t *testing.T) {
	w := newAWSWorld(t, awsWorldOptions{})
	seedDRCopies(t, w, time.Now().UTC(), time.Hour)
	r := w.svc.Handle(context.Background(), w.as("alice", "devops"), "/mcloud dr drill customer-x prod --dry-run")
	if r.Error != "SSH is not set up in this bot, so dr drill cannot run; ask the DevOps team." {
		t.Errorf("a drill without SSH: %+v", r)
	}
}
