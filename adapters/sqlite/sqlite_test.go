package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// mustOpen opens a repository in dir and closes it when tb ends.
func mustOpen(tb testing.TB, dir string) *sqlite.Repository {
	tb.Helper()
	return openWith(tb, dir, sqlite.Options{})
}

// openWith opens a repository in dir with opts and closes it when tb ends.
func openWith(tb testing.TB, dir string, opts sqlite.Options) *sqlite.Repository {
	tb.Helper()
	r, err := sqlite.Open(context.Background(), dir, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

func TestRepositoryContract(t *testing.T) {
	dirs := map[app.EventRepository]string{}
	apptest.RunRepositoryContract(t, apptest.Store{
		New: func(tb testing.TB) app.EventRepository {
			dir := tb.TempDir()
			r := mustOpen(tb, dir)
			dirs[r] = dir
			return r
		},
		Reopen: func(tb testing.TB, old app.EventRepository) app.EventRepository {
			if err := old.(*sqlite.Repository).Close(); err != nil {
				tb.Fatal(err)
			}
			return mustOpen(tb, dirs[old])
		},
	})
}

func TestOpenPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a%20b c?d#e")
	r := mustOpen(t, dir)
	if _, err := r.Stats(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
}

func TestCheckWriteTakesAndReleasesTheWriteLock(t *testing.T) {
	ctx := context.Background()
	repo := mustOpen(t, t.TempDir())
	for range 2 { // a lock left taken would fail the second round
		if err := repo.CheckWrite(ctx); err != nil {
			t.Fatalf("CheckWrite on a writable database: %v", err)
		}
		if _, err := repo.Append(ctx, []domain.Event{apptest.NewEvent("t", "x", 1)}, time.Now()); err != nil {
			t.Fatalf("Append after CheckWrite: %v", err)
		}
	}
}
