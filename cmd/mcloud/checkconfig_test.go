package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcloud/mcloud/config/configtest"
)

func writeConfig(t *testing.T, edit func(string) string) string {
	t.Helper()
	data, err := os.ReadFile("../../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mcloud.yaml")
	if err := os.WriteFile(path, []byte(edit(string(data))), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckConfigNamesTheBadKey(t *testing.T) {
	path := configtest.Example(t).Set("customers[1].aws.dr_region", "us-wst-2").Write()
	code, _, stderr := run(t, "serve", "--check-config", "-c", path)
	if code != 1 || !strings.Contains(stderr, `customers[1].aws.dr_region: unknown region "us-wst-2"`) {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestCheckConfigUnknownApprovalRule(t *testing.T) {
	path := configtest.Example(t).Set("approvals.rules.ech0", map[string]int{"devops": 1}).Write()
	code, _, stderr := run(t, "serve", "--check-config", "-c", path)
	if code != 1 || !strings.Contains(stderr, "approvals.rules.ech0: unknown command; commands that take approval:") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestCheckConfigReportsUnsetSecrets(t *testing.T) {
	for _, v := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "CUSTOMER_X_EXTERNAL_ID", "CUSTOMER_Y_EXTERNAL_ID"} {
		t.Setenv(v, "")
	}
	code, _, stderr := run(t, "serve", "--check-config", "-c", "../../examples/mcloud.yaml")
	if code != 1 || !strings.Contains(stderr, "slack.bot_token: environment variable SLACK_BOT_TOKEN is not set") ||
		!strings.Contains(stderr, "customers[0].aws.external_id: environment variable CUSTOMER_X_EXTERNAL_ID is not set") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestCheckConfigValid(t *testing.T) {
	for _, v := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "CUSTOMER_X_EXTERNAL_ID", "CUSTOMER_Y_EXTERNAL_ID"} {
		t.Setenv(v, "set-for-test")
	}
	code, stdout, stderr := run(t, "serve", "--check-config", "-c", "../../examples/mcloud.yaml")
	if code != 0 || !strings.Contains(stdout, "is valid: 2 customers, 3 team members") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "set-for-test") {
		t.Fatal("a secret value was printed")
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	code, stdout, stderr := run(t, "migrate", "--database-url", db)
	if code != 0 || !strings.Contains(stdout, "applied mcloud 1:") || !strings.Contains(stdout, "applied river") {
		t.Fatalf("first migrate: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = run(t, "migrate", "--database-url", db)
	if code != 0 || strings.TrimSpace(stdout) != "sqlite database is up to date." {
		t.Fatalf("second migrate: exit %d, %q", code, stdout)
	}
}

func TestUnknownSubcommandAndFlag(t *testing.T) {
	if code, _, stderr := run(t, "srve"); code != 2 || !strings.Contains(stderr, `unknown command "srve"`) {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	if code, _, stderr := run(t, "migrate", "--databse-url", "x"); code != 1 || !strings.Contains(stderr, "flag provided but not defined: -databse-url") {
		t.Fatalf("exit %d, %s", code, stderr)
	}
}

// --check-config reports every mistake in one run, in file order with line
// numbers: the file's, the approval rules' and the unset secrets'.
func TestCheckConfigReportsEveryMistake(t *testing.T) {
	for _, v := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "CUSTOMER_X_EXTERNAL_ID", "CUSTOMER_Y_EXTERNAL_ID"} {
		t.Setenv(v, "")
	}
	path := configtest.Example(t).
		Set("slack.signing_secret", "8f14e45fceea167a5a36dedd4bea2543").
		Set("approvals.rules.ech0", map[string]int{"devops": 1}).
		Repeat("jobs.workers", 20).
		Rename("customers[0].retention_months", "retention_month").
		Set("customers[1].aws.dr_region", "us-wst-2").
		Set("customers[1].bastion.host_key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5yTqKc0Zp8N2gX").
		Delete("customers[1].environments[1].hosts").
		Set("customers[1].retention_months", 0). // added last in customer-y, so reported last
		Write()
	code, stdout, stderr := run(t, "serve", "--check-config", "-c", path)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n")[1:] {
		lines = append(lines, regexp.MustCompile(`^  line \d+: `).ReplaceAllString(l, ""))
	}
	want := []string{
		"slack.bot_token: environment variable SLACK_BOT_TOKEN is not set",
		"slack.signing_secret: must be an environment reference like ${NAME}, never the secret itself",
		"slack.app_token: environment variable SLACK_APP_TOKEN is not set",
		"approvals.rules.ech0: unknown command; commands that take approval: ",
		"jobs.workers: written twice in one mapping (first at line ",
		"customers[0].aws.external_id: environment variable CUSTOMER_X_EXTERNAL_ID is not set",
		"customers[0].retention_month: unknown key; did you mean retention_months?",
		"customers[1].aws.external_id: environment variable CUSTOMER_Y_EXTERNAL_ID is not set",
		`customers[1].aws.dr_region: unknown region "us-wst-2"; did you mean us-west-2?`,
		"customers[1].bastion.host_key: is not an SSH public key: its ssh-ed25519 key data does not decode",
		"customers[1].environments[1].hosts: missing; an environment needs at least one host",
		"customers[1].retention_months: must be between 1 and 120, not 0",
	}
	ok := code == 1 && len(lines) == len(want) && strings.HasPrefix(stderr, "mcloud: "+path+" has 12 problems:\n  line ")
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(lines[i], want[i])
	}
	if !ok {
		t.Fatalf("exit %d\nstderr:\n%s\nwant, in this order:\n%s", code, stderr, strings.Join(want, "\n"))
	}
	if strings.Contains(stdout+stderr, "8f14e45f") || strings.Contains(stderr, "parsing error") {
		t.Fatalf("a secret or parser internals were printed:\n%s", stderr)
	}
	// The same file gives the same report every time.
	for range 5 {
		if _, _, again := run(t, "serve", "--check-config", "-c", path); again != stderr {
			t.Fatalf("a second run reported differently:\n%s\nthen:\n%s", stderr, again)
		}
	}
}
