package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
)

const backupDoc = "Copies the SQLite store in -data-dir to DEST/" + sqlite.FileName + " while the server keeps\n" +
	"running and ingesting, with SQLite's VACUUM INTO: the copy holds every event\n" +
	"acknowledged before the backup began. Start a server with -data-dir DEST to use it.\n" +
	"Run it where the server's data directory is (e.g. docker exec). For PostgreSQL use pg_dump."

// runBackup is `aggregator backup [flags] DEST`.
func runBackup(ctx context.Context, args []string, e env) error {
	var cfg config
	fs := newFlagSet("backup", "[flags] DEST", backupDoc, e.stderr)
	fs.StringVar(&cfg.Store, "store", "sqlite", "event store: only sqlite can be backed up this way")
	fs.StringVar(&cfg.DataDir, "data-dir", "./data", "directory of the SQLite database to copy")
	dest, flags, err := splitDest(args)
	if errors.Is(err, flag.ErrHelp) {
		return parseFlags(fs, []string{"-h"}, e.getenv)
	}
	if err != nil {
		return err
	}
	if err := parseFlags(fs, flags, e.getenv); err != nil {
		return err
	}
	if cfg.Store != "sqlite" {
		return fmt.Errorf("backup copies the sqlite store; for %s use its own tools (pg_dump for postgres)", cfg.Store)
	}
	if src, err := filepath.Abs(cfg.DataDir); err == nil {
		if d, err := filepath.Abs(dest); err == nil && d == src {
			return usageErrorf("DEST must not be the data directory")
		}
	}
	if err := sqlite.Backup(ctx, cfg.DataDir, dest); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "backup of %s written to %s\n", filepath.Join(cfg.DataDir, sqlite.FileName), filepath.Join(dest, sqlite.FileName))
	return nil
}

// splitDest takes DEST, the last argument, off the flags before it.
func splitDest(args []string) (dest string, flags []string, err error) {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return "", nil, flag.ErrHelp
		}
	}
	if len(args) == 0 || strings.HasPrefix(args[len(args)-1], "-") {
		return "", nil, usageErrorf("missing DEST, the directory to write the copy to")
	}
	return args[len(args)-1], args[:len(args)-1], nil
}
