package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	path := writeConfig(t, func(s string) string { return strings.Replace(s, "dr_region: us-west-2", "dr_region: us-wst-2", 1) })
	code, _, stderr := run(t, "serve", "--check-config", "-c", path)
	if code != 1 || !strings.Contains(stderr, `customers[1].aws.dr_region: unknown region "us-wst-2"`) {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestCheckConfigUnknownApprovalRule(t *testing.T) {
	path := writeConfig(t, func(s string) string {
		return strings.Replace(s, "echo: {devops: 1, customer: 1}", "echo: {devops: 1, customer: 1}\n    ech0: {devops: 1}", 1)
	})
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
