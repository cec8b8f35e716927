package mcloud_test

import (
	"testing"
	"time"

	"github.com/mcloud/mcloud"
)

func TestDecideAlert(t *testing.T) {
	shown := func(s mcloud.AlertStatus) mcloud.AlertView { return mcloud.AlertView{Shown: true, Status: s} }
	folded := mcloud.AlertView{Folded: true, Status: mcloud.AlertFiring}
	for _, tc := range []struct {
		name         string
		view         mcloud.AlertView
		status       mcloud.AlertStatus
		posted, budg int
		want         mcloud.AlertAction
	}{
		{"first alert of a problem gets its message", mcloud.AlertView{}, mcloud.AlertFiring, 0, 10, mcloud.AlertNew},
		{"the last message the budget allows", mcloud.AlertView{}, mcloud.AlertFiring, 9, 10, mcloud.AlertNew},
		{"over the channel's budget: folded into the summary", mcloud.AlertView{}, mcloud.AlertFiring, 10, 10, mcloud.AlertFold},
		{"a zero budget folds everything", mcloud.AlertView{}, mcloud.AlertFiring, 0, 0, mcloud.AlertFold},
		{"repeat updates in place, no reply", shown(mcloud.AlertFiring), mcloud.AlertFiring, 100, 10, mcloud.AlertUpdate},
		{"resolution: update and thread reply", shown(mcloud.AlertFiring), mcloud.AlertResolved, 100, 10, mcloud.AlertUpdateReply},
		{"acknowledgement: update and thread reply", shown(mcloud.AlertFiring), mcloud.AlertAcknowledged, 0, 10, mcloud.AlertUpdateReply},
		{"fires again after resolving: same message, reply", shown(mcloud.AlertResolved), mcloud.AlertFiring, 0, 10, mcloud.AlertUpdateReply},
		{"downtime start on a shown problem", shown(mcloud.AlertFiring), mcloud.AlertDowntimeStart, 0, 10, mcloud.AlertUpdateReply},
		{"resolution of a problem never shown: nothing to post", mcloud.AlertView{}, mcloud.AlertResolved, 0, 10, mcloud.AlertIgnore},
		{"downtime end of a problem never shown", mcloud.AlertView{}, mcloud.AlertDowntimeEnd, 0, 10, mcloud.AlertIgnore},
		// A downtime or acknowledgement set outside mcloud notifies per
		// service: none of them is a problem worth a message or a fold.
		{"downtime start of a problem never shown", mcloud.AlertView{}, mcloud.AlertDowntimeStart, 0, 10, mcloud.AlertIgnore},
		{"downtime start of a problem never shown, over budget", mcloud.AlertView{}, mcloud.AlertDowntimeStart, 10, 10, mcloud.AlertIgnore},
		{"acknowledgement of a problem never shown", mcloud.AlertView{}, mcloud.AlertAcknowledged, 0, 10, mcloud.AlertIgnore},
		{"folded problem repeats: summary updated", folded, mcloud.AlertFiring, 0, 10, mcloud.AlertUpdateSummary},
		{"folded problem resolves: summary updated, never its own message", folded, mcloud.AlertResolved, 0, 10, mcloud.AlertUpdateSummary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mcloud.DecideAlert(tc.view, tc.status, tc.posted, tc.budg); got != tc.want {
				t.Errorf("DecideAlert(%+v, %s, %d, %d) = %s, want %s", tc.view, tc.status, tc.posted, tc.budg, got, tc.want)
			}
		})
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]mcloud.Severity{
		"critical": mcloud.SeverityCritical, "CRITICAL": mcloud.SeverityCritical, "DOWN": mcloud.SeverityCritical,
		"warning": mcloud.SeverityWarning, "WARNING": mcloud.SeverityWarning, "UNKNOWN": mcloud.SeverityWarning, "": mcloud.SeverityWarning,
		"info": mcloud.SeverityInfo, "OK": mcloud.SeverityInfo,
	} {
		if got := mcloud.ParseSeverity(in); got != want {
			t.Errorf("ParseSeverity(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestProblemAcknowledgeable(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		p    mcloud.Problem
		want bool
	}{
		{"firing, nobody acknowledged it", mcloud.Problem{Status: mcloud.AlertFiring}, true},
		{"firing, acknowledged until it recovers", mcloud.Problem{Status: mcloud.AlertFiring, AckedBy: "alice", AckedAt: now.Add(-time.Hour)}, false},
		{"firing, acknowledged for another hour", mcloud.Problem{Status: mcloud.AlertFiring, AckedBy: "alice", AckedUntil: now.Add(time.Hour)}, false},
		{"firing, the silence ended a minute ago", mcloud.Problem{Status: mcloud.AlertFiring, AckedBy: "alice", AckedUntil: now.Add(-time.Minute)}, true},
		{"firing, the silence ends right now", mcloud.Problem{Status: mcloud.AlertFiring, AckedBy: "alice", AckedUntil: now}, true},
		{"in a downtime, not acknowledged", mcloud.Problem{Status: mcloud.AlertDowntimeStart}, true},
		{"resolved", mcloud.Problem{Status: mcloud.AlertResolved}, false},
		{"resolved after an acknowledgement ended", mcloud.Problem{Status: mcloud.AlertResolved, AckedBy: "alice", AckedUntil: now.Add(-time.Hour)}, false},
	} {
		if got := tt.p.Acknowledgeable(now); got != tt.want {
			t.Errorf("%s: acknowledgeable = %v, want %v", tt.name, got, tt.want)
		}
	}
}
