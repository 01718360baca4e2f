package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// BenchmarkPublish measures Service.Publish (validation, group commit and
// counting) with many concurrent callers over an in-memory store, so that
// the service's own overhead shows.
func BenchmarkPublish(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			svc := app.New(memory.New(), app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			b.Cleanup(svc.Close)
			topics := make([]string, 10)
			for i := range topics {
				topics[i] = fmt.Sprintf("bench-%d", i)
			}
			payload := []byte(`{"n":1,"user_id":"u_00001","amount":37,"pad":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"}`)
			var next atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			began := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				events := make([]domain.Event, batch)
				for pb.Next() {
					first := next.Add(int64(batch)) - int64(batch)
					for i := range events {
						n := first + int64(i)
						events[i] = domain.Event{Topic: topics[n%10], EventID: "evt-" + strconv.FormatInt(n, 10),
							Source: "bench", Payload: payload}
					}
					if _, err := svc.Publish(ctx, events); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(next.Load())/time.Since(began).Seconds(), "events/s")
		})
	}
}

// BenchmarkPublishWithTails measures what open live tails cost publishers:
// tails=0 is the baseline of the same run.
func BenchmarkPublishWithTails(b *testing.B) {
	for _, tails := range []int{0, 8} {
		b.Run(fmt.Sprintf("tails=%d", tails), func(b *testing.B) {
			svc := app.New(memory.New(), app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			b.Cleanup(svc.Close)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var read atomic.Int64
			for range tails {
				tail := svc.Tail(app.TailQuery{})
				defer tail.Close()
				go func() {
					for {
						events, err := tail.Next(ctx)
						if err != nil {
							return
						}
						read.Add(int64(len(events)))
					}
				}()
			}
			payload := []byte(`{"n":1,"user_id":"u_00001","amount":37,"pad":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"}`)
			var next atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			began := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				events := make([]domain.Event, 100)
				for pb.Next() {
					first := next.Add(100) - 100
					for i := range events {
						events[i] = domain.Event{Topic: "bench", EventID: "evt-" + strconv.FormatInt(first+int64(i), 10),
							Source: "bench", Payload: payload}
					}
					if _, err := svc.Publish(context.Background(), events); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(next.Load())/time.Since(began).Seconds(), "events/s")
		})
	}
}
