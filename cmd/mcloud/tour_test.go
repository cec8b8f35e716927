package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runTour runs a script through `mcloud shell` with the given flags and
// returns its exit code and output.
func runTour(t *testing.T, script string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code = Run(ctx, append([]string{"shell"}, args...), strings.NewReader(script), &out, &errb)
	return code, out.String(), errb.String()
}

func readTour(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n:expect "); n < 10 {
		t.Fatalf("%s has %d :expect lines; a tour checks what it shows", path, n)
	}
	return string(data)
}

// The tours are checks: run from outside the repository, with no -c and no
// --database-url, each passes every :expect, and passes again when run a
// second time (each run starts from a fresh database, so "approve 1" means
// this run's request #1).
func TestToursPassTheirExpectations(t *testing.T) {
	for _, v := range []string{"CUSTOMER_X_EXTERNAL_ID", "CUSTOMER_Y_EXTERNAL_ID", "MCLOUD_AWS_ENDPOINT", "AWS_PROFILE", "MCLOUD_DATABASE_URL"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	tours := map[string]string{
		"acceptance": readTour(t, "testdata/acceptance.mcloud"),
		"aws":        readTour(t, "../../examples/sandbox-aws.mcloud"),
		"ssh":        readTour(t, "../../examples/sandbox-ssh.mcloud"),
		"provision":  readTour(t, "../../examples/sandbox-provision.mcloud"),
		"dr":         readTour(t, "../../examples/sandbox-dr.mcloud"),
	}
	t.Chdir(t.TempDir())
	for _, name := range []string{"acceptance", "aws", "ssh", "provision", "dr"} {
		for run := 1; run <= 2; run++ {
			code, stdout, stderr := runTour(t, tours[name], "--sandbox")
			if code != 0 || strings.Contains(stdout, "EXPECTATION FAILED") {
				t.Fatalf("%s tour, run %d: exit %d\nstdout:\n%s\nstderr:\n%s", name, run, code, stdout, stderr)
			}
		}
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("the shell left files in the working directory: %v", entries)
	}
}

// A tour changed to expect something false exits 1 and names the line.
func TestTourWithAFalseExpectationFails(t *testing.T) {
	script := readTour(t, "testdata/acceptance.mcloud")
	const real = ":expect Only an approver can approve requests\n"
	if !strings.Contains(script, real) {
		t.Fatalf("the acceptance script no longer has %q", real)
	}
	line := strings.Count(script[:strings.Index(script, real)], "\n") + 1
	script = strings.Replace(script, real, ":expect Anyone can approve requests\n", 1)
	code, stdout, stderr := runTour(t, script)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"EXPECTATION FAILED at line " + itoa(line) + `: the output of line ` + itoa(line-1) + ` (/mcloud approve 1) does not contain "Anyone can approve requests"`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if want := "mcloud: script: 1 of 13 expectations failed:\n  line " + itoa(line) + ": :expect Anyone can approve requests"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	// The rest of the script still ran: one false line does not hide others.
	if !strings.Contains(stdout, `"audit" is for the DevOps team only`) {
		t.Errorf("the script stopped at the failed expectation:\n%s", stdout)
	}
}

func TestShellExpectNeedsSomethingToCheck(t *testing.T) {
	code, stdout, stderr := runTour(t, ":expect anything\n/mcloud help\n:expect\n:expect /[/\n")
	if code != 1 || !strings.Contains(stderr, "3 of 3 expectations failed") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"EXPECTATION FAILED at line 1: nothing has run yet",
		"EXPECTATION FAILED at line 3: an empty :expect; write :expect TEXT or :expect /REGEXP/",
		"EXPECTATION FAILED at line 4: /[/ is not a regular expression",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

// --wait 0s means what it says: the shell does not wait for the job it
// started (a sandbox restore takes seconds), it prints what is there.
func TestShellWaitZeroDoesNotWait(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	script := ":user carol\n:channel customer-x-shared\n/mcloud restore-logs customer-x last-month\n:user bob\n/mcloud approve 1\n"
	code, stdout, stderr := runTour(t, script, "--sandbox", "--wait", "0s")
	if code != 0 || !strings.Contains(stdout, "bob approved request #1") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "succeeded") || strings.Contains(stdout, "still running after") {
		t.Fatalf("with --wait 0s the shell waited for the job:\n%s", stdout)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// The schedules sandbox: with nothing typed, a backup job, a report in
// customer-x's channel and the digest in #devops arrive; its config is the
// example's with only the schedules changed.
func TestSchedulesSandboxTour(t *testing.T) {
	for _, v := range []string{"CUSTOMER_X_EXTERNAL_ID", "CUSTOMER_Y_EXTERNAL_ID", "MCLOUD_AWS_ENDPOINT", "AWS_PROFILE", "MCLOUD_DATABASE_URL"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	example, err := os.ReadFile("../../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sandbox, err := os.ReadFile("../../examples/sandbox-schedules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := withoutSchedules(string(example)), withoutSchedules(string(sandbox)); a != b {
		t.Errorf("examples/sandbox-schedules.yaml differs from examples/mcloud.yaml outside its schedules:\n%s\n----\n%s", a, b)
	}
	script, err := os.ReadFile("../../examples/sandbox-schedules.mcloud")
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runTour(t, string(script), "--sandbox", "--schedules", "-c", "../../examples/sandbox-schedules.yaml")
	if code != 0 || strings.Contains(stdout, "EXPECTATION FAILED") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// withoutSchedules drops comments and the schedules' lines, leaving what
// the two example files must share.
func withoutSchedules(s string) string {
	var out []string
	skip := false
	for _, line := range strings.Split(s, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "#"), trimmed == "":
			continue
		case strings.HasPrefix(line, "scheduler:"), strings.HasPrefix(trimmed, "schedules:"):
			skip = true
			continue
		case skip && (strings.HasPrefix(line, "      ") || strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "  -")):
			continue
		}
		skip = false
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
