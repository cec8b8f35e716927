package mcloud

import (
	"net"
	"strings"
	"time"
)

// HostWork is a host that a running job is changing right now (a patch
// between the start and the end of that host). Alerts about it are
// expected: they are said in the job's thread, not posted as new problems.
type HostWork struct {
	JobID int64
	// RequestID and ChannelID are the job's thread.
	RequestID int64
	ChannelID string
	Verb      string
	Customer  string
	// Host and Address are the configured host's name and address.
	Host    string
	Address string
	// Until bounds the work (the end of its downtime): past it the host
	// counts as done even if the job never said so.
	Until time.Time
}

// Downtime is one quiet period mcloud set in a monitoring system for
// work on a host: an Icinga2 downtime or an Alertmanager silence. ID is
// what removes it (the downtime's name, the silence's id).
type Downtime struct {
	Source string `json:"source"`
	ID     string `json:"id"`
}

// Expectation is what ExpectAlert decided for one alert.
type Expectation struct {
	// Work is the work the alert is expected under; zero when it is not.
	Work HostWork
	// Thread: say the alert in the job's thread, marked expected.
	Thread bool
	// Channels: deliver it to its channels as any alert (DecideAlert).
	Channels bool
}

// Expected reports whether the alert came for a host under work.
func (e Expectation) Expected() bool { return e.Work.JobID != 0 }

// ExpectAlert decides where an alert of customer's goes when jobs may be
// working on its host. Pure, so every case is in the table test.
//
// An alert is expected when its routed customer has work running on the
// host it names (by name, FQDN or address) and the work's bound is not
// past. An expected alert of a problem no channel shows yet goes to the
// job's thread only: the people doing the work see it, the customer's
// channel does not get a false alarm. A problem a channel already shows
// (it was there before the work) keeps its message, updated as usual, and
// the job's thread hears of it too. The notes of the downtime the job
// itself set (downtime start and end) are counted, not said: the job
// already said it scheduled them. An alert of no customer is never
// expected: a host name alone must not pull it into anyone's thread.
func ExpectAlert(work []HostWork, customer string, a Alert, shown bool, now time.Time) Expectation {
	w, ok := workOn(work, customer, a.Host, now)
	if !ok {
		return Expectation{Channels: true}
	}
	quietNote := a.Status == AlertDowntimeStart || a.Status == AlertDowntimeEnd
	return Expectation{Work: w, Thread: !quietNote, Channels: shown}
}

// workOn is the newest work of customer on host that is not past its bound.
func workOn(work []HostWork, customer, host string, now time.Time) (HostWork, bool) {
	var found HostWork
	if customer == "" || host == "" {
		return found, false
	}
	for _, w := range work {
		if w.Customer != customer || (!w.Until.IsZero() && !now.Before(w.Until)) {
			continue
		}
		if SameHost(host, w.Host, w.Address) && w.JobID > found.JobID {
			found = w
		}
	}
	return found, found.JobID != 0
}

// HostNames are the keys a host as monitoring names it (a name, an FQDN,
// an address, with or without a port) is looked up by: the whole name in
// lower case, and for an FQDN also its first label.
func HostNames(h string) (full, short string) {
	full = strings.ToLower(strings.TrimSpace(h))
	if host, _, err := net.SplitHostPort(full); err == nil {
		full = host
	}
	if net.ParseIP(full) == nil {
		if s, _, found := strings.Cut(full, "."); found {
			short = s
		}
	}
	return full, short
}

// SameHost reports whether monitoring's host h is the configured host
// with name and address.
func SameHost(h, name, address string) bool {
	full, short := HostNames(h)
	name, _ = HostNames(name)
	address, _ = HostNames(address)
	switch {
	case full == "":
		return false
	case full == name || (address != "" && full == address):
		return true
	}
	return short != "" && short == name
}
