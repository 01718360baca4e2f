package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// BenchmarkLayouts compares storage layouts without HTTP, on the workload of
// the bulk benchmark: random UUIDv4 ids, 10 topics, ~100-byte payloads, 20%
// of the sent events resends of a random earlier one, 1,000 events per
// transaction, WAL with synchronous=FULL. BENCH_LAYOUT_N sets the events sent
// (200,000 by default); scripts/bench.sh runs it with 1,000,000.
//
//   - naive: one table with UNIQUE (topic, event_id) and INSERT OR IGNORE, the
//     simplest correct raw-SQLite program (no outcomes, no counters);
//   - unique-index: the previous schema and write path: INSERT ... ON
//     CONFLICT DO NOTHING on the unique index, a lookup per duplicate, the
//     counters upsert;
//   - hash-keys-per-commit: this adapter with a merge at every commit (no
//     keys kept in memory beyond one commit);
//   - dedup-index: this adapter as configured.
func BenchmarkLayouts(b *testing.B) {
	n := 200_000
	if s := os.Getenv("BENCH_LAYOUT_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	events := layoutWorkload(n)
	for _, l := range []struct {
		name   string
		append func(b *testing.B, dir string) writeFunc
	}{
		{"naive", naiveLayout},
		{"unique-index", uniqueIndexLayout},
		{"hash-keys-per-commit", repoLayout(sqlite.SmallIndex(sqlite.Options{}, false, 1, 1000, 0))},
		{"dedup-index", repoLayout(sqlite.Options{})},
	} {
		b.Run(l.name, func(b *testing.B) {
			for b.Loop() {
				write := l.append(b, b.TempDir())
				start := time.Now()
				var lastFifth time.Time
				// Commit times, apart for the commits that carried a merge step.
				var merging, other []time.Duration
				for i := 0; i < len(events); i += 1000 {
					if i >= len(events)*4/5 && lastFifth.IsZero() {
						lastFifth = time.Now()
					}
					t := time.Now()
					merged, err := write(events[i:min(i+1000, len(events))])
					if err != nil {
						b.Fatal(err)
					}
					if merged {
						merging = append(merging, time.Since(t))
					} else {
						other = append(other, time.Since(t))
					}
				}
				end := time.Now()
				b.ReportMetric(float64(len(events))/end.Sub(start).Seconds(), "events/s")
				b.ReportMetric(float64(len(events)-len(events)*4/5)/end.Sub(lastFifth).Seconds(), "events/s-last-fifth")
				if len(merging) > 0 {
					b.ReportMetric(p99ms(merging), "p99-ms-merging")
					b.ReportMetric(p99ms(other), "p99-ms-not-merging")
				}
			}
		})
	}
}

// writeFunc commits one batch and reports whether the commit carried a
// merge step.
type writeFunc func([]domain.Event) (merged bool, err error)

func p99ms(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[(len(ds)*99)/100]) / float64(time.Millisecond)
}

func layoutWorkload(n int) []domain.Event {
	rng := rand.New(rand.NewPCG(1, 2))
	events := make([]domain.Event, 0, n)
	pad := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
	for i := range n {
		if i > 0 && rng.Float64() < 0.2 {
			events = append(events, events[rng.IntN(i)])
			continue
		}
		events = append(events, domain.Event{
			Topic: fmt.Sprintf("bench-%d", rng.IntN(10)), EventID: uuid.New().String(), Source: "bench",
			Payload:   fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, pad),
			Timestamp: time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC),
		})
	}
	return events
}

func rawLayoutDB(b *testing.B, dir, schema string) *sql.DB {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "raw.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	if _, err := db.Exec(schema); err != nil {
		b.Fatal(err)
	}
	return db
}

func naiveLayout(b *testing.B, dir string) writeFunc {
	db := rawLayoutDB(b, dir, `CREATE TABLE events (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, event_id TEXT NOT NULL,
		source TEXT NOT NULL, payload BLOB NOT NULL, timestamp TEXT, received_at INTEGER NOT NULL, UNIQUE (topic, event_id))`)
	return func(events []domain.Event) (bool, error) {
		tx, err := db.Begin()
		if err != nil {
			return false, err
		}
		defer tx.Rollback()
		st, err := tx.Prepare(`INSERT OR IGNORE INTO events (topic, event_id, source, payload, timestamp, received_at) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return false, err
		}
		now := time.Now().UnixNano()
		for _, e := range events {
			if _, err := st.Exec(e.Topic, e.EventID, e.Source, e.Payload, e.Timestamp.Format(time.RFC3339Nano), now); err != nil {
				return false, err
			}
		}
		return false, tx.Commit()
	}
}

func uniqueIndexLayout(b *testing.B, dir string) writeFunc {
	db := rawLayoutDB(b, dir, `CREATE TABLE events (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, event_id TEXT NOT NULL,
		source TEXT NOT NULL, payload BLOB NOT NULL, payload_digest INTEGER NOT NULL, timestamp TEXT, received_at INTEGER NOT NULL);
		CREATE UNIQUE INDEX events_key ON events (topic, event_id);
		CREATE INDEX events_topic_seq ON events (topic, seq);
		CREATE TABLE topic_stats (topic TEXT PRIMARY KEY, received INTEGER NOT NULL, accepted INTEGER NOT NULL,
			dropped INTEGER NOT NULL, conflicts INTEGER NOT NULL) WITHOUT ROWID;
		PRAGMA cache_size = -32768`)
	return func(events []domain.Event) (bool, error) {
		tx, err := db.Begin()
		if err != nil {
			return false, err
		}
		defer tx.Rollback()
		ins, err := tx.Prepare(`INSERT INTO events (topic, event_id, source, payload, payload_digest, timestamp, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (topic, event_id) DO NOTHING`)
		if err != nil {
			return false, err
		}
		look, err := tx.Prepare(`SELECT seq, payload_digest FROM events WHERE topic = ? AND event_id = ?`)
		if err != nil {
			return false, err
		}
		now := time.Now().UnixNano()
		outcomes := make([]domain.Outcome, len(events))
		for i, e := range events {
			digest := domain.PayloadDigest(e.Payload)
			res, err := ins.Exec(e.Topic, e.EventID, e.Source, e.Payload, digest, e.Timestamp.Format(time.RFC3339Nano), now)
			if err != nil {
				return false, err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				seq, _ := res.LastInsertId()
				outcomes[i] = domain.Outcome{Status: domain.Accepted, Seq: seq}
				continue
			}
			var stored int64
			if err := look.QueryRow(e.Topic, e.EventID).Scan(&outcomes[i].Seq, &stored); err != nil {
				return false, err
			}
			outcomes[i].Status = domain.Classify(stored, digest)
		}
		for topic, c := range domain.CountByTopic(events, outcomes) {
			if _, err := tx.Exec(`INSERT INTO topic_stats VALUES (?, ?, ?, ?, ?) ON CONFLICT (topic) DO UPDATE SET
				received = received + excluded.received, accepted = accepted + excluded.accepted,
				dropped = dropped + excluded.dropped, conflicts = conflicts + excluded.conflicts`,
				topic, c.Received, c.Accepted, c.Dropped, c.Conflicts); err != nil {
				return false, err
			}
		}
		return false, tx.Commit()
	}
}

func repoLayout(opts sqlite.Options) func(b *testing.B, dir string) writeFunc {
	return func(b *testing.B, dir string) writeFunc {
		r := openWith(b, dir, opts)
		return func(events []domain.Event) (bool, error) {
			_, frozen, _ := r.IndexState()
			_, err := r.Append(context.Background(), events, time.Now())
			return frozen > 0, err
		}
	}
}
