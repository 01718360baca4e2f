package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// TestBackupUnderLoad copies the database while two writers keep
// committing. The copy must hold every event acknowledged before the backup
// began, deduplicate against them, and be consistent: its counters match its
// events, and SQLite finds no corruption.
func TestBackupUnderLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := mustOpen(t, dir)

	var (
		mu    sync.Mutex
		acked []domain.Event
		stop  atomic.Bool
		wg    sync.WaitGroup
		errc  = make(chan error, 2)
	)
	for w := range 2 {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				batch := make([]domain.Event, 50)
				for i := range batch {
					batch[i] = benchEvent(w*1_000_000 + n*len(batch) + i)
				}
				if _, err := r.Append(ctx, batch, time.Now()); err != nil {
					errc <- err
					return
				}
				mu.Lock()
				acked = append(acked, batch...)
				mu.Unlock()
			}
		})
	}
	ackedBy := func() []domain.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]domain.Event(nil), acked...)
	}
	for len(ackedBy()) < 5000 {
		time.Sleep(10 * time.Millisecond)
	}
	before := ackedBy()
	dest := filepath.Join(t.TempDir(), "backup")
	if err := sqlite.Backup(ctx, dir, dest); err != nil {
		t.Fatal(err)
	}
	during := len(ackedBy()) - len(before)
	time.Sleep(50 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if during == 0 {
		t.Fatal("no event was committed while the backup ran: the test did not exercise a live copy")
	}
	t.Logf("%d events acknowledged before the backup, %d during it", len(before), during)

	if err := sqlite.Backup(ctx, dir, dest); !errors.Is(err, sqlite.ErrBackupExists) {
		t.Fatalf("second backup to the same place: %v, want ErrBackupExists", err)
	}
	checkIntegrity(t, filepath.Join(dest, sqlite.FileName))

	cp := mustOpen(t, dest)
	for _, e := range before[:100] {
		got, err := cp.Get(ctx, e.Key())
		if err != nil || string(got.Payload) != string(e.Payload) {
			t.Fatalf("copy: Get %v = %v; want the stored event", e.Key(), err)
		}
	}
	out, err := cp.Append(ctx, before, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o.Status != domain.Duplicate {
			t.Fatalf("copy: republishing acknowledged event %d (%v) = %v, want duplicate", i, before[i].Key(), o.Status)
		}
	}
	stats, err := cp.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var accepted int64
	for _, s := range stats {
		accepted += s.Accepted
	}
	listed := 0
	for q := (app.ListQuery{Limit: 1000}); ; {
		page, err := cp.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		listed += len(page)
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].Seq
	}
	if int64(listed) != accepted || listed < len(before) {
		t.Fatalf("copy lists %d events, its counters say %d accepted, %d were acknowledged before", listed, accepted, len(before))
	}
}

func TestBackupNeedsADatabase(t *testing.T) {
	err := sqlite.Backup(context.Background(), t.TempDir(), filepath.Join(t.TempDir(), "b"))
	if err == nil {
		t.Fatal("backup of an empty directory succeeded")
	}
}

func checkIntegrity(tb testing.TB, path string) {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		tb.Fatalf("integrity_check of %s = %q, %v", path, res, err)
	}
}
