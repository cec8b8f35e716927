// Package metrics is mcloud's Prometheus exposition: one registry per
// process, the series the README lists, and the small adapters that feed
// them from the edges (an http.RoundTripper for Slack, observation funcs
// for the AWS, SSH, job and command hooks, a collector that reads the store
// at scrape time). cmd/mcloud builds it and hands the adapters in; nothing
// below cmd imports it.
//
// It sits under integrations/ because it adapts mcloud to one outside
// system, the Prometheus scraper, and like every package there it imports
// nothing else of ours: what it reads from the store arrives as a Snapshot.
package metrics

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Snapshot is the state of the work at scrape time, read from the store,
// so every replica reports the same numbers and nothing is lost on restart.
type Snapshot struct {
	ApprovalsWaiting map[string]int // by customer
	Jobs             []JobCount
	OutboxDepth      int
	OutboxOldest     time.Time // zero when the outbox is empty
}

// JobCount is how many jobs of a verb are in one state.
type JobCount struct {
	Verb, State string
	N           int
}

// Source reads a Snapshot; it is called once per scrape.
type Source func(ctx context.Context) (Snapshot, error)

// Options configure New.
type Options struct {
	// Source, when set, backs the gauges read at scrape time.
	Source Source
	// ScrapeTimeout bounds Source (default 5s): a slow database must not
	// hang the scraper.
	ScrapeTimeout time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
}

// Metrics holds the registry and every series mcloud exports.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	requests     *prometheus.CounterVec
	jobDuration  *prometheus.HistogramVec
	slackCalls   *prometheus.CounterVec
	slackLatency *prometheus.HistogramVec
	awsCalls     *prometheus.CounterVec
	awsLatency   *prometheus.HistogramVec
	sshLatency   *prometheus.HistogramVec
	alerts       *prometheus.CounterVec
}

// Buckets: outside calls take milliseconds to a minute; jobs take seconds
// (a status read) to half a day (a Glacier bulk restore).
var (
	callBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	jobBuckets  = []float64{1, 5, 15, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600}
)

// New builds the registry: mcloud's series, the store collector when
// opts.Source is set, and the Go runtime and process collectors.
func New(opts Options) *Metrics {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Metrics{reg: prometheus.NewRegistry(), log: opts.Logger}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcloud_requests_total",
		Help: "Commands handled, by verb and outcome (answered, planned, waiting_approval, queued, approved, approval_counted, denied, refused, invalid, not_found, conflict, error).",
	}, []string{"verb", "outcome"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mcloud_job_duration_seconds",
		Help:    "Time from a job's start to its end, by verb and final state (succeeded, failed, cancelled), for jobs this process finished.",
		Buckets: jobBuckets,
	}, []string{"verb", "state"})
	m.slackCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcloud_slack_api_calls_total",
		Help: `Slack Web API calls (and response_url posts), by method and result (ok, error: Slack said ok=false, rate_limited: HTTP 429, http_error, network_error).`,
	}, []string{"method", "result"})
	m.slackLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mcloud_slack_api_call_duration_seconds", Help: "Latency of Slack Web API calls, by method.", Buckets: callBuckets,
	}, []string{"method"})
	m.awsCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcloud_aws_calls_total",
		Help: "AWS API operations (after the SDK's retries), by service, operation and result (ok, or the AWS error code, EndpointUnreachable, error).",
	}, []string{"service", "operation", "result"})
	m.awsLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mcloud_aws_call_duration_seconds", Help: "Latency of AWS API operations including the SDK's retries, by service and operation.", Buckets: callBuckets,
	}, []string{"service", "operation"})
	m.sshLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mcloud_ssh_call_duration_seconds",
		Help:    "Latency of SSH work by customer, op (connect: bastion and host handshakes; run: a command including any connect; http_get: a health check through the tunnel) and result (ok, error).",
		Buckets: callBuckets,
	}, []string{"customer", "op", "result"})
	// Issue 12's receivers call AlertReceived; until they land the series
	// has no children and is not exposed.
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcloud_alerts_received_total",
		Help: "Monitoring alerts received, by source (alertmanager, icinga2, sns), customer and status (firing, resolved, rejected).",
	}, []string{"source", "customer", "status"})
	m.reg.MustRegister(m.requests, m.jobDuration, m.slackCalls, m.slackLatency, m.awsCalls, m.awsLatency, m.sshLatency, m.alerts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if opts.Source != nil {
		m.reg.MustRegister(newStoreCollector(opts))
	}
	return m
}

// Handler serves the exposition. With a token, a request must carry
// "Authorization: Bearer <token>" or is answered 401. A series that could
// not be read (the store is down) is left out and logged; the rest are
// still served, so the scrape itself keeps working.
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promLogger{m.log},
		Registry:      m.reg, // promhttp_metric_handler_errors_total
	})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcloud metrics"`)
			http.Error(w, "metrics need the bearer token from metrics.token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// promLogger hands promhttp's scrape errors to slog.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Warn("metrics scrape", "err", strings.TrimSpace(fmt.Sprintln(v...)))
}

// Request counts one command; outcome comes from commands.Outcome.
func (m *Metrics) Request(verb, outcome string) {
	m.requests.WithLabelValues(verb, outcome).Inc()
}

// JobFinished records a job's run time and final state.
func (m *Metrics) JobFinished(verb, state string, took time.Duration) {
	m.jobDuration.WithLabelValues(verb, state).Observe(took.Seconds())
}

// AWSCall records one AWS operation; code is "" on success, else the AWS
// error code (or "error" when there is none).
func (m *Metrics) AWSCall(service, operation, code string, took time.Duration) {
	result := code
	if result == "" {
		result = "ok"
	}
	m.awsCalls.WithLabelValues(service, operation, result).Inc()
	m.awsLatency.WithLabelValues(service, operation).Observe(took.Seconds())
}

// SSHCall records one SSH connect or command for customer.
func (m *Metrics) SSHCall(customer, op string, took time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.sshLatency.WithLabelValues(customer, op, result).Observe(took.Seconds())
}

// AlertReceived counts one alert from a monitoring receiver (issue 12):
// the receivers take it as a func(source, customer, status string) and
// cmd/mcloud passes this method, as it does for the other hooks. customer
// must be the routed, configured name (or "unrouted"), never text from the
// payload, which would let a sender grow the series without bound.
func (m *Metrics) AlertReceived(source, customer, status string) {
	m.alerts.WithLabelValues(source, customer, status).Inc()
}
