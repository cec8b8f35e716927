package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/monitoring"
)

// Downtimes quiets a host in every monitoring system whose API is
// configured while a job changes it: an Icinga2 downtime of the host and
// its services, Alertmanager silences of its host and instance labels.
// A nil API is a system mcloud does not quiet.
type Downtimes struct {
	Icinga2      *monitoring.Icinga2API
	Alertmanager *monitoring.AlertmanagerAPI
	// Routes says whether a host name identifies its customer by itself
	// (as routing decides); without it every name is taken as shared, so
	// only hosts and alerts carrying the customer's label are quieted.
	Routes Routes
}

// Systems names what Schedule sets, for a plan; none when nothing is
// configured.
func (d *Downtimes) Systems() []string {
	var s []string
	if d.Icinga2 != nil {
		s = append(s, "an Icinga2 downtime of the host and its services")
	}
	if d.Alertmanager != nil {
		s = append(s, "Alertmanager silences of its host and instance labels")
	}
	return s
}

// Schedule quiets customer's host called name at address until end, and
// no other customer's host of the same address or name. It returns what
// it set, also when a system refused (the error then says which): what
// was set must be removed all the same.
func (d *Downtimes) Schedule(ctx context.Context, customer, name, address string, end time.Time, author, comment string) ([]mcloud.Downtime, error) {
	c, known := lookupHost(d.Routes.Hosts, name)
	h := monitoring.HostIdentity{Customer: customer, Name: name, Address: address, Shared: !known || c != customer}
	var set []mcloud.Downtime
	var errs []error
	if d.Icinga2 != nil {
		names, err := d.Icinga2.ScheduleDowntime(ctx, h, end, author, comment)
		for _, n := range names {
			set = append(set, mcloud.Downtime{Source: "icinga2", ID: n})
		}
		errs = append(errs, err)
	}
	if d.Alertmanager != nil {
		for _, ms := range monitoring.HostMatchers(h) {
			id, err := d.Alertmanager.SilenceMatching(ctx, ms, end, author, comment)
			if err != nil {
				errs = append(errs, err)
				break
			}
			set = append(set, mcloud.Downtime{Source: "alertmanager", ID: id})
		}
	}
	return set, errors.Join(errs...)
}

// Remove ends every downtime in ds, trying all of them even when one
// fails.
func (d *Downtimes) Remove(ctx context.Context, ds []mcloud.Downtime) error {
	var errs []error
	for _, dt := range ds {
		var err error
		switch {
		case dt.Source == "icinga2" && d.Icinga2 != nil:
			err = d.Icinga2.RemoveDowntime(ctx, dt.ID)
		case dt.Source == "alertmanager" && d.Alertmanager != nil:
			err = d.Alertmanager.Expire(ctx, dt.ID)
		default:
			err = fmt.Errorf("remove %s downtime %s: its API is no longer configured", dt.Source, dt.ID)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
