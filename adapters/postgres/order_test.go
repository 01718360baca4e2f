package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/postgres/pgtest"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// A reader that follows the seq cursor while several writers (think
// replicas) append must see every event: a row may not become visible
// after a reader has already paged past its seq.
func TestListCursorSkipsNothingUnderConcurrentAppends(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	const writers, batches, batch = 4, 25, 40
	repos := make([]app.EventRepository, writers)
	for i := range repos {
		repos[i] = mustOpen(t, dsn) // one pool each, like separate replicas
	}
	reader := mustOpen(t, dsn)

	done := make(chan struct{})
	seen := make(chan []domain.StoredEvent, 1)
	go func() {
		var all []domain.StoredEvent
		var after int64
		finished := false
		for {
			page, err := reader.List(ctx, app.ListQuery{After: after, Limit: 50})
			if err != nil {
				t.Error(err)
				break
			}
			all = append(all, page...)
			if len(page) > 0 {
				after = page[len(page)-1].Seq
				continue
			}
			if finished {
				break
			}
			select {
			case <-done:
				finished = true
			case <-time.After(time.Millisecond):
			}
		}
		seen <- all
	}()

	var wg sync.WaitGroup
	for w, r := range repos {
		wg.Go(func() {
			for b := range batches {
				events := make([]domain.Event, batch)
				for i := range events {
					events[i] = apptest.NewEvent(fmt.Sprintf("t%d", i%3), fmt.Sprintf("w%d-b%d-%d", w, b, i), i)
				}
				if _, err := r.Append(ctx, events, apptest.ReceiveTime); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	all := <-seen
	if want := writers * batches * batch; len(all) != want {
		t.Fatalf("the tailing reader saw %d events, want %d", len(all), want)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Fatalf("seq %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}
}
