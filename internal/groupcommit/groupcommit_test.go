package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Calls that wait together share one commit, each gets its own result,
// and a failed commit is every one of its callers' error.
func TestBatches(t *testing.T) {
	var mu sync.Mutex
	var batches [][]int
	fail := false
	c := New(Options{Max: 10, Timeout: time.Minute}, func(_ context.Context, items []int) ([]int, error) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, items)
		if fail {
			return nil, errors.New("disk full")
		}
		out := make([]int, len(items))
		for i, v := range items {
			out[i] = v * 10
		}
		return out, nil
	})
	defer c.Close()
	together := func(n int) ([]int, []error) {
		release := c.Hold()
		vals, errs := make([]int, n), make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { vals[i], errs[i] = c.Do(context.Background(), i) })
		}
		for c.Queued() < n {
			time.Sleep(time.Millisecond)
		}
		release()
		wg.Wait()
		return vals, errs
	}
	vals, errs := together(5)
	for i := range 5 {
		if errs[i] != nil || vals[i] != i*10 {
			t.Errorf("call %d got %d, %v", i, vals[i], errs[i])
		}
	}
	if len(batches) != 1 || len(batches[0]) != 5 {
		t.Errorf("batches %v, want the 5 calls in one", batches)
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	_, errs = together(3)
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d succeeded though its commit failed", i)
		}
	}
}

// A caller that gives up gets its context's error; Close answers the
// calls it accepted and refuses later ones, without hanging.
func TestContextAndClose(t *testing.T) {
	stuck := make(chan struct{})
	c := New(Options{Max: 10, Timeout: time.Minute}, func(_ context.Context, items []int) ([]int, error) {
		<-stuck
		return items, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { _, err := c.Do(ctx, 1); errc <- err }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that gave up got %v", err)
	}
	go func() { _, err := c.Do(context.Background(), 2); errc <- err }()
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	close(stuck)
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("Close hung")
	}
	if err := <-errc; err != nil && !errors.Is(err, ErrClosed) {
		t.Errorf("a call during Close got %v", err)
	}
	if _, err := c.Do(context.Background(), 3); !errors.Is(err, ErrClosed) {
		t.Errorf("a call after Close got %v, want ErrClosed", err)
	}
}

// A caller whose context ends while its batch commits is told the item
// may have been committed (it was: the commit goes on), distinctly from
// a caller that gave up before its item was in a batch (it will not be).
func TestGivingUpDuringTheCommit(t *testing.T) {
	var mu sync.Mutex
	var written []int
	committing, finish := make(chan struct{}), make(chan struct{})
	c := New(Options{Max: 10, Timeout: time.Minute}, func(_ context.Context, items []int) ([]int, error) {
		if items[0] == 1 {
			close(committing)
			<-finish
		}
		mu.Lock()
		written = append(written, items...)
		mu.Unlock()
		return items, nil
	})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { _, err := c.Do(ctx, 1); errc <- err }()
	<-committing
	// 2 waits behind the running batch and gives up before its own.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { _, err := c.Do(ctx2, 2); errc <- err }()
	for c.Queued() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel2()
	if err := <-errc; !errors.Is(err, context.Canceled) || errors.Is(err, ErrMaybeCommitted) {
		t.Errorf("a caller that gave up before its batch got %v, want only context.Canceled", err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, ErrMaybeCommitted) || !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that gave up during its commit got %v, want ErrMaybeCommitted", err)
	}
	close(finish)
	if _, err := c.Do(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(written) != "[1 3]" {
		t.Errorf("written %v, want [1 3]: the item whose caller gave up during its commit, not the one before its batch", written)
	}
}
