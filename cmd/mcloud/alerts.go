package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/mail"
	"github.com/mcloud/mcloud/integrations/monitoring"
	"github.com/mcloud/mcloud/internal/httpguard"
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
	// One guard for the receivers, apart from Slack's: an alert storm
	// must not crowd out Slack's requests, nor Slack's the alerts.
	o := monitoring.Options{Logger: a.log, Guard: httpguard.New(httpguard.Options{MaxBody: monitoring.MaxBody, Logger: a.log})}
	ac := a.cfg.Alerts
	if ac.Alertmanager.Configured() {
		mux.Handle("/alerts/alertmanager", monitoring.Alertmanager(auth(ac.Alertmanager), o, p.Receive))
	}
	if ac.Icinga2.Configured() {
		mux.Handle("/alerts/icinga2", monitoring.Icinga2(auth(ac.Icinga2), o, p.Receive))
	}
	if len(ac.SNS.Topics) > 0 {
		so := o
		so.Client = snsClient
		mux.Handle("/alerts/sns", monitoring.NewSNS(ac.SNS.Topics, so, p.Receive))
	}
	a.svc.Deps.Alerts = acker(a, p)
	return p
}

// snsClient is how the SNS receiver reaches SNS: nil, the default, in the
// program; only a test of this package sets it, to reach a local stand-in
// (the URL checks stay the production ones).
var snsClient *http.Client

// acker acknowledges in the sources whose API is configured.
func acker(a *app, p *alerts.Pipeline) *alerts.Acker {
	k := &alerts.Acker{Pipeline: p}
	k.Icinga2, k.Alertmanager = monitoringAPIs(a.cfg, a.log)
	return k
}

// downtimes quiets hosts a patch changes in the sources whose API is
// configured; nil when none is.
func downtimes(cfg *config.Config, log *slog.Logger) *alerts.Downtimes {
	d := &alerts.Downtimes{Routes: alerts.NewRoutes(cfg)}
	d.Icinga2, d.Alertmanager = monitoringAPIs(cfg, log)
	if d.Icinga2 == nil && d.Alertmanager == nil {
		return nil
	}
	return d
}

// monitoringAPIs are the clients of the monitoring APIs configured
// (alerts.icinga2.api, alerts.alertmanager.api), nil where none is.
func monitoringAPIs(cfg *config.Config, log *slog.Logger) (*monitoring.Icinga2API, *monitoring.AlertmanagerAPI) {
	ac := cfg.Alerts
	var ic *monitoring.Icinga2API
	var am *monitoring.AlertmanagerAPI
	if ac.Icinga2.API != "" {
		var ca []byte
		if ac.Icinga2.APICA != "" {
			var err error
			if ca, err = os.ReadFile(ac.Icinga2.APICA); err != nil {
				log.Error("alerts.icinga2.api_ca unreadable; trusting the system roots", "err", err)
			}
		}
		pw, _ := ac.Icinga2.APIPassword.Value()
		ic = monitoring.NewIcinga2API(ac.Icinga2.API, ac.Icinga2.APIUser, pw, ca)
	}
	if ac.Alertmanager.API != "" {
		am = monitoring.NewAlertmanagerAPI(ac.Alertmanager.API)
	}
	return ic, am
}

func auth(s config.AlertSource) monitoring.Auth {
	tok, _ := s.Token.Value()
	pw, _ := s.Password.Value()
	return monitoring.Auth{Token: tok, User: s.User, Password: pw}
}

// mailFallback is the mail fallback of alerts.email (nil when it is
// off): critical alerts mailed once Slack has been unreachable, by the
// poster's account, for alerts.email.after.
func mailFallback(a *app, down func() time.Time) (*alerts.Fallback, error) {
	e := a.cfg.Alerts.Email
	if !e.Configured() {
		return nil, nil
	}
	pool, err := emailCA(e.CA)
	if err != nil {
		return nil, err
	}
	user, _ := e.Username.Value()
	pw, _ := e.Password.Value()
	c, err := mail.New(mail.Options{Addr: e.Addr(), From: e.From, User: user, Password: pw, RootCAs: pool})
	if err != nil {
		return nil, fmt.Errorf("alerts.email: %w", err)
	}
	return &alerts.Fallback{DB: a.db, Mailer: c, Down: down, After: e.Wait(), Log: a.log,
		To: func(audience string) []string { return alerts.Recipients(a.cfg, audience) }}, nil
}

// emailCA reads alerts.email.ca; nil (the system roots) when it is not set.
func emailCA(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("alerts.email.ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("alerts.email.ca: %s holds no PEM certificate", path)
	}
	return pool, nil
}

// alertProblems are the alert settings serve cannot run with.
func alertProblems(cfg *config.Config) []string {
	var p []string
	if _, err := emailCA(cfg.Alerts.Email.CA); err != nil {
		p = append(p, err.Error())
	}
	for name, s := range map[string]config.AlertSource{"alertmanager": cfg.Alerts.Alertmanager, "icinga2": cfg.Alerts.Icinga2} {
		if s.Password.Set() && s.User == "" {
			p = append(p, fmt.Sprintf("alerts.%s.user: missing; basic auth needs a user with the password", name))
		}
	}
	return p
}

// serveAlerts serves the alert receivers on addr for `mcloud shell
// --listen`, so an alert posted with curl, or by a real Alertmanager,
// appears among the shell's messages. Only loopback: the shell has no
// TLS and its sandbox is nobody's production.
func (a *app) serveAlerts(addr string, stderr io.Writer) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--listen %s: give a loopback address like 127.0.0.1:8081", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mountAlerts(mux, a, nil)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(stderr, "mcloud: alert receivers on http://%s/alerts/ (alertmanager, icinga2, sns as configured)\n", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
