package commands

import (
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
)

func TestParseMonthsAndOptionalArgs(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	devops := mcloud.Caller{Role: mcloud.RoleDevOps}
	month := Spec{Args: []Arg{{Name: "customer", Kind: KindCustomer}, {Name: "month", Kind: KindMonth, About: "which month"}}}
	backup := Spec{Args: []Arg{{Name: "customer", Kind: KindCustomer}, {Name: "env", Kind: KindEnv, Optional: true},
		{Name: "now", Kind: KindLiteral, Values: []string{"now"}, About: `the word "now"`}}}
	for _, tt := range []struct {
		name  string
		spec  Spec
		words []string
		want  string // error, or "" for success
		env   string
	}{
		{"good month", month, []string{"customer-x", "2024-03"}, "", ""},
		{"month 13", month, []string{"customer-x", "2024-13"}, `"2024-13" is not a month: the month must be 01 to 12.`, ""},
		{"month 00", month, []string{"customer-x", "2024-00"}, `"2024-00" is not a month: the month must be 01 to 12.`, ""},
		{"month shape", month, []string{"customer-x", "March"}, `"March" is not a month: write it as YYYY-MM, like 2024-03 (or this-month, last-month).`, ""},
		{"month missing", month, []string{"customer-x"}, "Missing <month>: which month.", ""},
		{"backup no env", backup, []string{"customer-x", "now"}, "", ""},
		{"backup env", backup, []string{"customer-x", "prod", "now"}, "", "prod"},
		{"backup no now", backup, []string{"customer-x", "prod"}, `Backup runs only when you say "now"; add now: /mcloud backup customer-x prod now`, ""},
		{"backup no now, no env", backup, []string{"customer-x"}, `Backup runs only when you say "now"; add now: /mcloud backup customer-x now`, ""},
		{"backup wrong word", backup, []string{"customer-x", "prod", "later"}, `Expected "now", not "later".`, ""},
		{"backup bad env", backup, []string{"customer-x", "qa", "now"}, `Unknown environment "qa" for customer-x; it has: prod, staging.`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parse("backup", tt.spec, tt.words, tail{at: -1}, cfg, devops)
			got := ""
			if err != nil {
				got = err.Message
			}
			if got != tt.want {
				t.Fatalf("error = %q, want %q", got, tt.want)
			}
			if err == nil && p.params["env"] != tt.env {
				t.Fatalf("env = %q, want %q", p.params["env"], tt.env)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{`deny 3 "not now, please"`, []string{"deny", "3", "not now, please"}},
		{"deny 3 “curly quotes work”", []string{"deny", "3", "curly quotes work"}},
		{"  spaced\tout  ", []string{"spaced", "out"}},
		{`empty "" arg`, []string{"empty", "", "arg"}},
		{"echo —dry-run –n", []string{"echo", "--dry-run", "--n"}},
		// A lone dash may be prose: kept as typed (run reads it as --).
		{"deny 3 not now — next week", []string{"deny", "3", "not", "now", "—", "next", "week"}},
	} {
		got, _, err := tokenize(tt.in)
		if err != nil || len(got) != len(tt.want) {
			t.Fatalf("tokenize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("tokenize(%q) = %q; want %q", tt.in, got, tt.want)
			}
		}
	}
}

func TestTextAfterDashesIsKeptAsTyped(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{
		Args: []Arg{{Name: "customer", Kind: KindCustomer}, {Name: "env", Kind: KindEnv},
			{Name: "command", Kind: KindText, AfterDashes: true, About: "the command to run"}},
		Flags: []Flag{{Name: "hosts"}},
	}
	if got, want := spec.usage(), "<customer> <env> [--hosts HOSTS] -- <command...>"; got != want {
		t.Fatalf("usage = %q, want %q", got, want)
	}
	for _, tt := range []struct{ line, command, err string }{
		{`customer-x prod -- grep -c "a  b" /var/log/x --since '1 h'`, `grep -c "a  b" /var/log/x --since '1 h'`, ""},
		{`customer-x prod --hosts x-prod-apim-1 -- uptime`, "uptime", ""},
		{`customer-x prod -- echo -- twice`, "echo -- twice", ""},
		{`customer-x prod "--" uptime`, "", "Put <command> after --, like: -- uptime (so its own options and quotes reach the hosts unchanged)."},
		{`customer-x prod uptime`, "", "Put <command> after --, like: -- uptime (so its own options and quotes reach the hosts unchanged)."},
		{`customer-x prod --`, "", "Missing <command>: the command to run."},
	} {
		words, rest, err := tokenize(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		p, perr := parse("run", spec, words, rest, cfg, mcloud.Caller{Role: mcloud.RoleDevOps})
		gotErr := ""
		if perr != nil {
			gotErr = perr.Message
		}
		if gotErr != tt.err || p.params["command"] != tt.command {
			t.Errorf("%s:\n command %q, error %q\n want    %q, error %q", tt.line, p.params["command"], gotErr, tt.command, tt.err)
		}
	}
}

// Issue 9 item 5: every verb that takes a customer takes the channel's
// when it is left out, in a customer channel, and only there.
func TestEveryVerbDefaultsToTheChannelsCustomer(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	verbs := map[string]*Verb{}
	for _, v := range allVerbs() {
		verbs[v.Name] = v
	}
	devopsInX := mcloud.Caller{Role: mcloud.RoleDevOps, ChannelID: "C0CUSTX", ChannelCustomer: "customer-x"}
	carol := mcloud.Caller{Role: mcloud.RoleCustomer, Customer: "customer-x", ChannelID: "C0CUSTX", ChannelCustomer: "customer-x"}
	for _, tt := range []struct {
		who  mcloud.Caller
		line string
		want mcloud.Params // besides customer=customer-x
	}{
		{carol, "status", nil},
		{carol, "status staging", mcloud.Params{"env": "staging"}},
		{carol, "jobs", nil},
		{carol, "backups", nil},
		{carol, "restore-logs 2026-10", mcloud.Params{"month": "2026-10"}},
		{carol, "restore-artifacts last-month --env staging", mcloud.Params{"month": "last-month", "env": "staging"}},
		{carol, "db-export prod", mcloud.Params{"env": "prod"}},
		{carol, "patch prod WSO2-2024-0042", mcloud.Params{"env": "prod", "patch-id": "WSO2-2024-0042"}},
		{carol, "echo hello there", mcloud.Params{"text": "hello there"}},
		{devopsInX, "backup now", mcloud.Params{"now": "now"}},
		{devopsInX, "backup prod now", mcloud.Params{"env": "prod", "now": "now"}},
		{devopsInX, "run prod -- uptime", mcloud.Params{"env": "prod", "command": "uptime"}},
		{devopsInX, "audit --since 2026-11-01", mcloud.Params{"since": "2026-11-01"}},
		{devopsInX, "patch Customer-X PROD WSO2-1", mcloud.Params{"env": "prod", "patch-id": "WSO2-1"}},
	} {
		words, rest, err := tokenize(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		v := verbs[words[0]]
		rest.at--
		spec := v.Spec
		p, perr := parse(v.Name, spec, words[1:], rest, cfg, tt.who)
		if perr != nil {
			t.Errorf("%s: %s", tt.line, perr.Message)
			continue
		}
		want := mcloud.Params{"customer": "customer-x"}
		for k, val := range tt.want {
			want[k] = val
		}
		if len(p.params) != len(want) {
			t.Errorf("%s: params %v, want %v", tt.line, p.params, want)
		}
		for k, val := range want {
			if p.params[k] != val {
				t.Errorf("%s: %s = %q, want %q (all: %v)", tt.line, k, p.params[k], val, p.params)
			}
		}
	}
}

func TestResolveVerb(t *testing.T) {
	verbs := []verbName{{name: "help"}, {name: "status"}, {name: "job"}, {name: "jobs"}, {name: "cancel"},
		{name: "restore-logs"}, {name: "restore-artifacts"}, {name: "db-export"}, {name: "backup"}, {name: "backups"},
		{name: "echo", hidden: true}}
	for _, tt := range []struct {
		word, name string
		suggest    []string
	}{
		{"status", "status", nil},
		{"Status", "status", nil},
		{"STA", "status", nil},
		{"job", "job", nil},
		{"backup", "backup", nil},
		{"?", "help", nil},
		{"-h", "help", nil},
		{"—help", "help", nil},
		{"logs", "restore-logs", nil},
		{"EXPORT", "db-export", nil},
		{"art", "restore-artifacts", nil},
		{"echo", "echo", nil},
		{"requests", "", nil}, // an alias of a verb that is not registered
		{"resto", "", []string{"restore-artifacts", "restore-logs"}},
		{"restore", "", []string{"restore-artifacts", "restore-logs"}},
		{"jo", "", []string{"job", "jobs"}},
		{"c", "", []string{"cancel"}},
		{"stauts", "", []string{"status"}},
		{"restore-log", "restore-logs", nil},
		{"restore-lgos", "", []string{"restore-logs"}},
		{"bakcup", "", []string{"backup"}},
		{"ech", "", nil}, // hidden verbs are never suggested
		{"frobnicate", "", nil},
		{"", "", nil},
	} {
		name, suggest := resolveVerb(tt.word, verbs)
		if name != tt.name || strings.Join(suggest, ",") != strings.Join(tt.suggest, ",") {
			t.Errorf("resolveVerb(%q) = %q, %q; want %q, %q", tt.word, name, suggest, tt.name, tt.suggest)
		}
	}
}
