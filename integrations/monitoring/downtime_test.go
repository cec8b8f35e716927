package monitoring

import (
	"regexp"
	"testing"
)

// silenced says whether Alertmanager would silence an alert with labels
// by one of the silences: every matcher of one silence matches, regexes
// anchored, a missing label being "".
func silenced(t *testing.T, silences [][]Matcher, labels map[string]string) bool {
	t.Helper()
	for _, ms := range silences {
		all := true
		for _, m := range ms {
			v := labels[m.Name]
			ok := v == m.Value
			if m.IsRegex {
				ok = regexp.MustCompile("^(?:" + m.Value + ")$").MatchString(v)
			}
			if ok != m.IsEqual {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

// TestHostMatchersScopedToCustomer: a patch of customer-x's host silences
// its alerts whichever label names it, and never customer-y's host that
// reuses the private address or the short name.
func TestHostMatchersScopedToCustomer(t *testing.T) {
	x := HostIdentity{Customer: "customer-x", Name: "apim-1", Address: "10.10.1.11"}
	shared := x
	shared.Shared = true // customer-y also has an "apim-1"
	cases := []struct {
		name   string
		h      HostIdentity
		labels map[string]string
		want   bool
	}{
		{"x's instance by address with port", x, map[string]string{"instance": "10.10.1.11:9100", "customer": "customer-x"}, true},
		{"x's host by FQDN", x, map[string]string{"host": "apim-1.prod.x.example", "customer": "customer-x"}, true},
		{"x's host by name, no customer label", x, map[string]string{"host": "apim-1"}, true},
		{"x's instance by name with port", x, map[string]string{"instance": "apim-1:9443"}, true},
		{"y's host at the same address", x, map[string]string{"instance": "10.10.1.11:9100", "customer": "customer-y"}, false},
		{"an address with no customer label", x, map[string]string{"instance": "10.10.1.11:9100"}, false},
		{"y's host of the same name", x, map[string]string{"host": "apim-1", "customer": "customer-y"}, false},
		{"another host of x", x, map[string]string{"host": "apim-12", "customer": "customer-x"}, false},
		{"a name two customers share, labelled x", shared, map[string]string{"host": "apim-1", "customer": "customer-x"}, true},
		{"a name two customers share, unlabelled", shared, map[string]string{"host": "apim-1"}, false},
		{"a name two customers share, labelled y", shared, map[string]string{"host": "apim-1.prod", "customer": "customer-y"}, false},
	}
	for _, c := range cases {
		if got := silenced(t, HostMatchers(c.h), c.labels); got != c.want {
			t.Errorf("%s: silenced = %v, want %v (%+v)", c.name, got, c.want, HostMatchers(c.h))
		}
	}
}

// TestIcinga2DowntimeFilterScopedToCustomer: the Icinga2 filter names the
// host exactly and its customer, and takes an address only with the
// customer (cmd/mcloud's TestIcinga2DowntimeWhilePatching runs it against
// Icinga2 with customer-y's host at the same address).
func TestIcinga2DowntimeFilterScopedToCustomer(t *testing.T) {
	cases := []struct {
		h    HostIdentity
		want string
	}{
		{HostIdentity{Customer: "customer-x", Name: "apim-1"}, "host.name==n && (host.vars.customer==c || !host.vars.customer)"},
		{HostIdentity{Customer: "customer-x", Name: "apim-1", Address: "10.10.1.11"},
			"(host.name==n && (host.vars.customer==c || !host.vars.customer)) || (host.address==a && host.vars.customer==c)"},
		{HostIdentity{Customer: "customer-x", Name: "apim-1", Address: "10.10.1.11", Shared: true},
			"(host.name==n && host.vars.customer==c) || (host.address==a && host.vars.customer==c)"},
	}
	for _, c := range cases {
		f, vars := Icinga2DowntimeFilter(c.h)
		if f != c.want {
			t.Errorf("%+v: filter %q, want %q", c.h, f, c.want)
		}
		if vars["n"] != c.h.Name || vars["c"] != c.h.Customer || vars["a"] != c.h.Address {
			t.Errorf("%+v: filter vars %v", c.h, vars)
		}
	}
}

// TestAckMatchers: the acknowledgement's silence matches every label of
// the alert as received (the label its host came from, its customer), and
// there is none for an alert with nothing but an alertname.
func TestAckMatchers(t *testing.T) {
	alert := map[string]string{"alertname": "DiskFull", "host": "apim-1", "customer": "customer-x"}
	ms, ok := AckMatchers(alert)
	if !ok {
		t.Fatalf("AckMatchers(%v) refused", alert)
	}
	cases := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"the alert itself", alert, true},
		{"customer-y's alert of the same name and host", map[string]string{"alertname": "DiskFull", "host": "apim-1", "customer": "customer-y"}, false},
		{"the same alert on another host", map[string]string{"alertname": "DiskFull", "host": "apim-2", "customer": "customer-x"}, false},
		{"an alert of the same name without labels", map[string]string{"alertname": "DiskFull"}, false},
	}
	for _, c := range cases {
		if got := silenced(t, [][]Matcher{ms}, c.labels); got != c.want {
			t.Errorf("%s: silenced = %v, want %v (%+v)", c.name, got, c.want, ms)
		}
	}
	for _, labels := range []map[string]string{{"alertname": "Watchdog"}, {"alertname": "Watchdog", "host": ""}, {"host": "apim-1"}} {
		if ms, ok := AckMatchers(labels); ok {
			t.Errorf("AckMatchers(%v) = %+v; want refused", labels, ms)
		}
	}
}
