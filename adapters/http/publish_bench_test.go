package http

import (
	"fmt"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// publishBody returns a POST /publish body of n events with payloads of
// about 100 bytes: one object when n is 1, else an array.
func publishBody(n int) []byte {
	var b []byte
	if n > 1 {
		b = append(b, '[')
	}
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"topic":"bench-%d","event_id":"6f1c2b7e-4a5d-4c3b-9e8f-%012d","source":"bench",`+
			`"timestamp":"2025-01-02T15:04:05.123Z","payload":{"n":%d,"user_id":"u_%05d","amount":%d,"pad":"%s"}}`,
			i%10, i, i, i%100000, i*37%1000000, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV")
	}
	if n > 1 {
		b = append(b, ']')
	}
	return b
}

// BenchmarkDecodePublish measures what POST /publish does to a body before
// the app stores it: decoding it into events and validating each.
func BenchmarkDecodePublish(b *testing.B) {
	for _, n := range []int{1, 500} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			body := publishBody(n)
			limits := domain.DefaultLimits()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				events, _, err := decodePublish(body, DefaultMaxBatch)
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range events {
					if err := e.Validate(limits); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
