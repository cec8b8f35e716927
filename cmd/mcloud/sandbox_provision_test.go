package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot"
	"github.com/mcloud/mcloud/examples"
)

// In the sandbox as in AWS: provision pins a new host's SSH key from what
// its console output shows, and run reaches the host with that key; when
// the host then presents another key than its console showed, run is
// refused and nothing runs there. Through the wiring `mcloud shell
// --sandbox` uses (openAppConfig with sandbox, the shell's :sandbox).
func TestSandboxRunUsesTheHostKeyFromConsoleOutput(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg, err := parseConfig(examples.ConfigName, examples.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, err := openAppConfig(ctx, cfg, filepath.Join(t.TempDir(), "mcloud.db"), true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.close()
	shell := func(script string) string {
		t.Helper()
		var out bytes.Buffer
		sh := &bot.Shell{Service: a.svc, Outbox: a.db, In: strings.NewReader(script), Out: &out, User: "alice", Channel: "devops",
			Wait: 2 * time.Minute, Sandbox: a.sandbox.directive}
		a.svc.Deps.DM = sh
		if err := sh.Run(ctx); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return out.String()
	}

	shell(`/mcloud provision customer-x staging
:user bob
/mcloud approve 1
:expect Job #1 succeeded
:user alice
/mcloud run customer-x staging -- uptime
:user bob
/mcloud approve 2
:expect ok on x-stg-apim-1: exit 0
:expect Job #2 succeeded
`)
	inv, err := a.db.Inventory(ctx, "customer-x", "staging")
	if err != nil {
		t.Fatal(err)
	}
	host := a.sandbox.boxes["customer-x"].Host("x-stg-apim-1")
	if host == nil {
		t.Fatal("provision built no sandbox host for x-stg-apim-1")
	}
	var pinned string
	for _, h := range inv {
		if h.Host == "x-stg-apim-1" {
			pinned = h.HostKey
			if h.Address+":22" != host.Address {
				t.Errorf("inventory address %s, sandbox host at %s", h.Address, host.Address)
			}
		}
	}
	if pinned != host.AuthorizedKey() {
		t.Fatalf("pinned from the console: %q; the host presents %q", pinned, host.AuthorizedKey())
	}
	ran := len(host.Log())
	if ran == 0 {
		t.Fatal("uptime did not run on the provisioned host")
	}

	out := shell(`:sandbox rekey customer-x x-stg-apim-1
:user alice
/mcloud run customer-x staging -- uptime
:user bob
/mcloud approve 3
:expect FAILED on x-stg-apim-1: not run: refused to connect to x-stg-apim-1
:expect not the one pinned
:expect Job #3 failed
`)
	if got := host.Log(); len(got) != ran {
		t.Fatalf("something ran on the host whose key changed: %q\n%s", got[ran:], out)
	}
}

// :sandbox changes stand-ins behind mcloud's back, so it exists only with
// --sandbox; a wrong one says what is wrong and how to write it.
func TestSandboxDirectiveOnlyInTheSandbox(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code, stdout, stderr := runTour(t, ":sandbox open-ssh customer-x staging\n:expect works only in mcloud shell --sandbox\n")
	if code != 0 {
		t.Fatalf("without --sandbox: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runTour(t, `:sandbox open-ssh customer-x staging
:expect customer-x/staging has no stack mcloud-customer-x-staging in the sandbox yet; provision it first.
:sandbox rekey customer-x
:expect :sandbox rekey needs a customer and a host.
:expect :sandbox open-ssh CUSTOMER ENV
:sandbox add-database customer-z staging
:expect Unknown customer "customer-z"; customers: customer-x, customer-y.
:sandbox reboot customer-x staging
:expect Unknown :sandbox change "reboot".
:sandbox change-database customer-x staging
:expect customer-x/staging has no stack mcloud-customer-x-staging in the sandbox yet; provision it first.
:sandbox change-database customer-x
:expect :sandbox change-database needs a customer and an environment.
:expect :sandbox change-database CUSTOMER ENV  someone renames the environment's database (DBName)
`, "--sandbox")
	if code != 0 {
		t.Fatalf("with --sandbox: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
