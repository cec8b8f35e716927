package config_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mcloud/mcloud/config/configtest"
)

// A file with many different mistakes gets every one of them in one run,
// in file order, each with its line number, and none twice.
func TestCheckReportsEveryMistake(t *testing.T) {
	b := configtest.Example(t).
		Set("slack.bot_token", "xoxb-123-456").                                                       // an inline secret
		Repeat("jobs.workers", 20).                                                                   // a key written twice in one mapping
		Rename("customers[0].retention_months", "retention_month").                                   // a misspelt key
		Set("customers[1].aws.dr_region", "us-wst-2").                                                // a misspelt region
		Set("customers[1].retention_months", 0).                                                      // out of range
		Set("customers[1].bastion.host_key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5yTqKc0Zp8N2gX"). // a host key that does not decode
		Delete("customers[1].environments[1].hosts").                                                 // an environment without hosts
		Set("defaults.patch.health_retries", -1)                                                      // a bad default, used by four environments
	_, problems := b.Check()
	lineOf := func(path string) int { return b.Line(path) }
	want := []struct {
		line int
		text string
	}{
		{lineOf("slack.bot_token"), "slack.bot_token: must be an environment reference like ${NAME}, never the secret itself"},
		// Repeat writes the second key on the line after the first.
		{lineOf("jobs.workers") + 1, "jobs.workers: written twice in one mapping (first at line " + strconv.Itoa(lineOf("jobs.workers")) + "); YAML would silently keep only the last"},
		{lineOf("defaults.patch.health_retries"), "defaults.patch.health_retries: must be between 0 and 100, not -1"},
		{lineOf("customers[0].retention_month"), "customers[0].retention_month: unknown key; did you mean retention_months?"},
		{lineOf("customers[1].aws.dr_region"), `customers[1].aws.dr_region: unknown region "us-wst-2"; did you mean us-west-2?`},
		{lineOf("customers[1].retention_months"), "customers[1].retention_months: must be between 1 and 120, not 0 (leave it out for the default, 3)"},
		{lineOf("customers[1].bastion.host_key"), "customers[1].bastion.host_key: is not an SSH public key: its ssh-ed25519 key data does not decode (cut short when pasted?); copy it again from ssh-keyscan or the host's /etc/ssh/*.pub"},
		{lineOf("customers[1].environments[1]"), "customers[1].environments[1].hosts: missing; an environment needs at least one host for patch, run and status to act on"},
	}
	// In file order: Set adds a key at the end of its mapping.
	slices.SortStableFunc(want, func(a, b struct {
		line int
		text string
	}) int {
		return a.line - b.line
	})
	var wantText []string
	for _, w := range want {
		wantText = append(wantText, "line "+strconv.Itoa(w.line)+": "+w.text)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	if strings.Join(got, "\n") != strings.Join(wantText, "\n") {
		t.Fatalf("problems:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantText, "\n"))
	}
	for _, p := range got {
		if strings.Contains(p, "last parsing error") || strings.Contains(p, "illegal base64") || strings.Contains(p, "xoxb-") {
			t.Errorf("a problem shows parser internals or the secret: %s", p)
		}
	}
	// Parse refuses the file with the same list.
	if _, err := b.Parse(); err == nil || err.Error() != strings.Join(wantText, "\n") {
		t.Fatalf("Parse: %v", err)
	}
}

// A key written twice, and a value YAML cannot read, are reported once:
// not again as "missing" or as an out-of-range zero; nor is a default,
// however many environments it reaches.
func TestCheckReportsEachKeyOnce(t *testing.T) {
	expectProblems(t, set("jobs.workers", "many"),
		"jobs.workers: must be a whole number, not \"many\"")
	expectProblems(t, rename("customers[1].aws.region", "regoin"),
		"customers[1].aws.regoin: unknown key; did you mean region?")
	expectProblems(t, set("customers[0].aws.external_id", "s3cr3t"),
		"customers[0].aws.external_id: must be an environment reference like ${NAME}, never the secret itself")
	expectProblems(t, func(b *configtest.Builder) { b.Repeat("customers[0].retention_months", 4) },
		"customers[0].retention_months: written twice in one mapping")
	// Left empty is left out: the default applies.
	expectProblems(t, set("customers[0].retention_months", nil))
	expectProblems(t, set("defaults.patch.health_interval", "1h"),
		"defaults.patch.health_interval: must be at most 10m0s, not 1h0m0s")
	expectProblems(t, set("defaults.patch.health_interval", "soon"),
		"defaults.patch.health_interval: not a duration")
	// Two problems with one default, in each of four environments: each
	// reported once (not alternating, one pair per environment).
	expectProblems(t, set("defaults.patch.source", "patches/{host}.zip"),
		"defaults.patch.apply: does not use {file}",
		`defaults.patch.source: "patches/{host}.zip" must be an absolute path`,
		"defaults.patch.source: may only use {patch}")
	expectProblems(t, set("defaults.products.wso2am.health_url", "127.0.0.1:9443"),
		`defaults.products.wso2am.health_url: "127.0.0.1:9443" is not an http(s) URL`)
}

// expectProblems edits the example and checks that exactly the wanted
// problems (by prefix after the line number) are reported.
func expectProblems(t *testing.T, change func(*configtest.Builder), want ...string) {
	t.Helper()
	b := configtest.Example(t)
	change(b)
	_, problems := b.Check()
	ok := len(problems) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(problems[i].Path+": "+problems[i].Msg, want[i]) && problems[i].Line > 0
	}
	if !ok {
		t.Errorf("problems %q, want %q", problems, want)
	}
}
