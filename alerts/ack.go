package alerts

import (
	"context"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/monitoring"
)

// DefaultSilence is how long an Alertmanager silence lasts when the
// acknowledgement names no duration: a silence must end.
const DefaultSilence = 2 * time.Hour

// Acker acknowledges problems in their monitoring system, then records
// the acknowledgement (which updates the problem's messages). A nil API
// means that source's problems cannot be acknowledged from mcloud.
type Acker struct {
	Pipeline     *Pipeline
	Icinga2      *monitoring.Icinga2API
	Alertmanager *monitoring.AlertmanagerAPI
	Now          func() time.Time
}

// Acknowledge implements commands.Acknowledger. Errors: EINVALID when the
// problem's source cannot be acknowledged from here.
func (a *Acker) Acknowledge(ctx context.Context, p mcloud.Problem, by, comment string, until time.Time) (mcloud.Problem, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	switch {
	case p.Source == "icinga2" && a.Icinga2 != nil:
		if err := a.Icinga2.Acknowledge(ctx, p.Key, by, comment, until); err != nil {
			return p, err
		}
	case p.Source == "alertmanager" && a.Alertmanager != nil:
		if until.IsZero() {
			until = now().Add(DefaultSilence)
		}
		// The silence matches the alert's own labels as Alertmanager holds
		// them (its fingerprint is the problem's key): the problem's host
		// may have come from either the host or the instance label, and
		// the customer label, when there is one, keeps the silence off
		// other customers' alerts of the same name.
		labels, err := a.Alertmanager.AlertLabels(ctx, p.Key, p.Name)
		if err != nil {
			return p, err
		}
		if labels == nil {
			return p, mcloud.Errorf(mcloud.ECONFLICT, "Alertmanager no longer holds alert #%d (it may have resolved meanwhile), so there is nothing to silence.", p.ID)
		}
		ms, ok := monitoring.AckMatchers(labels)
		if !ok {
			return p, mcloud.Errorf(mcloud.EINVALID, "Alert #%d has no label but its alertname %s, so a silence would quiet %s for every host and customer: silence it in Alertmanager itself.", p.ID, p.Name, p.Name)
		}
		if comment == "" {
			comment = "acknowledged in Slack"
		}
		if _, err := a.Alertmanager.SilenceMatching(ctx, ms, until, by, comment); err != nil {
			return p, err
		}
	default:
		return p, mcloud.Errorf(mcloud.EINVALID, "Alert #%d comes from %s, which mcloud cannot acknowledge here (set alerts.%s.api).", p.ID, p.Source, p.Source)
	}
	return a.Pipeline.Acknowledge(ctx, p.ID, by, comment, until)
}
