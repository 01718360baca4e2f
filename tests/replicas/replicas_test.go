package replicas_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/postgres/pgtest"
)

// startReplicas starts n servers on one database at the same moment, so that
// they also race to migrate it.
func startReplicas(t testing.TB, dsn string, n int) []*server {
	t.Helper()
	servers := make([]*server, n)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() {
			servers[i] = startServer(t, "AGGREGATOR_STORE=postgres", "AGGREGATOR_POSTGRES_DSN="+dsn, "AGGREGATOR_POSTGRES_MAX_CONNS=4")
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return servers
}

func TestReplicasShareOneStore(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	replicas := startReplicas(t, dsn, 3)
	ctx := context.Background()

	const total, batch = 3000, 100
	all := newEvents("ev", total, 1)

	var (
		mu       sync.Mutex
		sentTo   = make([]int64, len(replicas))
		accepted = map[string]int{}   // topic/event_id -> times accepted
		seqOf    = map[string]int64{} // topic/event_id -> seq every result reports
		failures []string
	)
	record := func(r int, events []event, res publishResult, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failures = append(failures, err.Error())
			return
		}
		sentTo[r] += int64(len(events))
		for i, o := range res.Results {
			k := events[i].Topic + "/" + events[i].EventID
			if o.Topic != events[i].Topic || o.EventID != events[i].EventID {
				failures = append(failures, fmt.Sprintf("result %d names %s/%s, want %s", i, o.Topic, o.EventID, k))
			}
			switch o.Status {
			case "accepted":
				accepted[k]++
			case "duplicate":
			default:
				failures = append(failures, fmt.Sprintf("%s: status %s", k, o.Status))
			}
			if s, ok := seqOf[k]; ok && s != o.Seq {
				failures = append(failures, fmt.Sprintf("%s: seq %d, earlier %d", k, o.Seq, s))
			}
			seqOf[k] = o.Seq
		}
	}

	// A reader follows GET /events on one replica while the writes run: with
	// seqs committed out of order it would step over late rows.
	writesDone := make(chan struct{})
	tailed := make(chan []event, 1)
	go func() {
		var seen []event
		var after int64
		done := false
		for {
			page, err := listPage(replicas[0].URL, after, 500)
			if err != nil {
				mu.Lock()
				failures = append(failures, "tail: "+err.Error())
				mu.Unlock()
				tailed <- seen
				return
			}
			seen = append(seen, page...)
			if len(page) > 0 {
				after = page[len(page)-1].Seq
				continue
			}
			if done {
				tailed <- seen
				return
			}
			select {
			case <-writesDone:
				done = true // one more empty page after the last write
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	var wg sync.WaitGroup
	// Pairs: the same batch goes to two replicas at the same moment.
	pairs := make(chan int)
	for range 3 {
		wg.Go(func() {
			for b := range pairs {
				events := all[b*batch : (b+1)*batch]
				start := make(chan struct{})
				var pair sync.WaitGroup
				for _, r := range []int{b % 3, (b + 1) % 3} {
					pair.Go(func() {
						<-start
						res, err := publish(ctx, replicas[r].URL, events)
						record(r, events, res, err)
					})
				}
				close(start)
				pair.Wait()
			}
		})
	}
	// Sweeps: each replica also gets every event once more, from its own
	// offset and in windows that straddle the pairs' batches.
	for r := range replicas {
		wg.Go(func() {
			const window = 250
			for start := 0; start < total; start += window {
				var events []event
				for i := start; i < start+window && i < total; i++ {
					events = append(events, all[(i+r*1037)%total])
				}
				res, err := publish(ctx, replicas[r].URL, events)
				record(r, events, res, err)
			}
		})
	}
	for b := range total / batch {
		pairs <- b
	}
	close(pairs)
	wg.Wait()
	close(writesDone)
	seen := <-tailed

	for _, f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Every event accepted exactly once, over all replicas.
	if len(accepted) != total {
		t.Errorf("%d distinct events accepted, want %d", len(accepted), total)
	}
	for k, n := range accepted {
		if n != 1 {
			t.Errorf("%s accepted %d times", k, n)
		}
	}

	// Every replica lists the same events, each at the seq the results named.
	first := listAll(t, replicas[0].URL)
	if len(first) != total {
		t.Fatalf("replica 0 lists %d events, want %d", len(first), total)
	}
	for i, e := range first {
		if i > 0 && e.Seq <= first[i-1].Seq {
			t.Fatalf("seq %d listed after %d", e.Seq, first[i-1].Seq)
		}
		if k := e.Topic + "/" + e.EventID; seqOf[k] != e.Seq {
			t.Fatalf("%s listed with seq %d, publish reported %d", k, e.Seq, seqOf[k])
		}
	}
	for r, s := range replicas[1:] {
		if got := listAll(t, s.URL); !reflect.DeepEqual(got, first) {
			t.Errorf("replica %d lists %d events that differ from replica 0's", r+1, len(got))
		}
	}

	// The tailing reader saw every event once, in seq order.
	if len(seen) != total {
		t.Errorf("tailing reader saw %d events, want %d", len(seen), total)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].Seq <= seen[i-1].Seq {
			t.Fatalf("tailing reader: seq %d after %d", seen[i].Seq, seen[i-1].Seq)
		}
	}

	// Lifetime counters come from the shared store; the top-level ones are
	// each replica's own since it started.
	var sent int64
	for _, n := range sentTo {
		sent += n
	}
	want := counters{Received: sent, UniqueProcessed: total, DuplicateDropped: sent - total}
	var sinceStart counters
	base := getStats(t, replicas[0].URL)
	for r, s := range replicas {
		st := getStats(t, s.URL)
		if st.Lifetime != want {
			t.Errorf("replica %d lifetime = %+v, want %+v", r, st.Lifetime, want)
		}
		if !reflect.DeepEqual(st.PerTopic, base.PerTopic) || st.StoredEvents != total {
			t.Errorf("replica %d per_topic = %+v (stored %d), replica 0 has %+v", r, st.PerTopic, st.StoredEvents, base.PerTopic)
		}
		if st.Received != sentTo[r] {
			t.Errorf("replica %d since-start received = %d, it was sent %d", r, st.Received, sentTo[r])
		}
		sinceStart.Received += st.Received
		sinceStart.UniqueProcessed += st.UniqueProcessed
		sinceStart.DuplicateDropped += st.DuplicateDropped
		sinceStart.DuplicateConflicts += st.DuplicateConflicts
	}
	if sinceStart != want {
		t.Errorf("since-start counters summed over replicas = %+v, want %+v", sinceStart, want)
	}
	t.Logf("%d events, %d publishes in total over %d replicas (%v each)", total, sent, len(replicas), sentTo)
}
