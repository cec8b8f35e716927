package main

import (
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

// Every subcommand's -h and --help print its usage to stdout and exit 0.
func TestSubcommandHelp(t *testing.T) {
	for _, tt := range []struct{ sub, usage string }{
		{"serve", "Usage: mcloud serve [-c FILE] [--check-config]"},
		{"shell", "Usage: mcloud shell [--sandbox]"},
		{"migrate", "Usage: mcloud migrate [--database-url URL]"},
	} {
		for _, flag := range []string{"-h", "--help", "-help"} {
			code, stdout, stderr := run(t, tt.sub, flag)
			if code != 0 || !strings.Contains(stdout, tt.usage) || !strings.Contains(stdout, "-database-url") || stderr != "" {
				t.Errorf("mcloud %s %s: exit %d\nstdout:\n%s\nstderr:\n%s", tt.sub, flag, code, stdout, stderr)
			}
			if strings.Contains(stdout, "Usage of ") {
				t.Errorf("mcloud %s %s prints Go's bare usage:\n%s", tt.sub, flag, stdout)
			}
		}
	}
	if code, stdout, _ := run(t, "--help"); code != 0 || !strings.Contains(stdout, "Usage: mcloud <command>") {
		t.Errorf("mcloud --help: exit %d\n%s", code, stdout)
	}
	// A wrong flag is still an error, with the usage on stderr.
	code, stdout, stderr := run(t, "serve", "--chek-config")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "flag provided but not defined: -chek-config") || !strings.Contains(stderr, "Usage: mcloud serve") {
		t.Errorf("serve --chek-config: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestUnknownSubcommandSuggests(t *testing.T) {
	for word, want := range map[string]string{"serv": "serve", "shel": "shell", "migarte": "migrate", "verison": "version"} {
		code, _, stderr := run(t, word)
		if code != 2 || !strings.Contains(stderr, `mcloud: unknown command "`+word+`"; did you mean "`+want+`"?`) {
			t.Errorf("mcloud %s: exit %d\n%s", word, code, stderr)
		}
	}
	if code, _, stderr := run(t, "deploy"); code != 2 || strings.Contains(stderr, "did you mean") || !strings.Contains(stderr, `unknown command "deploy"`) {
		t.Errorf("mcloud deploy: exit %d\n%s", code, stderr)
	}
}

func TestVersionText(t *testing.T) {
	vcs := func(kv ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/mcloud/mcloud", Version: "(devel)"}}
		for i := 0; i+1 < len(kv); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return info
	}
	for _, tt := range []struct {
		name, version string
		info          *debug.BuildInfo
		want          string
	}{
		{"checkout", "dev", vcs("vcs", "git", "vcs.revision", "cbc1beb0123456789abcdef0123456789abcdef0", "vcs.time", "2026-12-02T04:40:00Z", "vcs.modified", "false"),
			"mcloud dev, commit cbc1beb01234 (2026-12-02T04:40:00Z), go1.26.8"},
		{"dirty checkout", "1.4.0", vcs("vcs.revision", "cbc1beb0123456789abcdef0123456789abcdef0", "vcs.time", "2026-12-02T04:40:00Z", "vcs.modified", "true"),
			"mcloud 1.4.0, commit cbc1beb01234 (2026-12-02T04:40:00Z) with uncommitted changes, go1.26.8"},
		{"go install module@version", "dev", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}},
			"mcloud v1.4.0, commit unknown (built without version control information), go1.26.8"},
		{"no build info", "dev", nil, "mcloud dev"},
	} {
		if got := versionText(tt.version, tt.info); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	code, stdout, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "mcloud dev, commit ") || !strings.Contains(stdout, ", go1.") {
		t.Errorf("mcloud version: exit %d, %q", code, stdout)
	}
}

// serve with no configuration says how to start, in one message.
func TestServeWithoutConfigSaysHowToStart(t *testing.T) {
	t.Chdir(t.TempDir())
	code, stdout, stderr := run(t, "serve")
	want := `mcloud: no configuration: there is no mcloud.yaml here and -c names no other file. To start, copy examples/mcloud.yaml ` +
		`from the mcloud repository to mcloud.yaml and edit it, check it with "mcloud serve --check-config -c mcloud.yaml", ` +
		`then run "mcloud serve -c mcloud.yaml" (or try mcloud first without Slack or AWS: "mcloud shell --sandbox")` + "\n"
	if code != 1 || stderr != want || stdout != "" {
		t.Fatalf("exit %d\nstdout: %q\nstderr: %q\nwant:   %q", code, stdout, stderr, want)
	}
	code, _, stderr = run(t, "serve", "--check-config", "-c", "/etc/mcloud/nope.yaml")
	if code != 1 || !strings.HasPrefix(stderr, "mcloud: /etc/mcloud/nope.yaml does not exist. To start, copy examples/mcloud.yaml") {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	if _, err := os.Stat("mcloud.db"); err == nil {
		t.Error("serve created a database although it had no configuration")
	}
}
