package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/integrations/monitoring"
)

const (
	icingaToken  = "icinga-notify-token"
	icingaAPIPwd = "icinga-api-password"
)

// icinga is one Debian icinga2 daemon run by a test, in its own
// directories, with its API on loopback.
type icinga struct {
	dir    string
	api    string
	client *http.Client
}

// writeCA writes a CA and a node certificate for Icinga2's API listener.
func writeCA(t *testing.T, dir, node string) {
	t.Helper()
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mcloud test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: node}, DNSNames: []string{node},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	caCert, _ := x509.ParseCertificate(caDER)
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.crt", "CERTIFICATE", caDER)
	write("node.crt", "CERTIFICATE", der)
	write("node.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
}

// startIcinga2 runs icinga2 with the shipped notification script and
// apply snippet (contrib/icinga2), pointed at mcloud's receiver, and one
// passive host and service of customer-x to force states on.
func startIcinga2(t *testing.T, receiver string) *icinga {
	t.Helper()
	bin, err := exec.LookPath("icinga2")
	if err != nil {
		bin = "/usr/sbin/icinga2"
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("icinga2 is not installed (apt-get install icinga2): %v", err)
		}
	}
	dir := t.TempDir()
	for _, d := range []string{"run/icinga2", "data", "log", "cache", "spool", "scripts"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, err := os.ReadFile("../../contrib/icinga2/mcloud-notify.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts", "mcloud-notify.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	snippet, err := filepath.Abs("../../contrib/icinga2/mcloud.conf")
	if err != nil {
		t.Fatal(err)
	}
	writeCA(t, dir, "mcloud-test")
	addr := freeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf(`const NodeName = "mcloud-test"
const ZoneName = "mcloud-test"
const MCloudURL = %q
const MCloudToken = %q
include <itl>
object Endpoint NodeName {}
object Zone ZoneName { endpoints = [ NodeName ] }
object ApiListener "api" {
  bind_host = %q
  bind_port = %s
  cert_path = %q
  key_path = %q
  ca_path = %q
}
object ApiUser "mcloud" { password = %q; permissions = [ "*" ] }
object NotificationComponent "notification" {}
object Host "x-prod-apim-1" { check_command = "dummy"; enable_active_checks = false; address = "10.10.1.11"; vars.customer = "customer-x" }
object Service "disk" { host_name = "x-prod-apim-1"; check_command = "dummy"; enable_active_checks = false; max_check_attempts = 1 }
// customer-y's VPC reuses customer-x's private address; a host with no
// vars at all: a patch of customer-x's host must put neither in downtime.
object Host "y-prod-apim-1" { check_command = "dummy"; enable_active_checks = false; address = "10.10.1.11"; vars.customer = "customer-y" }
object Service "disk" { host_name = "y-prod-apim-1"; check_command = "dummy"; enable_active_checks = false; max_check_attempts = 1 }
object Host "lab-1" { check_command = "dummy"; enable_active_checks = false; address = "10.10.1.11" }
include %q
`, receiver, icingaToken, host, port, filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key"), filepath.Join(dir, "ca.crt"), icingaAPIPwd, snippet)
	if err := os.WriteFile(filepath.Join(dir, "icinga2.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "daemon", "-c", filepath.Join(dir, "icinga2.conf"), "-DConfigDir="+dir, "-DInitRunDir="+filepath.Join(dir, "run"),
		"-DDataDir="+filepath.Join(dir, "data"), "-DLogDir="+filepath.Join(dir, "log"), "-DCacheDir="+filepath.Join(dir, "cache"),
		"-DSpoolDir="+filepath.Join(dir, "spool"))
	// Run as whoever runs the test (root in CI), in the test's own
	// directories: not as the package's nagios user in /var/lib/icinga2.
	cmd.Env = append(os.Environ(), "ICINGA2_USER="+currentUser(), "ICINGA2_GROUP="+currentGroup())
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// /usr/sbin/icinga2 is a wrapper that starts the daemon, which forks
	// its own helper: only killing the process group stops them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("icinga2:\n%s", logs.String())
		}
	})
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	pool.AppendCertsFromPEM(caPEM)
	ic := &icinga{dir: dir, api: "https://" + addr, client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "mcloud-test"}}}}
	waitDB(t, 2*time.Minute, "icinga2's API", func() bool {
		code, _ := ic.call("GET", "/v1/status/IcingaApplication", "")
		return code == 200
	})
	return ic
}

func (ic *icinga) call(method, path, body string) (int, string) {
	req, _ := http.NewRequest(method, ic.api+path, strings.NewReader(body))
	req.SetBasicAuth("mcloud", icingaAPIPwd)
	req.Header.Set("Accept", "application/json")
	resp, err := ic.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}

func currentGroup() string {
	out, err := exec.Command("id", "-gn").Output()
	if err != nil {
		return "root"
	}
	return strings.TrimSpace(string(out))
}

// TestIcinga2NotificationReachesCustomerChannel: a real Icinga2 whose
// service is forced CRITICAL runs the shipped script, and the alert
// appears in customer-x's channel (and not customer-y's); the recovery
// updates the same message and replies in its thread.
func TestIcinga2NotificationReachesCustomerChannel(t *testing.T) {
	bin := mcloudBinary(t)
	ws := slackfake.New(t)
	cfg := alertsConfig(t, ws, "  icinga2:\n    token: ${MCLOUD_ICINGA_TOKEN}\n")
	t.Setenv("MCLOUD_AM_TOKEN", alertsToken)
	t.Setenv("MCLOUD_ICINGA_TOKEN", icingaToken)
	srv := startServe(t, bin, cfg, filepath.Join(t.TempDir(), "mcloud.db"))
	var addr string
	select {
	case addr = <-srv.addr:
	case <-srv.done:
		t.Fatalf("mcloud serve exited:\n%s", srv.output())
	}
	ic := startIcinga2(t, "http://"+addr+"/alerts/icinga2")

	force := func(exit int, output string) {
		code, body := ic.call("POST", "/v1/actions/process-check-result", fmt.Sprintf(
			`{"type":"Service","filter":"host.name==\"x-prod-apim-1\" && service.name==\"disk\"","exit_status":%d,"plugin_output":%q}`, exit, output))
		if code != 200 {
			t.Fatalf("process-check-result: HTTP %d %s", code, body)
		}
	}
	force(2, "DISK CRITICAL - /var 97% full")
	root := func() *slackfake.Message { return topMessage(ws, "C0CUSTX", "disk on x-prod-apim-1") }
	ws.WaitFor(t, 2*time.Minute, "Icinga2's notification in customer-x's channel", func() bool { return root() != nil })
	if m := root(); !strings.Contains(m.Text, "[CRITICAL]") || !strings.Contains(m.Text, "DISK CRITICAL - /var 97% full") {
		t.Errorf("message: %q", m.Text)
	}
	// Acknowledge through Icinga2's API, as the Acknowledge button does:
	// Icinga2 records it and notifies mcloud, whose message then shows it.
	caPEM, _ := os.ReadFile(filepath.Join(ic.dir, "ca.crt"))
	api := monitoring.NewIcinga2API(ic.api, "mcloud", icingaAPIPwd, caPEM)
	api.Client.Transport.(*http.Transport).TLSClientConfig.ServerName = "mcloud-test"
	if err := api.Acknowledge(context.Background(), "x-prod-apim-1!disk", "alice", "looking at it", time.Time{}); err != nil {
		t.Fatal(err)
	}
	code, body := ic.call("GET", "/v1/objects/services?service=x-prod-apim-1!disk&attrs=acknowledgement", "")
	if code != 200 || !strings.Contains(body, `"acknowledgement":1`) {
		t.Errorf("Icinga2's service after Acknowledge: HTTP %d %s", code, body)
	}
	ws.WaitFor(t, 2*time.Minute, "the message to show the acknowledgement", func() bool {
		m := root()
		return m != nil && strings.Contains(m.Text, "Acknowledged by alice")
	})
	force(0, "DISK OK")
	ws.WaitFor(t, 2*time.Minute, "the recovery", func() bool {
		m := root()
		if m == nil || !strings.Contains(m.Text, "[RESOLVED]") {
			return false
		}
		for _, x := range ws.Messages() {
			if x.ThreadTS == m.TS && strings.HasPrefix(x.Text, "resolved") {
				return true
			}
		}
		return false
	})
	for _, m := range ws.Messages() {
		if m.Channel == "C0CUSTY" {
			t.Errorf("customer-y's channel got %q", m.Text)
		}
	}
	t.Logf("customer-x: %q", root().Text)
}
