package sqlite_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

func diskSize(tb testing.TB, dir string) int64 {
	tb.Helper()
	var total int64
	for _, name := range []string{sqlite.FileName, sqlite.FileName + "-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err == nil {
			total += fi.Size()
		}
	}
	return total
}

// TestDiskStaysBoundedUnderRetention runs 12 s of steady load (about 2000
// events/s of ~200 bytes) with a 2 s retention and a 4 s dedup window: once
// both are full, freed pages are reused and the WAL is checkpointed, so the
// file and its WAL at 12 s are at most 1.3x their size at 6 s. The window is
// needed here because a purged event's key is a row of the events table
// (about 200 bytes with its indexes), which without a window accumulates by
// design.
func TestDiskStaysBoundedUnderRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 12 s")
	}
	ctx := context.Background()
	dir := t.TempDir()
	r := mustOpen(t, dir)
	svc := app.New(r, app.Options{
		Logger:    slog.New(slog.DiscardHandler),
		Lifecycle: app.Lifecycle{Retention: 2 * time.Second, DedupWindow: 4 * time.Second},
	})
	defer svc.Close()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var at6 int64
	n := 0
	for range tick.C {
		el := time.Since(start)
		if el >= 12*time.Second {
			break
		}
		if at6 == 0 && el >= 6*time.Second {
			at6 = diskSize(t, dir)
		}
		batch := make([]domain.Event, 20)
		for i := range batch {
			batch[i] = benchEvent(n)
			n++
		}
		if _, err := svc.Publish(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if n%4000 == 0 {
			st, _ := svc.Stats(ctx)
			t.Logf("%5.1f s: file+WAL %8d bytes, %d events stored, %d purged", el.Seconds(), diskSize(t, dir), st.Stored, st.Purged)
		}
	}
	at12 := diskSize(t, dir)
	t.Logf("%d events; size at 6 s %d, at 12 s %d: ratio %.2f", n, at6, at12, float64(at12)/float64(at6))
	if float64(at12) > 1.3*float64(at6) {
		t.Fatalf("file and WAL grew from %d bytes at 6 s to %d at 12 s, more than 1.3x", at6, at12)
	}
}
