package ssh_test

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	mssh "github.com/mcloud/mcloud/integrations/ssh"
	"github.com/mcloud/mcloud/integrations/ssh/sshtest"
)

// BenchmarkHostname50 starts 50 real sshd hosts behind one bastion and runs
// `hostname` on all of them three ways: the package's bounded fan-out, the
// package one host at a time, and `ansible all -m command -a hostname`
// with default forks through the same bastion (ProxyJump, host keys
// verified against a generated known_hosts). Every iteration includes
// connecting, as a chat command would. Run with:
//
//	go test -run '^$' -bench Hostname50 -benchtime 1x ./integrations/ssh/
func BenchmarkHostname50(b *testing.B) {
	const hosts = 50
	env := sshtest.Start(b, sshtest.Options{Hosts: hosts})
	targets := targetsOf(env)
	figures := map[string]time.Duration{}

	runClient := func(parallelism int) func(b *testing.B) {
		return func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				cfg := config(env)
				cfg.Parallelism = parallelism
				start := time.Now()
				c, err := mssh.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				res := c.RunAll(context.Background(), targets, "hostname")
				c.Close()
				total += time.Since(start)
				for j, r := range res {
					if r.Err != nil || strings.TrimSpace(string(r.Stdout)) != env.Hosts[j].Name {
						b.Fatalf("%s: %q %v", r.Target.Name, r.Stdout, r.Err)
					}
				}
			}
			figures[b.Name()] = total / time.Duration(b.N)
		}
	}
	b.Run(fmt.Sprintf("fanout-%d", mssh.DefaultParallelism), runClient(mssh.DefaultParallelism))
	b.Run("serial", runClient(1))
	b.Run("ansible", func(b *testing.B) {
		ansible, err := exec.LookPath("ansible")
		if err != nil {
			b.Fatalf("ansible not installed (Debian package ansible): %v", err)
		}
		inv, sshEnv, err := env.AnsibleSetup(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		var total time.Duration
		for i := 0; i < b.N; i++ {
			cmd := exec.Command(ansible, "all", "-i", inv, "-m", "command", "-a", "hostname")
			cmd.Env = sshEnv
			start := time.Now()
			out, err := cmd.CombinedOutput()
			total += time.Since(start)
			if err != nil {
				b.Fatalf("ansible: %v\n%s", err, out)
			}
			ok := regexp.MustCompile(`(?m)^host-\d+ \| CHANGED \| rc=0 >>\nhost-\d+$`).FindAllIndex(out, -1)
			if len(ok) != hosts {
				b.Fatalf("ansible succeeded on %d of %d hosts:\n%s", len(ok), hosts, out)
			}
		}
		figures[b.Name()] = total / time.Duration(b.N)
	})

	var lines []string
	for _, name := range []string{
		fmt.Sprintf("BenchmarkHostname50/fanout-%d", mssh.DefaultParallelism),
		"BenchmarkHostname50/serial",
		"BenchmarkHostname50/ansible",
	} {
		if d, ok := figures[name]; ok {
			lines = append(lines, fmt.Sprintf("  %-42s %8.2fs", strings.TrimPrefix(name, "BenchmarkHostname50/"), d.Seconds()))
		}
	}
	fmt.Printf("hostname on %d hosts via one bastion (namespaced=%v), wall time per run:\n%s\n",
		hosts, env.Namespaced, strings.Join(lines, "\n"))
}
