package configtest_test

import (
	"strings"
	"testing"

	"github.com/mcloud/mcloud/config/configtest"
)

// The example, unedited, comes back as a valid configuration.
func TestExampleRoundTrips(t *testing.T) {
	c := configtest.Example(t).Config()
	if got := strings.Join(c.CustomerNames(), ","); got != "customer-x,customer-y" {
		t.Fatalf("customers %s", got)
	}
}

// Each edit changes exactly the key it names, and Line finds it in the
// text the configuration is written as.
func TestEdits(t *testing.T) {
	b := configtest.Example(t).
		Set("customers[customer-y].aws.dr_region", "eu-west-2").
		Set("customers[0].environments[prod].patch.health_retries", 4).
		Set("metrics.listen", "127.0.0.1:9464").
		Delete("customers[1].environments[dev]").
		Append("team.users", map[string]any{"id": "U0FRANK", "name": "frank"}).
		Rename("jobs.workers", "workerz")
	_, problems := b.Check()
	if len(problems) != 1 || problems[0].Path != "jobs.workerz" || problems[0].Line != b.Line("jobs.workerz") {
		t.Fatalf("problems %v; want only jobs.workerz at line %d", problems, b.Line("jobs.workerz"))
	}
	c := b.Rename("jobs.workerz", "workers").Config()
	y := c.Customer("customer-y")
	if y.AWS.DRRegion != "eu-west-2" || len(y.Environments) != 1 || c.Customer("customer-x").Env("prod").Patch.HealthRetries != 4 ||
		c.Metrics.Listen != "127.0.0.1:9464" || len(c.Team.Users) != 4 {
		t.Fatalf("edits not applied: %+v %+v", y, c.Metrics)
	}
	text := b.String()
	if line := strings.Split(text, "\n")[b.Line("metrics.listen")-1]; !strings.Contains(line, "listen: 127.0.0.1:9464") {
		t.Fatalf("line of metrics.listen is %q", line)
	}
}

// A key written twice is what the decoder must catch, so Repeat writes it.
func TestRepeat(t *testing.T) {
	b := configtest.Example(t).Repeat("jobs.workers", 20)
	if _, problems := b.Check(); len(problems) != 1 || !strings.Contains(problems[0].Msg, "written twice") {
		t.Fatalf("problems %v", problems)
	}
}

// An edit of a key the file does not have fails the test rather than
// silently changing nothing.
func TestMissingPathFails(t *testing.T) {
	for _, edit := range []func(*configtest.Builder){
		func(b *configtest.Builder) { b.Delete("customers[0].retention_month") },
		func(b *configtest.Builder) { b.Rename("customers[7].name", "x") },
		func(b *configtest.Builder) { b.Set("customers[customer-z].name", "x") },
	} {
		ft := &fakeTB{TB: t}
		func() {
			defer func() { _ = recover() }()
			edit(configtest.Example(ft))
		}()
		if !ft.failed {
			t.Error("an edit of a missing key did not fail the test")
		}
	}
}

// fakeTB records a fatal failure instead of ending the real test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Fatalf(string, ...any) { f.failed = true; panic("fatal") }
func (f *fakeTB) Fatal(...any)          { f.failed = true; panic("fatal") }
func (f *fakeTB) Helper()               {}
