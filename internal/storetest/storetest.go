// Package storetest gives tests a real, migrated store: a fresh SQLite file,
// or a fresh PostgreSQL database from pgtest.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/pgtest"
)

// Open opens and migrates the store at dsn ("" for a new SQLite file in
// tb's temporary directory) and closes it when tb ends.
func Open(tb testing.TB, dsn string) *store.DB {
	tb.Helper()
	if dsn == "" {
		dsn = filepath.Join(tb.TempDir(), "mcloud.db")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}

// Each runs fn as two subtests, with the address of a fresh SQLite file and
// of a fresh PostgreSQL database. Packages using it call pgtest.Main from
// TestMain.
func Each(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "mcloud.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, pgtest.URL(t)) })
}
