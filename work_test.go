package mcloud

import (
	"testing"
	"time"
)

func TestExpectAlert(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	app1 := HostWork{JobID: 12, RequestID: 12, ChannelID: "C0CUSTX", Verb: "patch", Customer: "customer-x",
		Host: "app-1", Address: "10.0.1.11", Until: now.Add(time.Hour)}
	later := app1
	later.JobID, later.RequestID = 14, 14
	past := app1
	past.Until = now
	otherCust := app1
	otherCust.Customer = "customer-y"
	noBound := app1
	noBound.Until = time.Time{}

	firing := Alert{Source: "icinga2", Host: "app-1", Status: AlertFiring}
	with := func(host string, st AlertStatus) Alert { a := firing; a.Host, a.Status = host, st; return a }
	normal := Expectation{Channels: true}
	thread := func(w HostWork) Expectation { return Expectation{Work: w, Thread: true} }

	cases := []struct {
		name     string
		work     []HostWork
		customer string
		alert    Alert
		shown    bool
		want     Expectation
	}{
		{"no work anywhere", nil, "customer-x", firing, false, normal},
		{"work on another host", []HostWork{app1}, "customer-x", with("app-2", AlertFiring), false, normal},
		{"host under work: the job's thread only", []HostWork{app1}, "customer-x", firing, false, thread(app1)},
		{"by address", []HostWork{app1}, "customer-x", with("10.0.1.11", AlertFiring), false, thread(app1)},
		{"by address with a port", []HostWork{app1}, "customer-x", with("10.0.1.11:9100", AlertFiring), false, thread(app1)},
		{"by FQDN", []HostWork{app1}, "customer-x", with("App-1.prod.example", AlertFiring), false, thread(app1)},
		{"an address is not an FQDN", []HostWork{app1}, "customer-x", with("10.0.1.12", AlertFiring), false, normal},
		{"a resolution under work", []HostWork{app1}, "customer-x", with("app-1", AlertResolved), false, thread(app1)},
		{"an acknowledgement under work", []HostWork{app1}, "customer-x", with("app-1", AlertAcknowledged), false, thread(app1)},
		{"the job's own downtime starting: counted, not said", []HostWork{app1}, "customer-x", with("app-1", AlertDowntimeStart), false,
			Expectation{Work: app1}},
		{"the job's own downtime ending", []HostWork{app1}, "customer-x", with("app-1", AlertDowntimeEnd), false, Expectation{Work: app1}},
		{"shown before the work: its message too", []HostWork{app1}, "customer-x", firing, true, Expectation{Work: app1, Thread: true, Channels: true}},
		{"shown, downtime note: its message only", []HostWork{app1}, "customer-x", with("app-1", AlertDowntimeStart), true,
			Expectation{Work: app1, Channels: true}},
		{"work past its bound is over", []HostWork{past}, "customer-x", firing, false, normal},
		{"work with no bound lasts while the job runs", []HostWork{noBound}, "customer-x", firing, false, thread(noBound)},
		{"another customer's work on a same-named host", []HostWork{otherCust}, "customer-x", firing, false, normal},
		{"an alert of no customer is never expected", []HostWork{app1}, "", firing, false, normal},
		{"an alert without a host", []HostWork{app1}, "customer-x", with("", AlertFiring), false, normal},
		{"two jobs: the newest", []HostWork{later, app1}, "customer-x", firing, false, thread(later)},
		{"two jobs, other order", []HostWork{app1, later}, "customer-x", firing, false, thread(later)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ExpectAlert(c.work, c.customer, c.alert, c.shown, now)
			if got != c.want {
				t.Errorf("ExpectAlert = %+v\nwant %+v", got, c.want)
			}
			if got.Expected() != (c.want.Work.JobID != 0) {
				t.Errorf("Expected() = %v", got.Expected())
			}
		})
	}
}

func TestSameHost(t *testing.T) {
	cases := []struct {
		h, name, addr string
		want          bool
	}{
		{"app-1", "app-1", "10.0.1.11", true},
		{" APP-1 ", "app-1", "", true},
		{"app-1.example.com", "app-1", "", true},
		{"app-1.example.com:443", "app-1", "", true},
		{"10.0.1.11:9100", "app-1", "10.0.1.11", true},
		{"[fd00::1]:9100", "app-1", "fd00::1", true},
		{"app-10", "app-1", "", false},
		{"10.0.1.11", "app-1", "", false},
		{"", "app-1", "", false},
		{"x.app-1", "app-1", "", false},
		{"10.0.1.11", "app-1", "10.0.1.11:22", true},
	}
	for _, c := range cases {
		if got := SameHost(c.h, c.name, c.addr); got != c.want {
			t.Errorf("SameHost(%q, %q, %q) = %v, want %v", c.h, c.name, c.addr, got, c.want)
		}
	}
}
