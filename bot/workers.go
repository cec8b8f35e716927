package bot

// The worker pool: up to Workers stored deliveries worked at once, on any
// replica, each under a lease its worker renews; what a delivery's work
// queues is queued in the transaction that marks it done.

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/mcloud/mcloud/integrations/store"
)

const (
	// defaultLease is how long a claimed delivery stays with its worker
	// without news from it; the worker renews it while working.
	defaultLease = 30 * time.Second
	// maxAttempts: a delivery whose work killed this many processes (or
	// panicked) is given up, with the reason in the log.
	maxAttempts = 5
	// taskTimeout bounds one command's work.
	taskTimeout = 2 * time.Minute
	// finishTimeout bounds marking a delivery done, after its work and
	// apart from its time: a command that ended at its timeout must still
	// be marked done, or it is worked again after the lease.
	finishTimeout = 30 * time.Second
)

// dispatch claims stored deliveries and works them, up to s.workers at a
// time, until ctx ends; the deliveries being worked then are finished
// before it returns, the others stay stored for the next process.
func (s *Slack) dispatch(ctx context.Context) {
	slots := make(chan struct{}, s.workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	poll := time.NewTicker(min(time.Second, s.lease/2))
	defer poll.Stop()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		d, err := s.db.ClaimDelivery(ctx, s.owner, s.lease)
		if d != nil {
			wg.Go(func() {
				defer func() { <-slots }()
				s.work(ctx, d)
			})
			continue
		}
		<-slots
		if err != nil && ctx.Err() == nil {
			s.log.Warn("claim Slack deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-poll.C:
		}
	}
}

// work does a claimed delivery's work. It runs to the end even if ctx
// ends (Slack was told it was taken), then marks the delivery done
// together with the messages it queued. The lease is renewed until then,
// however long the work took, so no other worker starts it again.
func (s *Slack) work(ctx context.Context, d *store.Delivery) {
	lctx, stopLease := context.WithCancel(context.WithoutCancel(ctx))
	renewed := make(chan struct{})
	go func() { defer close(renewed); s.keepLease(lctx, d.Key) }()
	defer func() {
		stopLease()
		<-renewed
		if s.taskDone != nil {
			s.taskDone(d.Key)
		}
	}()
	col := &collector{}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.taskTimeout)
	s.run(store.WithDelivery(withCollector(wctx, col), d.Key), d)
	cancel()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	mine, err := s.db.FinishDelivery(fctx, d.Key, s.owner, col.items)
	switch {
	case err != nil:
		s.log.Error("finish Slack delivery; it will be worked again", "key", d.Key, "err", err)
	case !mine:
		s.log.Warn("another process took this Slack delivery over; its answers are left to that one", "key", d.Key)
	case len(col.items) > 0:
		s.poster.Wake()
	}
}

// run works one delivery's payload.
func (s *Slack) run(ctx context.Context, d *store.Delivery) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("Slack delivery panicked", "key", d.Key, "panic", r)
		}
	}()
	if d.Attempts > maxAttempts {
		s.log.Error("Slack delivery given up: its work stopped the process or failed every time", "key", d.Key, "attempts", d.Attempts-1)
		return
	}
	if d.Attempts > 1 {
		s.log.Info("working a Slack delivery again (the process that took it stopped)", "key", d.Key, "attempt", d.Attempts)
	}
	var p deliveryPayload
	if err := json.Unmarshal([]byte(d.Payload), &p); err != nil {
		s.log.Error("stored Slack delivery unreadable; dropped", "key", d.Key, "err", err)
		return
	}
	switch p.Kind {
	case kindCommand:
		s.runCommand(ctx, p.input())
	case kindAction:
		in := p.input()
		for _, a := range p.Actions {
			s.runAction(ctx, action{input: in, actionID: a.ID, value: a.Value, choice: a.Choice})
		}
	default:
		s.log.Error("stored Slack delivery of unknown kind; dropped", "key", d.Key, "kind", p.Kind)
	}
}

// keepLease renews the claim on key until ctx ends.
func (s *Slack) keepLease(ctx context.Context, key string) {
	t := time.NewTicker(s.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ok, err := s.db.RenewDelivery(ctx, key, s.owner, s.lease); err != nil && ctx.Err() == nil {
			s.log.Warn("renew lease on Slack delivery", "key", key, "err", err)
		} else if err == nil && !ok {
			return
		}
	}
}

// collector holds the messages a delivery's work queues, until the
// delivery is marked done with them.
type collector struct {
	mu    sync.Mutex
	items []store.OutboxItem
}

type collectorKey struct{}

func withCollector(ctx context.Context, c *collector) context.Context {
	return context.WithValue(ctx, collectorKey{}, c)
}

// collect keeps it for the delivery ctx works, if any; false means queue
// it now.
func collect(ctx context.Context, it store.OutboxItem) bool {
	c, _ := ctx.Value(collectorKey{}).(*collector)
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = append(c.items, it)
	return true
}
