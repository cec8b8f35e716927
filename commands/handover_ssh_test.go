package commands_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/ssh/sshtest"
)

// check: bastion asks the URL from the customer's bastion (real OpenSSH
// sshd opening the connection): it answers although the bot itself has no
// URL checker at all, and a URL that does not answer from the bastion is
// flagged as such.
func TestHandoverChecksURLsFromTheBastion(t *testing.T) {
	w := startSSHWorld(t, worldOptions{hosts: 1, network: sshtest.NetworkLoopback})
	var asked atomic.Int32
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		rw.WriteHeader(http.StatusUnauthorized) // a login page is up
	}))
	t.Cleanup(site.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()
	w.prod["products"] = []any{
		map[string]any{"name": "Publisher", "url": site.URL + "/publisher", "check": "bastion"},
		map[string]any{"name": "Portal", "url": closed, "check": "bastion"},
	}
	w.open(0)
	w.svc.Deps.URLs = nil // the bot could not check anything itself

	r, job := w.request("carol", "customer-x-shared", "handover customer-x prod")
	if steps := strings.Join(r.Request.Plan.Steps, "\n"); !strings.Contains(steps, "check "+site.URL+"/publisher from bastion") {
		t.Errorf("the plan does not say the URL is checked from the bastion:\n%s", steps)
	}
	if j := w.waitJob(job); j.Status != mcloud.JobSucceeded {
		t.Fatalf("job %s: %s", j.Status, j.Error)
	}
	thread := strings.Join(w.thread(r.Request.ID), "\n")
	t.Logf("thread:\n%s", thread)
	if !strings.Contains(thread, "• Publisher: "+site.URL+"/publisher\n") || asked.Load() == 0 {
		t.Errorf("the publisher URL was not found answering from the bastion (%d requests):\n%s", asked.Load(), thread)
	}
	if want := "• Portal: " + closed + "  ⚠ not answering from the bastion (nothing answers at its address)"; !strings.Contains(thread, want) {
		t.Errorf("the thread lacks %q:\n%s", want, thread)
	}
	// The customer's channel hears what is wrong, not SSH's details.
	if bastion := net.JoinHostPort(w.env.Bastion.Host, fmt.Sprint(w.env.Bastion.Port)); strings.Contains(thread, bastion) || strings.Contains(thread, "ssh:") {
		t.Errorf("the thread shows the bastion's address or SSH's errors:\n%s", thread)
	}

	// With the bastion down, the URLs are still posted, flagged.
	w.cfg.Customer("customer-x").Bastion.Port = ln.Addr().(*net.TCPAddr).Port
	r, job = w.request("carol", "customer-x-shared", "handover customer-x prod")
	if j := w.waitJob(job); j.Status != mcloud.JobSucceeded {
		t.Fatalf("job with the bastion down %s: %s", j.Status, j.Error)
	}
	thread = strings.Join(w.thread(r.Request.ID), "\n")
	if want := "• Publisher: " + site.URL + "/publisher  ⚠ not answering from the bastion (the bastion could not be reached)"; !strings.Contains(thread, want) {
		t.Errorf("the thread lacks %q:\n%s", want, thread)
	}
}
