package main

import (
	"fmt"
	"net/http"

	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/monitoring"
)

// mountAlerts serves the monitoring receivers of every configured source
// on mux: /alerts/alertmanager, /alerts/icinga2, /alerts/sns. A source
// without credentials (or SNS without topics) is not served: 404.
func mountAlerts(mux *http.ServeMux, a *app, wake func()) *alerts.Pipeline {
	p := alerts.New(a.db, a.cfg, a.log)
	p.Wake = wake
	if a.metrics != nil {
		p.Counted = a.metrics.AlertReceived
	}
	o := monitoring.Options{Logger: a.log}
	ac := a.cfg.Alerts
	if ac.Alertmanager.Configured() {
		mux.Handle("/alerts/alertmanager", monitoring.Alertmanager(auth(ac.Alertmanager), o, p.Receive))
	}
	if ac.Icinga2.Configured() {
		mux.Handle("/alerts/icinga2", monitoring.Icinga2(auth(ac.Icinga2), o, p.Receive))
	}
	if len(ac.SNS.Topics) > 0 {
		mux.Handle("/alerts/sns", monitoring.NewSNS(ac.SNS.Topics, o, p.Receive))
	}
	return p
}

func auth(s config.AlertSource) monitoring.Auth {
	tok, _ := s.Token.Value()
	pw, _ := s.Password.Value()
	return monitoring.Auth{Token: tok, User: s.User, Password: pw}
}

// alertProblems are the alert settings serve cannot run with.
func alertProblems(cfg *config.Config) []string {
	var p []string
	for name, s := range map[string]config.AlertSource{"alertmanager": cfg.Alerts.Alertmanager, "icinga2": cfg.Alerts.Icinga2} {
		if s.Password.Set() && s.User == "" {
			p = append(p, fmt.Sprintf("alerts.%s.user: missing; basic auth needs a user with the password", name))
		}
	}
	return p
}
