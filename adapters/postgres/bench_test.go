package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uts-aggregator/uts-aggregator/adapters/postgres/pgtest"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// benchEvents is how many events each measurement writes
// (AGGREGATOR_BENCH_EVENTS, default 50000).
func benchEvents(tb testing.TB) int {
	if v := os.Getenv("AGGREGATOR_BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			tb.Fatalf("AGGREGATOR_BENCH_EVENTS=%q: want a number of at least 1000", v)
		}
		return n / 1000 * 1000
	}
	return 50000
}

// benchPayload is the payload of every benchmark event, about 100 bytes.
const benchPayload = `{"amount":50000,"user_id":"u_001","note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`

func benchBatches(prefix string, n, size int) [][]domain.Event {
	var out [][]domain.Event
	for start := 0; start < n; start += size {
		b := make([]domain.Event, size)
		for i := range b {
			b[i] = domain.Event{Topic: fmt.Sprintf("topic-%d", (start+i)%10), EventID: fmt.Sprintf("%s-%09d", prefix, start+i),
				Source: "bench", Payload: []byte(benchPayload)}
		}
		out = append(out, b)
	}
	return out
}

// report prints one result line for scripts/bench-postgres.sh.
func report(name string, events int, d time.Duration) {
	fmt.Printf("BENCH %s events=%d seconds=%.3f rate=%.0f\n", name, events, d.Seconds(), float64(events)/d.Seconds())
}

// BenchmarkInsert measures, on a fresh database each, the raw multi-row
// INSERT ... ON CONFLICT DO NOTHING in batches of 1000 through pgx, and the
// repository's Append with one writer and with three. It runs each case once,
// whatever b.N is: use -benchtime 1x; see scripts/bench-postgres.sh.
func BenchmarkInsert(b *testing.B) {
	n := benchEvents(b)
	ctx := context.Background()

	b.Run("RawValues", func(b *testing.B) {
		dsn := pgtest.NewDatabase(b)
		mustOpen(b, dsn).Close() // creates the schema
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		const size = 1000
		var sqlText strings.Builder
		sqlText.WriteString("INSERT INTO events (topic, event_id, source, payload, payload_digest, timestamp, received_at) VALUES ")
		for i := range size {
			if i > 0 {
				sqlText.WriteString(", ")
			}
			fmt.Fprintf(&sqlText, "($%d, $%d, $%d, $%d, $%d, $%d, $%d)", 7*i+1, 7*i+2, 7*i+3, 7*i+4, 7*i+5, 7*i+6, 7*i+7)
		}
		sqlText.WriteString(" ON CONFLICT (topic, event_id) DO NOTHING")
		var argSets [][]any
		recv := time.Now().UnixNano()
		for _, b := range benchBatches("raw", n, size) {
			args := make([]any, 0, 7*size)
			for _, e := range b {
				args = append(args, e.Topic, e.EventID, e.Source, e.Payload, domain.PayloadDigest(e.Payload), nil, recv)
			}
			argSets = append(argSets, args)
		}
		start := time.Now()
		for _, args := range argSets {
			if _, err := conn.Exec(ctx, sqlText.String(), args...); err != nil {
				b.Fatal(err)
			}
		}
		report("raw_insert_values_1conn_batch1000", n, time.Since(start))
	})

	b.Run("RawUnnest", func(b *testing.B) {
		// The same rows as seven array parameters: one short statement that
		// pgx prepares once, the form the repository's write path uses.
		dsn := pgtest.NewDatabase(b)
		mustOpen(b, dsn).Close()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		const q = `INSERT INTO events (topic, event_id, source, payload, payload_digest, timestamp, received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::text[], $7::bigint[])
ON CONFLICT (topic, event_id) DO NOTHING`
		recv := time.Now().UnixNano()
		var argSets [][]any
		for _, b := range benchBatches("rawu", n, 1000) {
			var topics, ids, sources []string
			var payloads [][]byte
			var digests, recvs []int64
			stamps := make([]*string, len(b))
			for _, e := range b {
				topics, ids, sources = append(topics, e.Topic), append(ids, e.EventID), append(sources, e.Source)
				payloads, digests, recvs = append(payloads, e.Payload), append(digests, domain.PayloadDigest(e.Payload)), append(recvs, recv)
			}
			argSets = append(argSets, []any{topics, ids, sources, payloads, digests, stamps, recvs})
		}
		start := time.Now()
		for _, args := range argSets {
			if _, err := conn.Exec(ctx, q, args...); err != nil {
				b.Fatal(err)
			}
		}
		report("raw_insert_unnest_1conn_batch1000", n, time.Since(start))
	})

	appendAll := func(b testing.TB, repos []app.EventRepository, prefix string) time.Duration {
		batches := benchBatches(prefix, n, 1000)
		var wg sync.WaitGroup
		next := make(chan []domain.Event, len(batches))
		for _, batch := range batches {
			next <- batch
		}
		close(next)
		start := time.Now()
		for _, r := range repos {
			wg.Go(func() {
				for batch := range next {
					if _, err := r.Append(ctx, batch, time.Now()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}

	b.Run("Append1Writer", func(b *testing.B) {
		r := mustOpen(b, pgtest.NewDatabase(b))
		report("append_1writer_batch1000", n, appendAll(b, []app.EventRepository{r}, "a1"))
	})
	b.Run("Append3WritersOrdered", func(b *testing.B) {
		dsn := pgtest.NewDatabase(b)
		repos := []app.EventRepository{mustOpen(b, dsn), mustOpen(b, dsn), mustOpen(b, dsn)}
		report("append_3writers_ordered_batch1000", n, appendAll(b, repos, "a3"))
	})
}
