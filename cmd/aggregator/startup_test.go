//go:build unix

package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
)

// A store that cannot be opened stops the server at startup with exit code
// 1 and one line saying what is wrong and what to do, never a stack trace.
func TestStartupRefusesAStoreItCannotOpen(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		says  string
	}{
		{"ErrCorrupt", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, sqlite.FileName), []byte(rand.Text()+rand.Text()+strings.Repeat("garbage", 1000)), 0o644)
		}, "not a SQLite database or is damaged"},
		{"ErrNewerSchema", func(t *testing.T, dir string) {
			r, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`INSERT INTO bun_migrations (name, group_id) VALUES ('29990101000000_from_the_future', 99)`); err != nil {
				t.Fatal(err)
			}
		}, "written by a newer version"},
		{"ErrLocked", func(t *testing.T, dir string) {
			r, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
		}, "in use by another process"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			code, _, stderr := runCLI(t, nil, "serve", "-data-dir", dir, "-addr", "127.0.0.1:0")
			if code != exitError {
				t.Fatalf("exit code %d, want %d; stderr %q", code, exitError, stderr)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 || !strings.Contains(stderr, tt.says) || !strings.Contains(stderr, dir) {
				t.Fatalf("stderr %q: want one line naming %s and saying %q", stderr, dir, tt.says)
			}
			if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
				t.Fatalf("stack trace on stderr: %s", stderr)
			}
		})
	}
}
