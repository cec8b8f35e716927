package alerts

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/groupcommit"
)

// Pipeline takes decoded alerts to the outbox: route, then record and
// decide in one store transaction.
type Pipeline struct {
	db       *store.DB
	routes   Routes
	budget   int
	interval time.Duration
	mail     bool
	batch    *groupcommit.Committer[[]store.AlertItem, recorded]
	// record is db.RecordAlerts (a test makes it fail).
	record   func(context.Context, []store.AlertItem) ([]store.AlertOutcome, error)
	recover  sync.Once
	flushMu  sync.Mutex
	flushing *time.Timer
	log      *slog.Logger
	// Counted is told of every alert received (the metrics hook).
	Counted func(source, customer, status string)
	// Wake nudges the poster after messages were queued.
	Wake func()
}

// New builds the pipeline for cfg.
func New(db *store.DB, cfg *config.Config, log *slog.Logger) *Pipeline {
	p := &Pipeline{db: db, routes: NewRoutes(cfg), budget: cfg.Alerts.Budget, interval: time.Duration(cfg.Alerts.Interval),
		mail: cfg.Alerts.Email.Configured(), log: log}
	p.record = db.RecordAlerts
	p.batch = p.newBatcher()
	if p.budget <= 0 {
		p.budget = 10
	}
	if p.interval <= 0 {
		p.interval = time.Minute
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	return p
}

// Receive records alerts, all or none, and returns once they are
// committed; an error means none were recorded (the receiver then answers
// 5xx, so the sender retries).
func (p *Pipeline) Receive(ctx context.Context, as []mcloud.Alert) error {
	items := make([]store.AlertItem, len(as))
	for i, a := range as {
		d := Route(p.routes, a)
		del := store.AlertDelivery{Channels: d.Channels, Budget: p.budget, Interval: p.interval, Render: Text{}, SummaryEvery: summaryEvery}
		if p.mail {
			del.Mail = func(pr mcloud.Problem) []store.AlertMail { return Mails(p.routes, d, pr) }
		}
		items[i] = store.AlertItem{Alert: a, Customer: d.Customer, Delivery: del}
	}
	p.recover.Do(func() { p.flushSummaries(ctx) }) // a summary left unrendered by a process that died
	r, err := p.batch.Do(ctx, items)
	if err == nil {
		err = r.err
	}
	if err != nil {
		return err
	}
	outs := r.outs
	if len(outs) > 0 && outs[0].Deferred {
		p.summariesLater()
	}
	queued := false
	for i, out := range outs {
		a, customer := as[i], items[i].Customer
		if customer == "" {
			customer = "unmatched"
		}
		if p.Counted != nil {
			p.Counted(a.Source, customer, string(a.Status))
		}
		queued = queued || out.Expected.Thread
		for _, act := range out.Actions {
			queued = queued || act != mcloud.AlertIgnore
		}
		p.log.Debug("alert", "source", a.Source, "problem", out.Problem.ID, "customer", customer, "status", a.Status, "actions", len(out.Actions),
			"expected_by_job", out.Expected.Work.JobID)
	}
	if queued && p.Wake != nil {
		p.Wake()
	}
	return nil
}

// Acknowledge records an acknowledgement made from Slack, after the
// monitoring system accepted it.
func (p *Pipeline) Acknowledge(ctx context.Context, id int64, by, comment string, until time.Time) (mcloud.Problem, error) {
	pr, err := p.db.AcknowledgeProblem(ctx, id, by, comment, until, Text{})
	if err == nil && p.Wake != nil {
		p.Wake()
	}
	return pr, err
}
