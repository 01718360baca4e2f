package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/app"
)

// BenchmarkListTimeWindow reads a page of 100 events starting in the middle
// of a store of 200,000, once by received time (since) and once by seq
// cursor (after), the baseline. The time window becomes a seq range by a
// binary search over the primary key, so the two should differ by a few
// dozen key lookups, whatever the store's size, not by a scan.
func BenchmarkListTimeWindow(b *testing.B) {
	const size, group = 200_000, 500
	ctx := context.Background()
	r := mustOpen(b, b.TempDir())
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var midSeq int64
	for g := range size / group {
		out, err := r.Append(ctx, benchEvents(g*group, group), t0.Add(time.Duration(g)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		if g == size/group/2 {
			midSeq = out[0].Seq - 1
		}
	}
	mid := t0.Add(time.Duration(size/group/2) * time.Second)
	for _, c := range []struct {
		name string
		q    app.ListQuery
	}{
		{"after", app.ListQuery{After: midSeq, Limit: 100}},
		{"since", app.ListQuery{Since: mid, Limit: 100}},
		{"since+until", app.ListQuery{Since: mid, Until: mid.Add(time.Minute), Limit: 100}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				page, err := r.List(ctx, c.q)
				if err != nil || len(page) != 100 || page[0].Seq != midSeq+1 {
					b.Fatalf("page of %d events, %v; want 100 from seq %d", len(page), err, midSeq+1)
				}
			}
		})
	}
}
