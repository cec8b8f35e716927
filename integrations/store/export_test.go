package store

import "context"

// MigrateTo applies our migrations up to version v, then River's: a
// database as an older mcloud left it, for migration tests.
func (s *DB) MigrateTo(ctx context.Context, v int) ([]string, error) { return s.migrate(ctx, v) }
