package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/uts-aggregator/uts-aggregator/adapters/internal/bunstore"
	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// The whole store contract again, with a hash of 16 values (nearly every key
// collides with another) and merges after every few keys, so that every
// case runs through the collision and merge paths.
func TestContractWithCollidingHashesAndTinyMerges(t *testing.T) {
	opts := sqlite.SmallIndex(sqlite.Options{}, true, 3, 2, 5)
	dirs := map[app.EventRepository]string{}
	apptest.RunRepositoryContract(t, apptest.Store{
		New: func(tb testing.TB) app.EventRepository {
			dir := tb.TempDir()
			r := openWith(tb, dir, opts)
			dirs[r] = dir
			return r
		},
		Reopen: func(tb testing.TB, old app.EventRepository) app.EventRepository {
			if err := old.(*sqlite.Repository).Close(); err != nil {
				tb.Fatal(err)
			}
			return openWith(tb, dirs[old], opts)
		},
	})
	apptest.RunLoaderContract(t, func(tb testing.TB) apptest.LoaderStore { return openWith(tb, tb.TempDir(), opts) })
}

type stored struct {
	seq     int64
	payload int
}

func keyEvent(topic, id int, payload int) domain.Event {
	return apptest.NewEvent(fmt.Sprintf("t%d", topic), fmt.Sprintf("k%d", id), payload)
}

// checkAll resends every key in batches and wants each to be a duplicate of
// the stored event, a changed payload a conflict, and Get to return the
// stored event.
func checkAll(t *testing.T, r *sqlite.Repository, keys map[domain.Key]stored) {
	t.Helper()
	ctx := context.Background()
	var (
		batch []domain.Event
		want  []domain.Outcome
	)
	flush := func() {
		got := mustAppend(t, r, batch...)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("resend of %v: outcome %+v, want %+v", batch[i].Key(), got[i], want[i])
			}
		}
		batch, want = batch[:0], want[:0]
	}
	for k, s := range keys {
		e := apptest.NewEvent(k.Topic, k.EventID, s.payload)
		batch = append(batch, e)
		want = append(want, domain.Outcome{Status: domain.Duplicate, Seq: s.seq})
		if len(batch)%7 == 0 {
			batch = append(batch, apptest.NewEvent(k.Topic, k.EventID, s.payload+1))
			want = append(want, domain.Outcome{Status: domain.Conflict, Seq: s.seq})
		}
		if len(batch) >= 100 {
			flush()
		}
		got, err := r.Get(ctx, k)
		if err != nil || got.Seq != s.seq || got.Key() != k {
			t.Fatalf("Get(%v) = seq %d key %v (%v), want seq %d", k, got.Seq, got.Key(), err, s.seq)
		}
	}
	if len(batch) > 0 {
		flush()
	}
	for _, k := range []domain.Key{{Topic: "t0", EventID: "missing"}, {Topic: "t9", EventID: "k1"}} {
		if _, err := r.Get(ctx, k); !errors.Is(err, app.ErrNotFound) {
			t.Fatalf("Get(%v) error = %v, want ErrNotFound", k, err)
		}
	}
}

func TestCollidingKeysAreNeverConflated(t *testing.T) {
	dir := t.TempDir()
	opts := sqlite.SmallIndex(sqlite.Options{}, true, 50, 10, 1000)
	r := openWith(t, dir, opts)
	keys := map[domain.Key]stored{}
	next := 0
	for next < 600 {
		var batch []domain.Event
		for range 40 {
			batch = append(batch, keyEvent(next%4, next, next))
			next++
		}
		// Resends of earlier keys, some of them already merged to disk.
		for i := 0; i < next-40; i += 97 {
			batch = append(batch, keyEvent(i%4, i, i))
		}
		out := mustAppend(t, r, batch...)
		for i, e := range batch {
			s, known := keys[e.Key()]
			switch {
			case !known && out[i].Status == domain.Accepted:
				keys[e.Key()] = stored{seq: out[i].Seq, payload: next - 40 + i}
			case known && out[i] == (domain.Outcome{Status: domain.Duplicate, Seq: s.seq}):
			default:
				t.Fatalf("%v: outcome %+v, stored before: %v %+v", e.Key(), out[i], known, s)
			}
		}
	}
	if active, _, _ := r.IndexState(); active >= 600 {
		t.Fatalf("%d keys still in memory: no merge ran", active)
	}
	checkAll(t, r, keys)
	if got := listAll(t, r); len(got) != len(keys) {
		t.Fatalf("stored %d events, want %d", len(got), len(keys))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen twice: once rebuilding memory from the events above the
	// watermark, once merging them to disk at startup first.
	for _, bulkAt := range []int{1000, 20} {
		r = openWith(t, dir, sqlite.SmallIndex(sqlite.Options{}, true, 50, 10, bulkAt))
		checkAll(t, r, keys)
		if got := listAll(t, r); len(got) != len(keys) {
			t.Fatalf("stored %d events after reopen, want %d", len(got), len(keys))
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db := rawDB(t, dir)
	var onDisk, overflow int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM dedup_keys), (SELECT count(*) FROM dedup_overflow)`).Scan(&onDisk, &overflow); err != nil {
		t.Fatal(err)
	}
	if onDisk > 16 || overflow == 0 {
		t.Fatalf("dedup_keys %d rows, dedup_overflow %d: want at most 16 hashes and the rest in overflow", onDisk, overflow)
	}
}

// listAll lists every stored event.
func listAll(t *testing.T, r app.EventRepository) []domain.StoredEvent {
	t.Helper()
	var out []domain.StoredEvent
	var after int64
	for {
		page, err := r.List(context.Background(), app.ListQuery{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

func mustAppend(t *testing.T, r app.EventRepository, events ...domain.Event) []domain.Outcome {
	t.Helper()
	out, err := r.Append(context.Background(), events, apptest.ReceiveTime)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawDB opens the database file in dir directly, closed when t ends.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestMigratesStoreWithUniqueIndex builds a store as the release before the
// dedup index made it (events with a unique (topic, event_id) index, written
// as that release wrote them) and opens it with the current code.
func TestMigratesStoreWithUniqueIndex(t *testing.T) {
	const n = 2500
	dir := t.TempDir()
	// The schema before the dedup index: every migration before it.
	before := fstest.MapFS{}
	for _, name := range []string{"20250101000000_init.tx.up.sql", "20250301000000_lifecycle.tx.up.sql"} {
		sql, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		before[name] = &fstest.MapFile{Data: sql}
	}
	ctx := context.Background()
	old := bun.NewDB(rawDB(t, dir), sqlitedialect.New())
	if err := bunstore.Migrate(ctx, old, before); err != nil {
		t.Fatal(err)
	}
	tx, err := old.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e := keyEvent(i%3, i, i)
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (topic, event_id, source, payload, payload_digest, timestamp, received_at)
			VALUES (?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (topic, event_id) DO NOTHING`,
			e.Topic, e.EventID, e.Source, e.Payload, domain.PayloadDigest(e.Payload), apptest.ReceiveTime.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO topic_stats (topic, received, accepted, dropped, conflicts) VALUES ('t0', 900, 834, 66, 0), ('t1', 833, 833, 0, 0), ('t2', 833, 833, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	old.Close()

	// Startup merges 1000 keys at a time and keeps the last 500 in memory.
	r := openWith(t, dir, sqlite.SmallIndex(sqlite.Options{}, false, 100_000, 4096, 1000))
	keys := map[domain.Key]stored{}
	for i := range n {
		keys[keyEvent(i%3, i, i).Key()] = stored{seq: int64(i + 1), payload: i}
	}
	if active, _, _ := r.IndexState(); active != 500 {
		t.Fatalf("%d keys in memory after migration, want the 500 above the last full chunk", active)
	}
	checkAll(t, r, keys)
	out := mustAppend(t, r, keyEvent(0, n, 0))
	if out[0].Status != domain.Accepted || out[0].Seq != n+1 {
		t.Fatalf("new event after migration: %+v, want accepted with seq %d", out[0], n+1)
	}
	stats, err := r.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats[0].Topic != "t0" || stats[0].Received < 901 || stats[0].Accepted != 835 {
		t.Fatalf("counters after migration: %+v", stats)
	}
	r.Close()

	db := rawDB(t, dir)
	var unique, merged int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'events_key'`).Scan(&unique); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM dedup_keys`).Scan(&merged); err != nil {
		t.Fatal(err)
	}
	if unique != 0 || merged != 2000 {
		t.Fatalf("after migration: unique index present %d, %d keys merged; want 0 and 2000", unique, merged)
	}
	// And once more with the default sizes: everything above the watermark
	// is rebuilt in memory.
	r = mustOpen(t, dir)
	checkAll(t, r, keys)
}

// A ROLLBACK that fails leaves the connection inside its transaction; the
// writer must not stay stuck there.
func TestFailedRollbackReplacesWriter(t *testing.T) {
	r := mustOpen(t, t.TempDir())
	first := mustAppend(t, r, keyEvent(0, 1, 1))
	injected := errors.New("injected failure")
	r.FailExec(func(stmt string) error {
		if stmt == "COMMIT" || stmt == "ROLLBACK" {
			return injected
		}
		return nil
	})
	if _, err := r.Append(context.Background(), []domain.Event{keyEvent(0, 2, 2)}, apptest.ReceiveTime); !errors.Is(err, injected) {
		t.Fatalf("Append with failing COMMIT: error %v, want the injected one", err)
	}
	r.FailExec(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, err := r.Append(ctx, []domain.Event{keyEvent(0, 2, 2), keyEvent(0, 1, 1)}, apptest.ReceiveTime)
	if err != nil {
		t.Fatalf("Append after a failed rollback: %v", err)
	}
	if out[0].Status != domain.Accepted || out[1] != (domain.Outcome{Status: domain.Duplicate, Seq: first[0].Seq}) {
		t.Fatalf("outcomes after recovery: %+v", out)
	}
	if got := listAll(t, r); len(got) != 2 {
		t.Fatalf("stored %d events, want 2: the failed transaction must leave nothing", len(got))
	}
}

// The dedup window deletes events with their index entries, on disk and in
// memory alike: a forgotten key is accepted again exactly once, the other
// keys stay duplicates, and no entry is left pointing at a deleted event.
func TestForgottenKeysLeaveTheIndex(t *testing.T) {
	dir := t.TempDir()
	opts := sqlite.SmallIndex(sqlite.Options{}, true, 20, 5, 1000)
	r := openWith(t, dir, opts)
	ctx := context.Background()
	t1, t2 := apptest.ReceiveTime, apptest.ReceiveTime.Add(time.Hour)
	publish := func(at time.Time, from, to int) []domain.Outcome {
		var batch []domain.Event
		for i := from; i < to; i++ {
			batch = append(batch, keyEvent(i%4, i, i))
		}
		out, err := r.Append(ctx, batch, at)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var old, kept []domain.Outcome
	for i := 0; i < 100; i += 10 {
		old = append(old, publish(t1, i, i+10)...)
	}
	for i := 100; i < 200; i += 10 {
		kept = append(kept, publish(t2, i, i+10)...)
	}
	if n, err := r.ForgetKeys(ctx, t2, 1000); err != nil || n != 100 {
		t.Fatalf("ForgetKeys = %d, %v; want 100", n, err)
	}
	check := func() {
		t.Helper()
		again := publish(t2, 0, 100)
		for i, o := range again {
			if o.Status != domain.Accepted || o.Seq == old[i].Seq {
				t.Fatalf("forgotten key %d: %+v, want accepted anew", i, o)
			}
		}
		old = again
		if out := publish(t2, 0, 200); !equalOutcomes(out, old, kept) {
			t.Fatalf("resend after forgetting: %+v", out)
		}
	}
	check()
	r.Close()
	r = openWith(t, dir, opts)
	// Forget everything, part of it still in memory since the reopen.
	if n, err := r.ForgetKeys(ctx, t2.Add(time.Second), 1000); err != nil || n != 200 {
		t.Fatalf("ForgetKeys = %d, %v; want 200", n, err)
	}
	var highest int64
	for _, o := range append(old, kept...) {
		highest = max(highest, o.Seq)
	}
	all := publish(t2.Add(time.Hour), 0, 200)
	for i, o := range all {
		// Seqs only grow, even when every event was deleted.
		if o.Status != domain.Accepted || o.Seq <= highest {
			t.Fatalf("forgotten key %d: %+v, want accepted anew above seq %d", i, o, highest)
		}
	}
	if out := publish(t2, 0, 200); !equalOutcomes(out, all) {
		t.Fatalf("resend after forgetting everything: %+v", out)
	}
	r.Close()
	// Startup merges every key above the watermark: the index on disk then
	// holds exactly one entry per stored event, none for a forgotten one.
	r = openWith(t, dir, sqlite.SmallIndex(sqlite.Options{}, true, 20, 5, 1))
	if active, frozen, _ := r.IndexState(); active+frozen != 0 {
		t.Fatalf("%d keys in memory after a full merge at startup", active+frozen)
	}
	r.Close()
	var entries, events int
	if err := rawDB(t, dir).QueryRow(`SELECT (SELECT count(*) FROM dedup_keys) + (SELECT count(*) FROM dedup_overflow),
		(SELECT count(*) FROM events)`).Scan(&entries, &events); err != nil {
		t.Fatal(err)
	}
	if entries != events || events != 200 {
		t.Fatalf("%d index entries for %d events, want 200 each", entries, events)
	}
}

// equalOutcomes reports whether out are duplicates of the seqs in the
// concatenation of firsts.
func equalOutcomes(out []domain.Outcome, firsts ...[]domain.Outcome) bool {
	var want []domain.Outcome
	for _, f := range firsts {
		want = append(want, f...)
	}
	if len(out) != len(want) {
		return false
	}
	for i := range out {
		if out[i] != (domain.Outcome{Status: domain.Duplicate, Seq: want[i].Seq}) {
			return false
		}
	}
	return true
}
