package main

import (
	"fmt"
	"net/http"
	"os"

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
	a.svc.Deps.Alerts = acker(a, p)
	return p
}

// acker acknowledges in the sources whose API is configured.
func acker(a *app, p *alerts.Pipeline) *alerts.Acker {
	ac := a.cfg.Alerts
	k := &alerts.Acker{Pipeline: p}
	if ac.Icinga2.API != "" {
		var ca []byte
		if ac.Icinga2.APICA != "" {
			var err error
			if ca, err = os.ReadFile(ac.Icinga2.APICA); err != nil {
				a.log.Error("alerts.icinga2.api_ca unreadable; trusting the system roots", "err", err)
			}
		}
		pw, _ := ac.Icinga2.APIPassword.Value()
		k.Icinga2 = monitoring.NewIcinga2API(ac.Icinga2.API, ac.Icinga2.APIUser, pw, ca)
	}
	if ac.Alertmanager.API != "" {
		k.Alertmanager = monitoring.NewAlertmanagerAPI(ac.Alertmanager.API)
	}
	return k
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
