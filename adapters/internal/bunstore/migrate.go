package bunstore

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

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
	if _, err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
