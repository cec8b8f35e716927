package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/mcloud/mcloud/internal/pgtest"
)

// The PostgreSQL pool keeps the connections a burst opened: bursts of
// concurrent queries with quiet moments between them reuse the same
// backends instead of closing all but two and opening them again (a TCP,
// TLS and authentication round trip each, and a backend process forked).
func TestPostgresPoolKeepsItsConnections(t *testing.T) {
	db := mustOpen(t, pgtest.URL(t))
	ctx := context.Background()
	var mu sync.Mutex
	backends := map[int]bool{}
	for range 20 {
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				// Holding a transaction makes the ten run side by side.
				tx, err := db.SQL().BeginTx(ctx, nil)
				if err != nil {
					t.Error(err)
					return
				}
				defer tx.Rollback()
				var pid int
				if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid() FROM pg_sleep(0.01)`).Scan(&pid); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				backends[pid] = true
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	if n := len(backends); n > 12 {
		t.Errorf("20 bursts of 10 queries used %d connections; the pool should keep its 10", n)
	}
}
