package alerts

import (
	"context"
	"sync"
	"time"

	"github.com/mcloud/mcloud/integrations/store"
)

// groupCommit records the alerts of requests that arrive together in one
// store transaction (SQLite has one writer, and a commit per alert made
// a storm crawl), and answers each request only once its alerts are
// committed: an alert answered 2xx is durable. There is no goroutine of
// its own: the first request to find no writer writes everything pending,
// then hands the writing to the next waiting request, if any, so no
// request waits for more than the batch before its own and its own.
type groupCommit struct {
	mu      sync.Mutex
	writing bool
	pending []*commitReq
}

type commitReq struct {
	items []store.AlertItem
	outs  []store.AlertOutcome
	err   error
	// turn says true when the request is done, false when it is to
	// write the pending batch itself.
	turn chan bool
}

// writeTimeout bounds one batch's transaction; the requests in it wait
// for it whatever their own contexts say (one of them may be writing it).
const writeTimeout = 30 * time.Second

func (g *groupCommit) record(ctx context.Context, db *store.DB, items []store.AlertItem) ([]store.AlertOutcome, error) {
	r := &commitReq{items: items, turn: make(chan bool, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, r)
	lead := !g.writing
	g.writing = true
	g.mu.Unlock()
	if !lead {
		if done := <-r.turn; done {
			return r.outs, r.err
		}
	}
	g.mu.Lock()
	batch := g.pending
	g.pending = nil
	g.mu.Unlock()

	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	write(wctx, db, batch)
	cancel()

	g.mu.Lock()
	if len(g.pending) > 0 {
		g.pending[0].turn <- false
	} else {
		g.writing = false
	}
	g.mu.Unlock()
	for _, b := range batch {
		if b != r {
			b.turn <- true
		}
	}
	return r.outs, r.err
}

// write records batch in one transaction; when that fails, each request
// on its own, so one bad request fails alone.
func write(ctx context.Context, db *store.DB, batch []*commitReq) {
	if len(batch) > 1 {
		var all []store.AlertItem
		for _, b := range batch {
			all = append(all, b.items...)
		}
		outs, err := db.RecordAlerts(ctx, all)
		if err == nil {
			for _, b := range batch {
				b.outs, outs = outs[:len(b.items)], outs[len(b.items):]
			}
			return
		}
	}
	for _, b := range batch {
		b.outs, b.err = db.RecordAlerts(ctx, b.items)
	}
}

// summaryEvery is the least time between two renderings of a storm
// summary: about the rate the poster sends a channel's messages.
const summaryEvery = time.Second

// summariesLater renders, summaryEvery from now, the summaries that
// changed since they were last rendered, so a storm's last alerts are
// shown once it has passed.
func (p *Pipeline) summariesLater() { p.summariesAfter(0) }

// summariesAfter is summariesLater after failed tries; it gives up after
// ten (the next summary deferred tries again).
func (p *Pipeline) summariesAfter(failed int) {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	if p.flushing != nil {
		return
	}
	p.flushing = time.AfterFunc(summaryEvery, func() {
		p.flushMu.Lock()
		p.flushing = nil
		p.flushMu.Unlock()
		if !p.flushSummaries(context.Background()) && failed < 9 {
			p.summariesAfter(failed + 1)
		}
	})
}

// flushSummaries queues the summaries left unrendered; false when it
// could not.
func (p *Pipeline) flushSummaries(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	n, err := p.db.FlushSummaries(ctx, Text{})
	if err != nil {
		p.log.Warn("render alert summaries", "err", err)
		return false
	}
	if n > 0 && p.Wake != nil {
		p.Wake()
	}
	return true
}
