package main

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// metadataStandIn listens on loopback where the tests point the SDK's
// instance metadata endpoint, so that a probe is counted here instead of
// leaving for 169.254.169.254. It answers 404: no instance role.
func metadataStandIn(t *testing.T) (url string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = &atomic.Int64{}
	srv := &http.Server{Handler: http.NotFoundHandler(), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), conns
}

// emptyAWSEnvironment leaves the SDK no credentials from anywhere but the
// instance metadata service, which is pointed at imds.
func emptyAWSEnvironment(t *testing.T, imds string) {
	home := t.TempDir()
	for k, v := range map[string]string{
		"HOME": home, "AWS_CONFIG_FILE": filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "none"),
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_EC2_METADATA_DISABLED": "", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds,
		"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "", "MCLOUD_AWS_ENDPOINT": "",
		"CUSTOMER_X_EXTERNAL_ID": "ext-x", "CUSTOMER_Y_EXTERNAL_ID": "ext-y",
	} {
		t.Setenv(k, v)
	}
}

// TestNoAWSCredentials is issue 8, defect 10: without --sandbox and with
// no credentials, the SDK's chain probed the link-local metadata address
// and the user read "something went wrong talking to AWS". With an
// endpoint (an emulator) the metadata service is never asked; without
// one it may be (an instance role is a real source in production) and
// here it answers "no role". Either way the user reads one sentence.
func TestNoAWSCredentials(t *testing.T) {
	want := "No AWS credentials for customer-x: mcloud found none where it runs"
	t.Run("endpoint set: metadata service never asked", func(t *testing.T) {
		imds, conns := metadataStandIn(t)
		emptyAWSEnvironment(t, imds)
		fakeAWS, awsConns := metadataStandIn(t)
		t.Setenv("MCLOUD_AWS_ENDPOINT", fakeAWS)
		out := runShellScript(t, "/mcloud backups customer-x\n", "--user", "alice", "--channel", "devops")
		if !strings.Contains(out, want) {
			t.Errorf("shell output lacks %q:\n%s", want, out)
		}
		if n := conns.Load(); n != 0 {
			t.Errorf("the instance metadata service was asked %d times; want never", n)
		}
		if n := awsConns.Load(); n != 0 {
			t.Errorf("AWS was called %d times without credentials; want never", n)
		}
	})
	t.Run("no endpoint: the instance role is looked for on loopback only", func(t *testing.T) {
		imds, conns := metadataStandIn(t)
		emptyAWSEnvironment(t, imds)
		out := runShellScript(t, "/mcloud backups customer-x\n", "--user", "alice", "--channel", "devops")
		if !strings.Contains(out, want) {
			t.Errorf("shell output lacks %q:\n%s", want, out)
		}
		if conns.Load() == 0 {
			t.Errorf("the metadata stand-in was never asked; the endpoint override did not hold, so the test above proves nothing")
		}
	})
	t.Run("sandbox: metadata service never asked", func(t *testing.T) {
		imds, conns := metadataStandIn(t)
		emptyAWSEnvironment(t, imds)
		out := runShellScript(t, "/mcloud backups customer-x\n", "--user", "alice", "--channel", "devops", "--sandbox")
		if strings.Contains(out, want) || !strings.Contains(out, "customer-x") {
			t.Errorf("sandbox backups report:\n%s", out)
		}
		if n := conns.Load(); n != 0 {
			t.Errorf("the instance metadata service was asked %d times in the sandbox; want never", n)
		}
	})
	t.Run("AWS_EC2_METADATA_DISABLED turns the instance role off", func(t *testing.T) {
		imds, conns := metadataStandIn(t)
		emptyAWSEnvironment(t, imds)
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		out := runShellScript(t, "/mcloud backups customer-x\n", "--user", "alice", "--channel", "devops")
		if !strings.Contains(out, want) {
			t.Errorf("shell output lacks %q:\n%s", want, out)
		}
		if n := conns.Load(); n != 0 {
			t.Errorf("the instance metadata service was asked %d times; want never", n)
		}
	})
}
