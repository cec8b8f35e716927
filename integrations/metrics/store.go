package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// storeCollector reads the store once per scrape. Gauges kept in memory
// would be wrong with several replicas and after a restart; the database
// is the one place that knows what waits.
type storeCollector struct {
	src     Source
	timeout time.Duration
	now     func() time.Time

	approvals, jobs, outboxDepth, outboxAge *prometheus.Desc
}

func newStoreCollector(o Options) *storeCollector {
	if o.ScrapeTimeout <= 0 {
		o.ScrapeTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &storeCollector{
		src: o.Source, timeout: o.ScrapeTimeout, now: o.Now,
		approvals: prometheus.NewDesc("mcloud_approvals_waiting",
			"Requests waiting for approval, by customer.", []string{"customer"}, nil),
		jobs: prometheus.NewDesc("mcloud_jobs",
			"Jobs in the store, by verb and state (queued, running, succeeded, failed, cancelled).", []string{"verb", "state"}, nil),
		outboxDepth: prometheus.NewDesc("mcloud_outbox_messages",
			"Messages waiting in the outbox to be delivered to Slack.", nil, nil),
		outboxAge: prometheus.NewDesc("mcloud_outbox_oldest_age_seconds",
			"Age of the oldest undelivered outbox message; 0 when the outbox is empty.", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.approvals
	ch <- c.jobs
	ch <- c.outboxDepth
	ch <- c.outboxAge
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	snap, err := c.src(ctx)
	if err != nil {
		// The handler serves everything else and logs this; Prometheus
		// then sees these series vanish, which absent() alerts on.
		for _, d := range []*prometheus.Desc{c.approvals, c.jobs, c.outboxDepth, c.outboxAge} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	for cu, n := range snap.ApprovalsWaiting {
		ch <- prometheus.MustNewConstMetric(c.approvals, prometheus.GaugeValue, float64(n), cu)
	}
	for _, j := range snap.Jobs {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(j.N), j.Verb, j.State)
	}
	ch <- prometheus.MustNewConstMetric(c.outboxDepth, prometheus.GaugeValue, float64(snap.OutboxDepth))
	age := 0.0
	if !snap.OutboxOldest.IsZero() {
		age = max(c.now().Sub(snap.OutboxOldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.outboxAge, prometheus.GaugeValue, age)
}
