package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// ErrBackupExists is returned by Backup when the destination already holds
// a database.
var ErrBackupExists = errors.New("destination already holds a database")

// Backup writes a consistent copy of the database in dir to destDir (created
// if needed), as destDir/aggregator.db, while the server keeps writing to
// the original. A server started with destDir as its data directory serves
// every event committed before Backup began and deduplicates against their
// keys.
//
// It uses SQLite's VACUUM INTO on a connection of its own, which may live in
// another process than the server. The copy is read inside one read
// transaction, and in WAL mode a read transaction sees a snapshot: every
// transaction committed before it started, nothing committed after. Writers
// go on meanwhile (a WAL reader blocks no writer, and a checkpoint never
// overwrites a page a reader still needs). The connection never migrates the
// schema and writes nothing to the original. The copy is compact (free
// pages are dropped), written under a temporary name, synced and then
// renamed, so a destination never holds a partial copy under the final name.
func Backup(ctx context.Context, dir, destDir string) error {
	src := filepath.Join(dir, FileName)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup source: %w", err)
	}
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return fmt.Errorf("create backup directory: %w", err)
	}
	dest := filepath.Join(destDir, FileName)
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("backup to %s: %w", dest, ErrBackupExists)
	}
	tmp := dest + ".partial"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove old partial backup: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	// mode=rw: fail rather than create an empty database at a wrong path.
	q.Set("mode", "rw")
	dsn := fileURI(src) + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("vacuum into %s: %w", tmp, err)
	}
	// SQLite does not sync the file VACUUM INTO writes.
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return syncDir(destDir)
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sync backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync backup: %w", err)
	}
	return f.Close()
}
