package mcloud

import "testing"

func TestPolicyMayStart(t *testing.T) {
	for _, tt := range []struct {
		w    PolicyWork
		want PolicyDecision
	}{
		{PolicyWork{Verb: "backup"}, PolicyStart},
		{PolicyWork{Verb: "report"}, PolicyStart},
		{PolicyWork{Verb: "retention", Deletes: 0, Cap: 20}, PolicyStart},
		{PolicyWork{Verb: "retention", Deletes: 20, Cap: 20}, PolicyStart},
		{PolicyWork{Verb: "retention", Deletes: 21, Cap: 20}, PolicyAsk},
		{PolicyWork{Verb: "retention", Deletes: 1, Cap: 0}, PolicyAsk},
		{PolicyWork{Verb: "patch"}, PolicyRefuse},
		{PolicyWork{Verb: "dr failover"}, PolicyRefuse},
		{PolicyWork{Verb: "restore-logs"}, PolicyRefuse},
		{PolicyWork{Verb: "db-export"}, PolicyRefuse},
		{PolicyWork{Verb: "run"}, PolicyRefuse},
		{PolicyWork{Verb: "echo"}, PolicyRefuse},
		{PolicyWork{Verb: ""}, PolicyRefuse},
	} {
		got, why := PolicyMayStart(tt.w)
		if got != tt.want {
			t.Errorf("%+v: got %d, want %d (%s)", tt.w, got, tt.want, why)
		}
		if (got == PolicyStart) != (why == "") {
			t.Errorf("%+v: a refusal must say why, a start must not: %q", tt.w, why)
		}
	}
}
