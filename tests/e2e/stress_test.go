package e2e_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestStress is the seed service's stress test, run on the image: 5000
// events, a quarter of them duplicates, sent as single events and batches by
// 16 publishers at once. Every count must come out exact.
func TestStress(t *testing.T) {
	requireDocker(t)
	const (
		topics     = 5
		unique     = 3750
		conflicts  = 50   // keys sent a second time with another payload
		exactDups  = 1200 // resends of a key with the same payload
		total      = unique + conflicts + exactDups
		publishers = 16
	)
	rng := rand.New(rand.NewPCG(1, 2))

	sends := make([]event, 0, total)
	for i := range unique {
		sends = append(sends, event{
			Topic:   fmt.Sprintf("stress-%d", i%topics),
			EventID: fmt.Sprintf("evt-%05d", i),
			Source:  "e2e-stress",
			Payload: []byte(fmt.Sprintf(`{"n":%d,"kind":"original"}`, i)),
		})
	}
	// The first keys get one conflicting copy each and no exact resend, so
	// that however the sends race, each of them counts exactly one conflict.
	for i := range conflicts {
		c := sends[i]
		c.Payload = []byte(fmt.Sprintf(`{"n":%d,"kind":"conflicting"}`, i))
		sends = append(sends, c)
	}
	for range exactDups {
		sends = append(sends, sends[conflicts+rng.IntN(unique-conflicts)])
	}
	rng.Shuffle(len(sends), func(i, j int) { sends[i], sends[j] = sends[j], sends[i] })

	// Mostly single events, some batches of 2 to 100 (where a key may even
	// meet its own duplicate).
	var chunks [][]event
	for rest := sends; len(rest) > 0; {
		n := 1
		if rng.IntN(10) >= 8 {
			n = 2 + rng.IntN(99)
		}
		n = min(n, len(rest))
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	singles := 0
	for _, c := range chunks {
		if len(c) == 1 {
			singles++
		}
	}
	t.Logf("%d events (%d duplicates, %d conflicting) in %d requests, %d of them single events, %d publishers",
		total, total-unique, conflicts, len(chunks), singles, publishers)

	agg := mustStartAggregator(t, newDataDir(t))
	type outcome struct {
		ev     event
		status string
		seq    int64
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		sums     publishResult
		wg       sync.WaitGroup
	)
	work := make(chan []event)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	for range publishers {
		wg.Go(func() {
			for chunk := range work {
				res, err := agg.publish(ctx, encode(chunk, asArray(chunk)))
				if err != nil {
					t.Errorf("publish %d events: %v", len(chunk), err)
					cancel()
					continue
				}
				if res.Received != len(chunk) || len(res.Results) != len(chunk) ||
					res.Accepted+res.Duplicates != len(chunk) {
					t.Errorf("publish %d events: received=%d accepted=%d duplicates=%d results=%d",
						len(chunk), res.Received, res.Accepted, res.Duplicates, len(res.Results))
					continue
				}
				mu.Lock()
				sums.Received += res.Received
				sums.Accepted += res.Accepted
				sums.Duplicates += res.Duplicates
				sums.Conflicts += res.Conflicts
				for i, r := range res.Results {
					if r.Topic != chunk[i].Topic || r.EventID != chunk[i].EventID {
						t.Errorf("result %d is about %s/%s, want %s/%s", i, r.Topic, r.EventID, chunk[i].Topic, chunk[i].EventID)
					}
					outcomes = append(outcomes, outcome{chunk[i], r.Status, r.Seq})
				}
				mu.Unlock()
			}
		})
	}
	for _, c := range chunks {
		select {
		case work <- c:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("published in %v (%.0f events/s)", elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())

	// What the 202 answers said.
	if sums.Received != total || sums.Accepted != unique || sums.Duplicates != total-unique || sums.Conflicts != conflicts {
		t.Errorf("sum of answers: received=%d accepted=%d duplicates=%d conflicts=%d, want %d %d %d %d",
			sums.Received, sums.Accepted, sums.Duplicates, sums.Conflicts, total, unique, total-unique, conflicts)
	}
	accepted := map[key]outcome{}
	for _, o := range outcomes {
		switch o.status {
		case "accepted":
			if prev, ok := accepted[o.ev.key()]; ok {
				t.Errorf("%v accepted twice, as seq %d and %d", o.ev.key(), prev.seq, o.seq)
			}
			accepted[o.ev.key()] = o
		case "duplicate", "conflict":
		default:
			t.Errorf("%v: unknown status %q", o.ev.key(), o.status)
		}
	}

	// What /stats says.
	want := counters{Received: total, UniqueProcessed: unique, DuplicateDropped: total - unique, DuplicateConflicts: conflicts}
	st := agg.mustStats()
	wantCounters(t, "stats", st.counters, want)
	wantCounters(t, "lifetime stats", st.Lifetime, want)
	if st.StoredEvents != unique {
		t.Errorf("stored_events = %d, want %d", st.StoredEvents, unique)
	}
	perTopic := map[string]counters{}
	for _, ev := range sends {
		c := perTopic[ev.Topic]
		c.Received++
		perTopic[ev.Topic] = c
	}
	for i := range unique {
		topic := fmt.Sprintf("stress-%d", i%topics)
		c := perTopic[topic]
		c.UniqueProcessed++
		if i < conflicts {
			c.DuplicateConflicts++
		}
		perTopic[topic] = c
	}
	if len(st.PerTopic) != topics {
		t.Errorf("per_topic has %d topics, want %d", len(st.PerTopic), topics)
	}
	for topic, w := range perTopic {
		w.DuplicateDropped = w.Received - w.UniqueProcessed
		got := st.PerTopic[topic]
		wantCounters(t, "per_topic "+topic, got.counters, w)
		if got.StoredEvents != w.UniqueProcessed {
			t.Errorf("per_topic %s stored_events = %d, want %d", topic, got.StoredEvents, w.UniqueProcessed)
		}
	}

	// What /events lists: every key once, with the payload that won.
	listed := agg.mustListEvents("", 500)
	if len(listed) != unique {
		t.Errorf("GET /events lists %d events, want %d", len(listed), unique)
	}
	seen := map[key]bool{}
	for _, e := range listed {
		if seen[e.key()] {
			t.Errorf("GET /events lists %v twice", e.key())
		}
		seen[e.key()] = true
		o, ok := accepted[e.key()]
		switch {
		case !ok:
			t.Errorf("GET /events lists %v, which no answer accepted", e.key())
		case o.seq != e.Seq || !sameJSON(o.ev.Payload, e.Payload):
			t.Errorf("%v: listed seq=%d payload=%s, accepted as seq=%d payload=%s", e.key(), e.Seq, e.Payload, o.seq, o.ev.Payload)
		}
	}
	topic := "stress-3"
	if got, want := len(agg.mustListEvents(topic, 100)), int(st.PerTopic[topic].StoredEvents); got != want {
		t.Errorf("GET /events?topic=%s lists %d events, want %d", topic, got, want)
	}
}

// asArray decides, from the chunk itself, whether a lone event goes as an
// object or as a one-element array, so that both forms are sent.
func asArray(chunk []event) bool {
	h := fnv.New32a()
	h.Write([]byte(chunk[0].EventID))
	return len(chunk) == 1 && h.Sum32()%4 == 0
}
