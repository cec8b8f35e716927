package config_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mcloud/mcloud/config"
)

// A file with many different mistakes gets every one of them in one run,
// in file order, each with its line number, and none twice.
func TestCheckReportsEveryMistake(t *testing.T) {
	base, err := os.ReadFile("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(base)
	for _, e := range []struct{ old, new string }{
		// an inline secret
		{"bot_token: ${SLACK_BOT_TOKEN}", "bot_token: xoxb-123-456"},
		// a key written twice in one mapping
		{"  workers: 10\n", "  workers: 10\n  workers: 20\n"},
		// a misspelt key
		{"    retention_months: 3 ", "    retention_month: 3 "},
		// a misspelt region
		{"dr_region: us-west-2", "dr_region: us-wst-2"},
		// retention_months: 0
		{"      exports: customer-y-exports\n", "      exports: customer-y-exports\n    retention_months: 0\n"},
		// a host key that does not decode
		{"AAAAC3NzaC1lZDI1NTE5AAAAIJ5yTqKc0Zp8N2gXrE1fH7oK3dW9sL4vB6mA2uQ8cYtR", "AAAAC3NzaC1lZDI1NTE5AAAAIJ5yTqKc0Zp8N2gX"},
		// an environment without hosts
		{"      - name: dev\n        hosts:\n          - {name: y-dev-is-1, address: 10.40.1.11, product: wso2is, service: wso2is}\n", "      - name: dev\n"},
	} {
		if !strings.Contains(text, e.old) {
			t.Fatalf("the example no longer contains %q", e.old)
		}
		text = strings.Replace(text, e.old, e.new, 1)
	}
	_, problems, err := config.Check([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	lineNo := func(s string) string {
		t.Helper()
		i := strings.Index(text, s)
		if i < 0 {
			t.Fatalf("no %q in the file", s)
		}
		return strconv.Itoa(strings.Count(text[:i], "\n") + 1)
	}
	lineOf := func(s string) string { return "line " + lineNo(s) + ": " }
	want := []string{
		lineOf("bot_token:") + "slack.bot_token: must be an environment reference like ${NAME}, never the secret itself",
		lineOf("workers: 20") + "jobs.workers: written twice in one mapping (first at line " + lineNo("workers: 10") + "); YAML would silently keep only the last",
		lineOf("retention_month:") + "customers[0].retention_month: unknown key; did you mean retention_months?",
		lineOf("dr_region: us-wst-2") + `customers[1].aws.dr_region: unknown region "us-wst-2"; did you mean us-west-2?`,
		lineOf("retention_months: 0") + "customers[1].retention_months: must be between 1 and 120, not 0 (leave it out for the default, 3)",
		lineOf("AAAAIJ5yTqKc0Zp8N2gX") + "customers[1].bastion.host_key: is not an SSH public key: its ssh-ed25519 key data does not decode (cut short when pasted?); copy it again from ssh-keyscan or the host's /etc/ssh/*.pub",
		lineOf("- name: dev") + "customers[1].environments[1].hosts: missing; an environment needs at least one host for patch, run and status to act on",
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range got {
		if strings.Contains(p, "last parsing error") || strings.Contains(p, "illegal base64") || strings.Contains(p, "xoxb-") {
			t.Errorf("a problem shows parser internals or the secret: %s", p)
		}
	}
	// Parse refuses the file with the same list.
	if _, err := config.Parse([]byte(text)); err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("Parse: %v", err)
	}
}

// A key written twice, and a value YAML cannot read, are reported once:
// not again as "missing" or as an out-of-range zero.
func TestCheckReportsEachKeyOnce(t *testing.T) {
	expectProblems(t, "  workers: 10\n", "  workers: many\n",
		"jobs.workers: must be a whole number, not \"many\"")
	expectProblems(t, "      region: us-east-1\n", "      regoin: us-east-1\n",
		"customers[1].aws.regoin: unknown key; did you mean region?")
	expectProblems(t, "external_id: ${CUSTOMER_X_EXTERNAL_ID}", "external_id: s3cr3t",
		"customers[0].aws.external_id: must be an environment reference like ${NAME}, never the secret itself")
	expectProblems(t, "retention_months: 3 ", "retention_months: 3\n    retention_months: 4 ",
		"customers[0].retention_months: written twice in one mapping")
	// Left empty is left out: the default applies.
	expectProblems(t, "retention_months: 3 ", "retention_months: ")
}

// expectProblems edits the example and checks that exactly the wanted
// problems (by prefix after the line number) are reported.
func expectProblems(t *testing.T, old, new string, want ...string) {
	t.Helper()
	base, err := os.ReadFile("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(base), old) {
		t.Fatalf("the example no longer contains %q", old)
	}
	_, problems, err := config.Check([]byte(strings.Replace(string(base), old, new, 1)))
	if err != nil {
		t.Fatal(err)
	}
	ok := len(problems) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(problems[i].Path+": "+problems[i].Msg, want[i]) && problems[i].Line > 0
	}
	if !ok {
		t.Errorf("%q -> %q: problems %q, want %q", old, new, problems, want)
	}
}
