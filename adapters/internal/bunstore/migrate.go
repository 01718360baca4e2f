package bunstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// ErrNewerSchema is returned by Migrate for a database that a newer
// version of the service has migrated.
var ErrNewerSchema = errors.New("the database was written by a newer version of uts-aggregator")

// Migrate applies the SQL migrations in files (NNN_name.up.sql, as Bun's
// migrate package names them) that db has not applied yet. The files are
// embedded by each adapter, so nothing is read from disk at run time.
func Migrate(ctx context.Context, db *bun.DB, files fs.FS) error {
	migrations := migrate.NewMigrations()
	if err := migrations.Discover(files); err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	m := migrate.NewMigrator(db, migrations)
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("init migrations: %w", err)
	}
	// A migration this binary does not know was applied by a newer one:
	// its schema may not be what this code expects, so do not touch it.
	unknown, err := m.MissingMigrations(ctx)
	if err != nil {
		return fmt.Errorf("read applied migrations: %w", err)
	}
	if len(unknown) > 0 {
		sorted := migrations.Sorted()
		return fmt.Errorf("%w: it has schema migration %s, which this version does not know (it knows up to %s); "+
			"run the newer version that wrote it, or restore a backup made by this one",
			ErrNewerSchema, unknown[0].Name, sorted[len(sorted)-1].Name)
	}
	if _, err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
