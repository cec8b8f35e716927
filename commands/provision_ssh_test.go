package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/store"
)

// Provisioned hosts, configured without address or host_key, are reached
// by run at the address and with the host key provision recorded (read
// from the console output); a host whose recorded key is not the one it
// presents is refused, never trusted on first use.
func TestRunReachesProvisionedHostsWithTheRecordedKey(t *testing.T) {
	w := startSSHWorld(t, worldOptions{hosts: 2})
	var keys []string
	for _, h := range w.prod["hosts"].([]map[string]any) {
		keys = append(keys, h["host_key"].(string))
		delete(h, "address")
		delete(h, "host_key")
	}
	w.prod["provision"] = map[string]any{}
	w.open(0)
	inv := []store.InventoryHost{
		{Host: "host-1", InstanceID: "i-1", Address: w.env.Hosts[0].Addr(), HostKey: keys[0]},
		// host-2's console showed another key than the one it presents.
		{Host: "host-2", InstanceID: "i-2", Address: w.env.Hosts[1].Addr(), HostKey: keys[0]},
	}
	if err := w.db.SetInventory(context.Background(), "customer-x", "prod", inv); err != nil {
		t.Fatal(err)
	}
	r, job := w.request("alice", "devops", "/mcloud run customer-x prod -- uptime")
	if step := r.Request.Plan.Steps[0]; !strings.Contains(step, w.env.Hosts[0].Addr()) {
		t.Fatalf("plan step %q does not name the recorded address %s", step, w.env.Hosts[0].Addr())
	}
	j := w.waitJob(job)
	thread := strings.Join(w.thread(r.Request.ID), "\n")
	if j.Status != mcloud.JobFailed || !strings.Contains(thread, "ok on host-1") || !strings.Contains(thread, "host-2") ||
		!strings.Contains(thread, "not the one pinned") {
		t.Fatalf("job %s: %s\nthread:\n%s", j.Status, j.Error, thread)
	}
}
