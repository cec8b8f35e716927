package monitoring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// HostIdentity is one configured host as a patch quiets it: whose it is
// and the names monitoring may give it. Customers' VPCs reuse private
// addresses and short host names, so a downtime or silence always names
// the customer, and an address counts only together with the customer.
type HostIdentity struct {
	Customer string
	Name     string
	Address  string
	// Shared is set when the name alone does not tell the customer
	// (another customer configures a host of that name, as routing's
	// "ambiguous" host): then only a host or alert carrying the
	// customer's label is matched, as routing would.
	Shared bool
}

// Icinga2DowntimeFilter is the schedule-downtime filter for h: the host
// whose name is h's exactly and whose vars.customer is h's customer (or
// unset, when the name identifies the customer by itself), or the host at
// h's address whose vars.customer is h's customer; never a host by its
// address alone.
func Icinga2DowntimeFilter(h HostIdentity) (string, map[string]string) {
	vars := map[string]string{"n": h.Name, "c": h.Customer}
	filter := "host.name==n && (host.vars.customer==c || !host.vars.customer)"
	if h.Shared {
		filter = "host.name==n && host.vars.customer==c"
	}
	if h.Address != "" {
		filter, vars["a"] = "("+filter+") || (host.address==a && host.vars.customer==c)", h.Address
	}
	return filter, vars
}

// ScheduleDowntime puts the Icinga2 host h (see Icinga2DowntimeFilter),
// and all its services, in a fixed downtime from now until end, and
// returns the names of the downtimes Icinga2 created (the host's first,
// then its services'), which RemoveDowntime takes. Icinga2 sends no
// problem notifications for them meanwhile.
func (c *Icinga2API) ScheduleDowntime(ctx context.Context, h HostIdentity, end time.Time, author, comment string) ([]string, error) {
	name := h.Name
	if h.Customer == "" || h.Name == "" {
		return nil, fmt.Errorf("schedule a downtime for %s in Icinga2: a downtime needs the host's name and customer", name)
	}
	filter, vars := Icinga2DowntimeFilter(h)
	req := map[string]any{"type": "Host", "filter": filter, "filter_vars": vars, "start_time": time.Now().Unix(), "end_time": end.Unix(),
		"fixed": true, "all_services": true, "author": author, "comment": comment}
	var out struct {
		Results []struct {
			Code   float64 `json:"code"`
			Status string  `json:"status"`
			Name   string  `json:"name"`
			// Icinga2 2.13 lists the services' downtimes as objects
			// with a name; earlier versions as bare names.
			ServiceDowntimes []downtimeRef `json:"service_downtimes"`
		} `json:"results"`
	}
	if err := c.post(ctx, "/v1/actions/schedule-downtime", req, &out); err != nil {
		if strings.HasPrefix(err.Error(), "HTTP 404") {
			return nil, fmt.Errorf("schedule a downtime for %s in Icinga2: Icinga2 has no host of that name (or address) with that customer", name)
		}
		return nil, fmt.Errorf("schedule a downtime for %s in Icinga2: %w", name, err)
	}
	var names []string
	for _, r := range out.Results {
		if r.Code != 200 {
			return names, fmt.Errorf("schedule a downtime for %s in Icinga2: %s", name, r.Status)
		}
		names = append(names, r.Name)
		for _, sd := range r.ServiceDowntimes {
			names = append(names, string(sd))
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("schedule a downtime for %s in Icinga2: Icinga2 has no host of that name (or address) with that customer", name)
	}
	return names, nil
}

// downtimeRef is a downtime's name, given as a string or as an object
// with a name.
type downtimeRef string

func (d *downtimeRef) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		*d = downtimeRef(name)
		return nil
	}
	var obj struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	*d = downtimeRef(obj.Name)
	return nil
}

// RemoveDowntime removes the downtime called name; one already gone (it
// ended, someone removed it, it went with its host's) is no error.
func (c *Icinga2API) RemoveDowntime(ctx context.Context, name string) error {
	err := c.post(ctx, "/v1/actions/remove-downtime", map[string]any{"type": "Downtime", "downtime": name}, nil)
	if err != nil && !strings.HasPrefix(err.Error(), "HTTP 404") {
		return fmt.Errorf("remove downtime %s from Icinga2: %w", name, err)
	}
	return nil
}

// Matcher is one label matcher of an Alertmanager silence.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// HostMatchers are the silences that quiet host h in Alertmanager,
// whichever label names it: one silence per label (host, instance), each
// matching h's name or an FQDN starting with it, with or without a port,
// and a customer label that is h's customer (or absent, when the name
// identifies the customer by itself); and, when h has an address, one
// silence of an instance at that address whose customer label is h's. An
// address alone, which another customer's VPC may reuse, never matches.
func HostMatchers(h HostIdentity) [][]Matcher {
	cust := Matcher{Name: "customer", Value: "(" + regexp.QuoteMeta(h.Customer) + ")?", IsRegex: true, IsEqual: true}
	if h.Shared {
		cust = Matcher{Name: "customer", Value: h.Customer, IsEqual: true}
	}
	name := regexp.QuoteMeta(h.Name) + `(\.[^:]*)?(:[0-9]+)?`
	out := [][]Matcher{
		{{Name: "host", Value: name, IsRegex: true, IsEqual: true}, cust},
		{{Name: "instance", Value: name, IsRegex: true, IsEqual: true}, cust},
	}
	if h.Address != "" {
		out = append(out, []Matcher{{Name: "instance", Value: regexp.QuoteMeta(h.Address) + "(:[0-9]+)?", IsRegex: true, IsEqual: true},
			{Name: "customer", Value: h.Customer, IsEqual: true}})
	}
	return out
}

// SilenceMatching creates a silence of the alerts matching all of ms
// from now until ends, and returns its id.
func (c *AlertmanagerAPI) SilenceMatching(ctx context.Context, ms []Matcher, ends time.Time, by, comment string) (string, error) {
	if len(ms) == 0 {
		return "", errors.New("silence in Alertmanager: no labels to match")
	}
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	body := map[string]any{"matchers": ms, "startsAt": time.Now().UTC().Format(time.RFC3339),
		"endsAt": ends.UTC().Format(time.RFC3339), "createdBy": by, "comment": comment}
	if err := c.send(ctx, http.MethodPost, "/api/v2/silences", body, &out); err != nil {
		return "", fmt.Errorf("silence in Alertmanager: %w", err)
	}
	return out.SilenceID, nil
}

// Expire ends the silence id now; one already expired or gone is no error.
func (c *AlertmanagerAPI) Expire(ctx context.Context, id string) error {
	err := c.send(ctx, http.MethodDelete, "/api/v2/silence/"+url.PathEscape(id), nil, nil)
	if err != nil && !strings.HasPrefix(err.Error(), "HTTP 404") && !strings.Contains(err.Error(), "already expired") {
		return fmt.Errorf("expire silence %s in Alertmanager: %w", id, err)
	}
	return nil
}
