package alerts

import (
	"context"
	"time"

	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/groupcommit"
)

// The alerts of requests that arrive together are recorded in one store
// transaction (SQLite has one writer, and a commit per alert made a storm
// crawl) by internal/groupcommit, and each request is answered only once
// its alerts are committed: an alert answered 2xx is durable. A panic
// while writing fails that batch's requests (5xx: the senders retry)
// and the next batch is written as usual.
const (
	// writeTimeout bounds one batch's transaction, whatever its callers'
	// contexts say.
	writeTimeout = 30 * time.Second
	// batchMax is the most requests in one transaction.
	batchMax = 256
)

// recorded is one request's outcome in a batch: a request the store
// refuses fails alone.
type recorded struct {
	outs []store.AlertOutcome
	err  error
}

func (p *Pipeline) newBatcher() *groupcommit.Committer[[]store.AlertItem, recorded] {
	return groupcommit.New(groupcommit.Options{Max: batchMax, Timeout: writeTimeout, Parallel: 1}, p.write)
}

// write records batch in one transaction; when that fails, each request
// on its own, so one bad request fails alone.
func (p *Pipeline) write(ctx context.Context, batch [][]store.AlertItem) ([]recorded, error) {
	res := make([]recorded, len(batch))
	if len(batch) > 1 {
		var all []store.AlertItem
		for _, items := range batch {
			all = append(all, items...)
		}
		outs, err := p.record(ctx, all)
		if err == nil {
			for i, items := range batch {
				res[i].outs, outs = outs[:len(items)], outs[len(items):]
			}
			return res, nil
		}
	}
	for i, items := range batch {
		res[i].outs, res[i].err = p.record(ctx, items)
	}
	return res, nil
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
