package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// benchEvent returns event i of a benchmark run, with a payload of about
// 100 bytes.
func benchEvent(i int) domain.Event {
	return domain.Event{
		Topic:   fmt.Sprintf("bench-%d", i%10),
		EventID: fmt.Sprintf("6f1c2b7e-4a5d-4c3b-9e8f-%012d", i),
		Source:  "bench",
		Payload: fmt.Appendf(nil, `{"n":%d,"user_id":"u_%05d","amount":%d,"pad":"%s"}`,
			i, i%100000, i*37%1000000, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"),
		Timestamp: time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC),
	}
}

// BenchmarkAppend measures one group commit of 500 events into a store on
// disk, as the committer issues it. With duplicates, a fifth of each batch
// repeats events of the previous one.
func BenchmarkAppend(b *testing.B) {
	const batch = 500
	for _, dupShare := range []int{0, 20} {
		// No "%" in the name: it becomes part of the temp dir, and Open puts
		// the path into a file: URI unescaped.
		b.Run(fmt.Sprintf("batch=%d/duplicates=%dpct", batch, dupShare), func(b *testing.B) {
			r := mustOpen(b, b.TempDir())
			ctx := context.Background()
			now := time.Now()
			dups := batch * dupShare / 100
			events := make([]domain.Event, batch)
			next := 0
			for b.Loop() {
				b.StopTimer()
				for i := range events {
					if i < dups && next >= batch {
						events[i] = benchEvent(next - batch + i)
						continue
					}
					events[i] = benchEvent(next)
					next++
				}
				b.StartTimer()
				if _, err := r.Append(ctx, events, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
