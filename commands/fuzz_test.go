package commands_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzHandle feeds arbitrary lines to the real service as DevOps and as a
// customer user. The service must always answer, never with an internal
// error (which is what a recovered panic becomes), and every error must be
// one line a person can read.
func FuzzHandle(f *testing.F) {
	for _, seed := range []string{
		"/mcloud help", "/mcloud status customer-x prod", "/mcloud echo customer-x hi --steps 2 --pause 1s",
		"/mcloud audit customer-x --since 2024-01-01", "/mcloud job #12", "/mcloud deny 3 “not now”",
		"/mcloud approve 1", "/mcloud cancel 1", `/mcloud echo customer-x "a b" -- --steps`, "/mcloud jobs customer-y",
		"/mcloud status customer-x --=", "/mcloud --help", "/mcloud echo customer-x --steps=3 x --dry-run",
	} {
		f.Add(seed, false)
	}
	svc, _, cfg := mustService(f)
	alice := caller(f, cfg, "alice", "devops")
	carol := caller(f, cfg, "carol", "customer-x-shared")
	f.Fuzz(func(t *testing.T, line string, asCustomer bool) {
		who := alice
		if asCustomer {
			who = carol
		}
		r := svc.Handle(context.Background(), who, line)
		if strings.Contains(r.Error, "internal error") {
			t.Fatalf("internal error for %q: %s", line, r.Error)
		}
		if r.Error == "" && r.Title == "" && r.Request == nil && len(r.Lines) == 0 {
			t.Fatalf("no answer for %q", line)
		}
		if strings.Contains(r.Error, "\n") || (r.Error != "" && !utf8.ValidString(r.Error)) {
			t.Fatalf("error for %q is not one readable line: %q", line, r.Error)
		}
	})
}
