// Package groupcommit makes many small durable writes share transactions.
// Calls that arrive while a commit is running wait together and go into
// the next one, so under load a database pays one commit (one fsync on
// SQLite, one round trip on PostgreSQL) for a whole batch, and a lone call
// is written at once: there is no fixed wait for company.
package groupcommit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned to calls made after Close began that were not
// taken into a batch.
var ErrClosed = errors.New("the database is closing")

// ErrMaybeCommitted is returned (with the context's error) by a Do whose
// context ended while its item's batch was committing: the commit goes
// on, so the item may well be written. A caller must not tell anyone
// nothing was done; a plain context error means the item was never in a
// batch and will not be written.
var ErrMaybeCommitted = errors.New("gave up waiting for a commit that may have happened")

// Committer runs batches of items of type T through one commit function,
// up to Options.Parallel batches at a time, and hands each caller its own
// result.
type Committer[T, R any] struct {
	commit    func(ctx context.Context, batch []T) ([]R, error)
	timeout   time.Duration
	idle      func()
	idleAfter time.Duration
	// calls is buffered to a batch's size: a call is either in it (and
	// will be answered) or was never accepted.
	calls chan *call[T, R]
	quit  chan struct{}
	done  chan struct{}
	stop  sync.Once
	// recv lets one loop at a time take a batch from calls, so a batch
	// is everything waiting when a loop is free.
	recv sync.Mutex
	// hold is taken before each batch is gathered; see Hold. holding is
	// set while the loop, a first call in hand, waits for it.
	hold    sync.Mutex
	holding atomic.Bool
	// pending counts the calls in Do.
	pending atomic.Int64
}

type call[T, R any] struct {
	ctx  context.Context
	item T
	res  chan result[R]
	// state is queued until the loop takes the call into a batch
	// (taken) or its caller gives up first (abandoned), whichever is
	// first: so a caller that gives up knows whether its item may be
	// written.
	state atomic.Int32
}

const (
	queued int32 = iota
	taken
	abandoned
)

type result[R any] struct {
	val R
	err error
}

// Options shape a Committer.
type Options struct {
	// Max is the most items in a batch.
	Max int
	// Timeout bounds each batch's commit, whatever its callers' contexts
	// say: once a batch is running, its outcome is wanted even by a
	// caller that stopped waiting.
	Timeout time.Duration
	// Parallel is how many batches may commit at once (default 1). With
	// 1, commit is only ever called from one goroutine.
	Parallel int
	// Idle, if set, is called when no call has come for IdleAfter, and
	// when the Committer stops: a commit function can keep a resource
	// between the batches of a burst, and give it back when the burst is
	// over. Only with Parallel 1, which keeps Idle and commit on one
	// goroutine.
	Idle      func()
	IdleAfter time.Duration
}

// New starts a Committer. commit writes a batch in one transaction and
// returns one result per item, in order; an error from it (a failed
// commit) is every caller's error.
func New[T, R any](o Options, commit func(ctx context.Context, batch []T) ([]R, error)) *Committer[T, R] {
	idle := o.Idle
	if idle == nil {
		idle = func() {}
	}
	c := &Committer[T, R]{commit: commit, timeout: o.Timeout, idle: idle, idleAfter: o.IdleAfter,
		calls: make(chan *call[T, R], max(o.Max, 1)), quit: make(chan struct{}), done: make(chan struct{})}
	var wg sync.WaitGroup
	for range max(o.Parallel, 1) {
		wg.Go(c.loop)
	}
	go func() { wg.Wait(); c.idle(); close(c.done) }()
	return c
}

// Do writes item with whatever else arrives meanwhile and returns its
// result once the batch holding it has committed. It returns ctx's error
// if ctx ends before the item was taken into a batch (it will not be
// written), ErrMaybeCommitted joined with ctx's error if ctx ends while
// its batch commits, and ErrClosed once Close has begun.
func (c *Committer[T, R]) Do(ctx context.Context, item T) (R, error) {
	c.pending.Add(1)
	defer c.pending.Add(-1)
	var zero R
	cl := &call[T, R]{ctx: ctx, item: item, res: make(chan result[R], 1)}
	select {
	case <-c.quit:
		return zero, ErrClosed
	default:
	}
	select {
	case c.calls <- cl:
	case <-c.quit:
		return zero, ErrClosed
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	select {
	case r := <-cl.res:
		return r.val, r.err
	case <-ctx.Done():
		if cl.state.CompareAndSwap(queued, abandoned) {
			return zero, ctx.Err()
		}
		return zero, fmt.Errorf("%w: %w", ErrMaybeCommitted, ctx.Err())
	case <-c.done:
		// The loop ended; a call that slipped into the buffer after its
		// last look was never written.
		select {
		case r := <-cl.res:
			return r.val, r.err
		default:
			return zero, ErrClosed
		}
	}
}

// Close stops taking calls, writes those already accepted, and returns
// when the batch running (bounded by the timeout) has finished.
func (c *Committer[T, R]) Close() {
	c.stop.Do(func() { close(c.quit) })
	<-c.done
}

// Hold keeps the next batch from being gathered until release is called,
// so that calls queue up together: tests use it to put known calls in one
// transaction. Queued tells how many are waiting.
func (c *Committer[T, R]) Hold() (release func()) {
	c.hold.Lock()
	return sync.OnceFunc(c.hold.Unlock)
}

// Pending is the number of calls waiting for their commit.
func (c *Committer[T, R]) Pending() int { return int(c.pending.Load()) }

// Queued is the number of calls accepted and not yet in a batch.
func (c *Committer[T, R]) Queued() int {
	n := len(c.calls)
	if c.holding.Load() {
		n++
	}
	return n
}

func (c *Committer[T, R]) loop() {
	for {
		c.recv.Lock()
		first, ok := c.next()
		if !ok {
			c.recv.Unlock()
			// Flush what was accepted before the close.
			for {
				select {
				case first = <-c.calls:
					c.run(c.gather(first))
				default:
					return
				}
			}
		}
		c.holding.Store(true)
		c.hold.Lock()
		c.hold.Unlock()
		c.holding.Store(false)
		batch := c.gather(first)
		c.recv.Unlock()
		c.run(batch)
	}
}

// next waits for a call to start the next batch; false once Close began.
// When none comes within IdleAfter, the Committer is idle.
func (c *Committer[T, R]) next() (*call[T, R], bool) {
	if c.idleAfter > 0 {
		t := time.NewTimer(c.idleAfter)
		defer t.Stop()
		select {
		case first := <-c.calls:
			return first, true
		case <-c.quit:
			return nil, false
		case <-t.C:
		}
	}
	c.idle()
	select {
	case first := <-c.calls:
		return first, true
	case <-c.quit:
		return nil, false
	}
}

// gather takes, after first, every call already waiting, up to a batch.
func (c *Committer[T, R]) gather(first *call[T, R]) []*call[T, R] {
	batch := []*call[T, R]{first}
	for len(batch) < cap(c.calls) {
		select {
		case cl := <-c.calls:
			batch = append(batch, cl)
		default:
			return batch
		}
	}
	return batch
}

// run commits the calls whose callers still wait and answers them all.
func (c *Committer[T, R]) run(calls []*call[T, R]) {
	live := calls[:0]
	for _, cl := range calls {
		if err := cl.ctx.Err(); err != nil || !cl.state.CompareAndSwap(queued, taken) {
			cl.res <- result[R]{err: cmp.Or(err, context.Canceled)}
			continue
		}
		live = append(live, cl)
	}
	if len(live) == 0 {
		return
	}
	items := make([]T, len(live))
	for i, cl := range live {
		items[i] = cl.item
	}
	vals, err := c.commitSafely(items)
	if err == nil && len(vals) != len(items) {
		err = fmt.Errorf("group commit: %d results for %d items", len(vals), len(items))
	}
	for i, cl := range live {
		if err != nil {
			cl.res <- result[R]{err: err}
			continue
		}
		cl.res <- result[R]{val: vals[i]}
	}
}

// commitSafely runs commit with the batch's own deadline; a panic fails
// the batch instead of leaving its callers waiting.
func (c *Committer[T, R]) commitSafely(items []T) (vals []R, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("group commit panicked: %v", r)
		}
	}()
	return c.commit(ctx, items)
}
