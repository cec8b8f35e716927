package store

import "context"

// MigrateTo applies our migrations up to version v, then River's: a
// database as an older mcloud left it, for migration tests.
func (s *DB) MigrateTo(ctx context.Context, v int) ([]string, error) { return s.migrate(ctx, v) }

// HoldDeliveries keeps the deliveries being taken from being committed
// until release, so that a test can put known ones in one transaction;
// queued tells how many wait.
func (s *DB) HoldDeliveries() (release func(), queued func() int) {
	return s.accepts.Hold(), s.accepts.Queued
}
