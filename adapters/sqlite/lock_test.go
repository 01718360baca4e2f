package sqlite_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
)

// The data directory is locked on Unix (flock) and on Windows (LockFileEx):
// a second Open of the same directory fails with ErrLocked until the first
// closes. The lock is per open file, so one process shows it.
func TestSecondOpenOfADirectoryIsLocked(t *testing.T) {
	if runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no directory lock on " + runtime.GOOS)
	}
	dir := t.TempDir()
	ctx := context.Background()
	first, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if second, err := sqlite.Open(ctx, dir, sqlite.Options{}); !errors.Is(err, sqlite.ErrLocked) {
		if second != nil {
			second.Close()
		}
		t.Fatalf("second Open: err %v, want ErrLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}
