package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/integrations/ssh/sshtest"
	"github.com/mcloud/mcloud/provision"
)

// TestKill9MidDrillRestoreResumesAndTearsDown runs a drill in the real
// binary against an emulator that outlives it, kills the process with
// SIGKILL while the database restore is under way, restarts it, and checks
// that the drill completes, each create call was made once, and the
// teardown left nothing in the DR region.
func TestKill9MidDrillRestoreResumesAndTearsDown(t *testing.T) {
	bin := mcloudBinary(t)
	cfg := fastRescueConfig(t)
	dbPath := filepath.Join(t.TempDir(), "mcloud.db")

	emu, err := awsemu.Start("", awsemu.Options{DBRestoreDelay: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	drOnSSHD(t, cfg, emu)
	const ext, acct, dr = "ext-x-kill9", "111111111111", "eu-central-1"
	if err := emu.AddAccount(awsemu.Account{ID: acct, RoleARN: "arn:aws:iam::111111111111:role/mcloud-operator", ExternalID: ext}); err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{"mcloud:customer": "customer-x", "mcloud:env": "prod", "mcloud:job": "3"}
	withName := map[string]string{"Name": "x-prod-apim-1-data"}
	for k, v := range tags {
		withName[k] = v
	}
	emu.AddSnapshot(awsemu.Snapshot{AccountID: acct, Region: dr, ID: "snap-apim1", VolumeID: "vol-ffffffff", SizeGiB: 50, StartTime: time.Now().Add(-2 * time.Hour), Tags: withName})
	if _, err := emu.AddDBSnapshot(awsemu.DBSnapshot{AccountID: acct, Region: dr, Identifier: "mcloud-job3-x-prod-db", InstanceIdentifier: "x-prod-db",
		Created: time.Now().Add(-2 * time.Hour), Tags: tags}); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"MCLOUD_AWS_ENDPOINT="+emu.URL(),
		"MCLOUD_AWS_POLL_INTERVAL=100ms",
		"AWS_ACCESS_KEY_ID=AKIAMCLOUDKILL9TEST1",
		"AWS_SECRET_ACCESS_KEY=kill9-secret",
		"AWS_REGION=eu-west-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"CUSTOMER_X_EXTERNAL_ID="+ext,
	)
	args := []string{"shell", "-c", cfg, "--database-url", dbPath, "--user", "alice", "--channel", "devops"}

	killWhen(t, bin, args, env, "/mcloud dr drill customer-x prod\n:user bob\n/mcloud approve 1\n", "Job #1: restore databases:")
	if n := emu.Calls("rds:RestoreDBInstanceFromDBSnapshot"); n != 1 {
		t.Fatalf("RestoreDBInstanceFromDBSnapshot called %d times before the kill, want 1", n)
	}
	if dbs := emu.DBInstances(acct, dr); len(dbs) != 1 {
		t.Fatalf("restored databases before the kill: %+v", dbs)
	}
	_, job, _ := jobState(t, dbPath, 1)
	if job.Status != mcloud.JobRunning {
		t.Fatalf("after kill -9: job %s; want running", job.Status)
	}

	out, _ := restart(t, bin, args, env, ":wait\n/mcloud job 1\n")
	for _, want := range []string{
		"Job #1 was interrupted (the process running it stopped) and is resuming from its last completed step.",
		"Drill of customer-x/prod in eu-central-1: RPO 2h00m",
		"Job #1: health check: all healthy",
		"Job #1: tear down: deleted stack mcloud-drill-customer-x-prod-1",
		"Job #1 succeeded: drill of customer-x/prod",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("restarted output lacks %q:\n%s", want, out)
		}
	}
	for op, want := range map[string]int{"rds:RestoreDBInstanceFromDBSnapshot": 1, "cloudformation:ExecuteChangeSet": 1, "cloudformation:CreateChangeSet": 1} {
		if n := emu.Calls(op); n != want {
			t.Errorf("%s called %d times in all, want %d", op, n, want)
		}
	}
	if s, d := emu.Stacks(dr), emu.DBInstances(acct, dr); len(s)+len(d) > 0 {
		t.Errorf("left in the DR region: stacks %v, databases %+v", s, d)
	}
	for _, v := range emu.Volumes(dr) {
		t.Errorf("volume left in the DR region: %+v", v)
	}
}

// drOnSSHD makes the drill's health checks reach real sshd servers on
// loopback: customer-x's bastion and prod hosts in the configuration at
// path become sshtest's, each host's health_url a loopback server
// answering 200, and the emulator puts the rebuild's bastion address,
// host instances (their console output printing the sshd keys) and
// restored database there.
func drOnSSHD(t *testing.T, path string, emu *awsemu.Server) {
	t.Helper()
	env := sshtest.Start(t, sshtest.Options{Hosts: 2, Network: sshtest.NetworkLoopback})
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }))
	t.Cleanup(site.Close)
	db, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	go func() {
		for {
			c, err := db.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	key := func(line string) string { f := strings.Fields(line); return f[1] + " " + f[2] }
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["ssh"] = map[string]any{"key_file": env.KeyPath}
	for _, c := range doc["customers"].([]any) {
		cu := c.(map[string]any)
		if cu["name"] != "customer-x" {
			continue
		}
		cu["bastion"] = map[string]any{"host": env.Bastion.Host, "port": env.Bastion.Port, "user": env.User, "host_key": key(env.Bastion.KnownHostsLine)}
		for _, e := range cu["environments"].([]any) {
			if e.(map[string]any)["name"] != "prod" {
				continue
			}
			for i, h := range e.(map[string]any)["hosts"].([]any) {
				h := h.(map[string]any)
				h["address"], h["host_key"], h["health_url"] = env.Hosts[i].Addr(), key(env.Hosts[i].KnownHostsLine), site.URL+"/health"
			}
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	emu.SetMachines(func(m *awsemu.Machine) {
		switch {
		case m.Kind == "address" && m.LogicalID == "BastionAddress":
			m.Address = env.Bastion.Host
		case m.Kind == "db":
			m.Address, m.Port = "127.0.0.1", db.Addr().(*net.TCPAddr).Port
		case m.Kind == "instance" && m.LogicalID == "Bastion":
			m.HostKey = key(env.Bastion.KnownHostsLine)
		case m.Kind == "instance":
			for i, h := range env.Hosts {
				if m.LogicalID == provision.LogicalID(fmt.Sprintf("x-prod-apim-%d", i+1)) {
					m.Address, m.HostKey = h.Host, key(h.KnownHostsLine)
				}
			}
		}
	})
}
