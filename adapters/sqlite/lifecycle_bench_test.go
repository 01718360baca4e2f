package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// BenchmarkLifecycleStep measures how long one step of the background task
// holds the writer, which is how long a publish may wait behind it: purging
// 200 (the default step) or 500 events, and forgetting as many keys, in a store of 200,000
// events. Compare
// with BenchmarkAppend (a group commit of 500 events) from the same run.
func BenchmarkLifecycleStep(b *testing.B) {
	const size = 200_000
	ctx := context.Background()
	for _, c := range []struct {
		kind string
		step int
	}{{"purge", 200}, {"purge", 500}, {"forget", 200}, {"forget", 500}} {
		kind, step := c.kind, c.step
		b.Run(fmt.Sprintf("%s/step=%d", kind, step), func(b *testing.B) {
			r := mustOpen(b, b.TempDir())
			at := time.Now()
			next := 0
			fill := func() {
				for range size / step {
					batch := benchEvents(next, step)
					next += step
					if _, err := r.Append(ctx, batch, at); err != nil {
						b.Fatal(err)
					}
				}
			}
			fill()
			do := r.PurgeEvents
			if kind == "forget" {
				do = r.ForgetKeys
			}
			for b.Loop() {
				n, err := do(ctx, at.Add(time.Second), step)
				if err != nil {
					b.Fatal(err)
				}
				if n < step {
					b.StopTimer()
					if kind == "purge" {
						if _, err := r.ForgetKeys(ctx, at.Add(time.Second), size); err != nil {
							b.Fatal(err)
						}
					}
					fill()
					b.StartTimer()
				}
			}
		})
	}
}

func benchEvents(from, n int) []domain.Event {
	out := make([]domain.Event, n)
	for i := range out {
		out[i] = benchEvent(from + i)
	}
	return out
}
