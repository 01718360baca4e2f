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
// events/s of ~200 bytes) with a 2 s retention: once the retention window is
// full, purged payloads free pages that new events reuse and the WAL is
// checkpointed, so the file and its WAL at 12 s are at most 1.3x their size
// at 6 s. What still grows is the dedup memory, by design: with a 4 s dedup
// window as well, the size is flat.
func TestDiskStaysBoundedUnderRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 24 s")
	}
	for _, c := range []struct {
		name     string
		window   time.Duration
		maxRatio float64
	}{
		{"RetentionOnly", 0, 1.3},
		{"WithDedupWindow", 4 * time.Second, 1.1},
	} {
		t.Run(c.name, func(t *testing.T) {
			at6, at12, keys := steadyLoad(t, app.Lifecycle{Retention: 2 * time.Second, DedupWindow: c.window})
			t.Logf("file+WAL %d bytes at 6 s, %d at 12 s: %.2fx, %.0f bytes per event received in between",
				at6, at12, float64(at12)/float64(at6), float64(at12-at6)/float64(keys))
			if float64(at12) > c.maxRatio*float64(at6) {
				t.Fatalf("file and WAL grew from %d bytes at 6 s to %d at 12 s, more than %.1fx", at6, at12, c.maxRatio)
			}
		})
	}
}

// steadyLoad publishes 20 events every 10 ms for 12 s through a service
// running the lifecycle, and returns the size of the file and its WAL at 6 s
// and at 12 s, and how many events were published in between.
func steadyLoad(t *testing.T, l app.Lifecycle) (at6, at12 int64, between int) {
	ctx := context.Background()
	dir := t.TempDir()
	r := mustOpen(t, dir)
	svc := app.New(r, app.Options{Logger: slog.New(slog.DiscardHandler), Lifecycle: l})
	defer svc.Close()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	n, n6 := 0, 0
	for range tick.C {
		el := time.Since(start)
		if el >= 12*time.Second {
			break
		}
		if at6 == 0 && el >= 6*time.Second {
			at6, n6 = diskSize(t, dir), n
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
	return at6, diskSize(t, dir), n - n6
}
