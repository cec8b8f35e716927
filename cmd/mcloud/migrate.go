package main

import (
	"context"
	"fmt"
	"io"

	"github.com/mcloud/mcloud/integrations/store"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("mcloud migrate", "mcloud migrate [--database-url URL]", `
Create or upgrade the database schema, then exit. Safe to run on every
start and from several replicas at once: migrations take a lock.`, stderr)
	dbURL := fs.String("database-url", defaultDatabase(), "SQLite file, or postgres://... URL")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	db, err := store.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s database is up to date.\n", db.Dialect())
		return nil
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "applied", m)
	}
	return nil
}
