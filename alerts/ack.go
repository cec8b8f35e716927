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
		// The problem keeps its alertname and host (the host or instance
		// label): the silence matches those.
		m := map[string]string{"alertname": p.Name}
		if p.Host != "" {
			m["instance"] = p.Host
		}
		if _, err := a.Alertmanager.Silence(ctx, m, until, by, comment); err != nil {
			return p, err
		}
	default:
		return p, mcloud.Errorf(mcloud.EINVALID, "Alert #%d comes from %s, which mcloud cannot acknowledge here (set alerts.%s.api).", p.ID, p.Source, p.Source)
	}
	return a.Pipeline.Acknowledge(ctx, p.ID, by, comment, until)
}
