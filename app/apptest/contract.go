// Package apptest holds the contract suite that every app.EventRepository
// must pass, so all stores behave the same behind the port.
package apptest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// Store tells the contract suite how to get repositories of one kind.
type Store struct {
	// New returns an empty repository, cleaned up when tb ends.
	New func(tb testing.TB) app.EventRepository
	// Reopen closes repo and opens the same underlying store again. Nil for
	// stores that keep nothing across a close.
	Reopen func(tb testing.TB, repo app.EventRepository) app.EventRepository
}

// ReceiveTime is the receive time of the events the suite stores (Append's
// receivedAt, loaded events' ReceivedAt); stores must give it back to the
// nanosecond.
var ReceiveTime = time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC)

// NewEvent returns a valid event with a payload that depends on n.
func NewEvent(topic, id string, n int) domain.Event {
	return domain.Event{Topic: topic, EventID: id, Source: "contract", Payload: fmt.Appendf(nil, `{"n":%d}`, n)}
}

// RunRepositoryContract runs the store contract against s.
func RunRepositoryContract(t *testing.T, s Store) {
	ctx := context.Background()

	t.Run("AcceptThenDuplicate", func(t *testing.T) {
		r := s.New(t)
		first := mustAppend(t, r, NewEvent("orders", "e1", 1))
		again := mustAppend(t, r, NewEvent("orders", "e1", 1))
		wantOutcomes(t, first, domain.Outcome{Status: domain.Accepted, Seq: first[0].Seq})
		wantOutcomes(t, again, domain.Outcome{Status: domain.Duplicate, Seq: first[0].Seq})
		if first[0].Seq <= 0 {
			t.Fatalf("seq = %d, want > 0", first[0].Seq)
		}
	})

	t.Run("SameIDInTwoTopics", func(t *testing.T) {
		r := s.New(t)
		out := mustAppend(t, r, NewEvent("a", "same", 1), NewEvent("b", "same", 1))
		if out[0].Status != domain.Accepted || out[1].Status != domain.Accepted || out[0].Seq == out[1].Seq {
			t.Fatalf("outcomes = %+v, want two accepted with distinct seqs", out)
		}
	})

	t.Run("ConflictKeepsFirstPayload", func(t *testing.T) {
		r := s.New(t)
		first := mustAppend(t, r, NewEvent("t", "k", 1))
		changed := mustAppend(t, r, NewEvent("t", "k", 2))
		respaced := NewEvent("t", "k", 1)
		respaced.Payload = []byte("{ \"n\" : 1 }")
		spaced := mustAppend(t, r, respaced)
		wantOutcomes(t, changed, domain.Outcome{Status: domain.Conflict, Seq: first[0].Seq})
		wantOutcomes(t, spaced, domain.Outcome{Status: domain.Duplicate, Seq: first[0].Seq})
		got, err := r.Get(ctx, domain.Key{Topic: "t", EventID: "k"})
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Payload) != `{"n":1}` {
			t.Fatalf("stored payload = %s, want the first one", got.Payload)
		}
	})

	t.Run("RepeatsInsideOneAppend", func(t *testing.T) {
		r := s.New(t)
		out := mustAppend(t, r,
			NewEvent("t", "a", 1), NewEvent("t", "b", 1), NewEvent("t", "a", 1), NewEvent("t", "a", 9), NewEvent("t", "b", 1))
		a, b := out[0].Seq, out[1].Seq
		wantOutcomes(t, out,
			domain.Outcome{Status: domain.Accepted, Seq: a}, domain.Outcome{Status: domain.Accepted, Seq: b},
			domain.Outcome{Status: domain.Duplicate, Seq: a}, domain.Outcome{Status: domain.Conflict, Seq: a},
			domain.Outcome{Status: domain.Duplicate, Seq: b})
		wantTopics(t, r, app.TopicStats{Topic: "t", Counters: domain.Counters{Received: 5, Accepted: 2, Dropped: 3, Conflicts: 1}})
		if got := listAll(t, r, "", 100); len(got) != 2 {
			t.Fatalf("stored %d events, want 2", len(got))
		}
	})

	t.Run("SeqsFollowRequestOrder", func(t *testing.T) {
		// GET /events promises processing order: within one Append that is
		// the order of the events in the slice, whatever their keys.
		r := s.New(t)
		batch := []domain.Event{NewEvent("b", "z", 1), NewEvent("b", "m", 2), NewEvent("a", "y", 3),
			NewEvent("b", "z", 1), NewEvent("a", "b", 4), NewEvent("0", "9", 5)}
		out := mustAppend(t, r, batch...)
		var want []string
		var last int64
		for i, o := range out {
			if o.Status != domain.Accepted {
				continue
			}
			if o.Seq <= last {
				t.Fatalf("event %d (%s/%s) got seq %d after %d: seqs must follow the request order",
					i, batch[i].Topic, batch[i].EventID, o.Seq, last)
			}
			last = o.Seq
			want = append(want, batch[i].Topic+"/"+batch[i].EventID)
		}
		var got []string
		for _, e := range listAll(t, r, "", 100) {
			got = append(got, e.Topic+"/"+e.EventID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("listed %v, want the request order %v", got, want)
		}
	})

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		r := s.New(t)
		withTime := domain.Event{Topic: "t", EventID: "x", Source: "src",
			Payload:   []byte("{ \"keep\" :\t[1, 2.50, \"é\"] }"),
			Timestamp: time.Date(2024, 12, 31, 23, 59, 58, 123456789, time.FixedZone("", 7*3600)),
		}
		noTime := NewEvent("t", "y", 1)
		out := mustAppend(t, r, withTime, noTime)
		for _, want := range []domain.Event{withTime, noTime} {
			got, err := r.Get(ctx, want.Key())
			if err != nil {
				t.Fatal(err)
			}
			if got.Topic != want.Topic || got.EventID != want.EventID || got.Source != want.Source ||
				string(got.Payload) != string(want.Payload) {
				t.Errorf("got %+v, want %+v", got.Event, want)
			}
			if !got.Timestamp.Equal(want.Timestamp) || got.Timestamp.IsZero() != want.Timestamp.IsZero() {
				t.Errorf("timestamp = %v, want %v", got.Timestamp, want.Timestamp)
			}
			_, gotOff := got.Timestamp.Zone()
			_, wantOff := want.Timestamp.Zone()
			if !want.Timestamp.IsZero() && gotOff != wantOff {
				t.Errorf("timestamp offset = %d, want %d", gotOff, wantOff)
			}
			if !got.ReceivedAt.Equal(ReceiveTime) {
				t.Errorf("received_at = %v, want %v", got.ReceivedAt, ReceiveTime)
			}
		}
		if got, err := r.Get(ctx, withTime.Key()); err != nil || got.Seq != out[0].Seq {
			t.Errorf("Get seq = %d (%v), want %d", got.Seq, err, out[0].Seq)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		r := s.New(t)
		mustAppend(t, r, NewEvent("t", "x", 1))
		for _, k := range []domain.Key{{Topic: "t", EventID: "nope"}, {Topic: "other", EventID: "x"}} {
			if _, err := r.Get(ctx, k); !errors.Is(err, app.ErrNotFound) {
				t.Errorf("Get(%v) error = %v, want ErrNotFound", k, err)
			}
		}
	})

	t.Run("ListPagesInSeqOrderPerTopic", func(t *testing.T) {
		r := s.New(t)
		var want = map[string][]string{}
		for i := range 25 {
			topic := []string{"red", "green", "blue"}[i%3]
			id := fmt.Sprintf("id-%02d", i)
			mustAppend(t, r, NewEvent(topic, id, i))
			want[topic] = append(want[topic], id)
			want[""] = append(want[""], id)
		}
		for topic, ids := range want {
			got := listAll(t, r, topic, 4)
			if len(got) != len(ids) {
				t.Fatalf("topic %q: listed %d events, want %d", topic, len(got), len(ids))
			}
			for i, e := range got {
				if e.EventID != ids[i] || (topic != "" && e.Topic != topic) {
					t.Fatalf("topic %q item %d = %s/%s, want %s", topic, i, e.Topic, e.EventID, ids[i])
				}
				if i > 0 && e.Seq <= got[i-1].Seq {
					t.Fatalf("topic %q: seq %d after %d, want increasing", topic, e.Seq, got[i-1].Seq)
				}
			}
		}
		if got, err := r.List(ctx, app.ListQuery{Topic: "none", Limit: 10}); err != nil || len(got) != 0 {
			t.Fatalf("unknown topic: %d events, err %v", len(got), err)
		}
	})

	t.Run("StatsPerTopic", func(t *testing.T) {
		r := s.New(t)
		if got, err := r.Stats(ctx); err != nil || len(got) != 0 {
			t.Fatalf("empty store stats = %v, %v", got, err)
		}
		mustAppend(t, r, NewEvent("b", "1", 1), NewEvent("a", "1", 1), NewEvent("b", "2", 1))
		mustAppend(t, r, NewEvent("b", "1", 1), NewEvent("b", "2", 5))
		wantTopics(t, r,
			app.TopicStats{Topic: "a", Counters: domain.Counters{Received: 1, Accepted: 1}},
			app.TopicStats{Topic: "b", Counters: domain.Counters{Received: 4, Accepted: 2, Dropped: 2, Conflicts: 1}})
	})

	t.Run("ConcurrentPublishersStoreEachEventOnce", func(t *testing.T) {
		r := s.New(t)
		const publishers, events, batch = 50, 1000, 100
		var all []domain.Event
		for i := range events {
			all = append(all, NewEvent(fmt.Sprintf("topic-%d", i%5), fmt.Sprintf("ev-%04d", i), i))
		}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			accepted = map[domain.Key]int{}
			errs     = make(chan error, publishers)
		)
		for p := range publishers {
			wg.Go(func() {
				// Each publisher walks the events from its own offset so that
				// batches overlap in many different ways.
				for start := 0; start < events; start += batch {
					var b []domain.Event
					for i := start; i < start+batch; i++ {
						b = append(b, all[(i+p*37)%events])
					}
					out, err := r.Append(ctx, b, ReceiveTime)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					for i, o := range out {
						if o.Status == domain.Accepted {
							accepted[b[i].Key()]++
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(accepted) != events {
			t.Fatalf("%d distinct events accepted, want %d", len(accepted), events)
		}
		for k, n := range accepted {
			if n != 1 {
				t.Fatalf("%v accepted %d times", k, n)
			}
		}
		var total domain.Counters
		stats, err := r.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range stats {
			total = total.Add(ts.Counters)
		}
		want := domain.Counters{Received: publishers * events, Accepted: events, Dropped: (publishers - 1) * events}
		if total != want {
			t.Fatalf("lifetime counters = %+v, want %+v", total, want)
		}
		if got := listAll(t, r, "", 1000); len(got) != events {
			t.Fatalf("listed %d events, want %d", len(got), events)
		}
	})

	t.Run("Lifecycle", func(t *testing.T) { runLifecycle(t, s) })

	if s.Reopen != nil {
		t.Run("ReopenKeepsEventsAndCounters", func(t *testing.T) {
			r := s.New(t)
			first := mustAppend(t, r, NewEvent("t", "1", 1), NewEvent("t", "2", 2), NewEvent("u", "1", 3))
			mustAppend(t, r, NewEvent("t", "1", 1), NewEvent("t", "2", 7))
			r = s.Reopen(t, r)
			again := mustAppend(t, r, NewEvent("t", "1", 1), NewEvent("u", "2", 4))
			wantOutcomes(t, again[:1], domain.Outcome{Status: domain.Duplicate, Seq: first[0].Seq})
			if again[1].Status != domain.Accepted || again[1].Seq <= first[2].Seq {
				t.Fatalf("new event after reopen: %+v, want accepted with seq > %d", again[1], first[2].Seq)
			}
			wantTopics(t, r,
				app.TopicStats{Topic: "t", Counters: domain.Counters{Received: 5, Accepted: 2, Dropped: 3, Conflicts: 1}},
				app.TopicStats{Topic: "u", Counters: domain.Counters{Received: 2, Accepted: 2}})
			if got := listAll(t, r, "", 10); len(got) != 4 {
				t.Fatalf("listed %d events after reopen, want 4", len(got))
			}
		})
	}
}

func mustAppend(tb testing.TB, r app.EventRepository, events ...domain.Event) []domain.Outcome {
	tb.Helper()
	out, err := r.Append(context.Background(), events, ReceiveTime)
	if err != nil {
		tb.Fatalf("Append: %v", err)
	}
	if len(out) != len(events) {
		tb.Fatalf("Append returned %d outcomes for %d events", len(out), len(events))
	}
	return out
}

func wantOutcomes(tb testing.TB, got []domain.Outcome, want ...domain.Outcome) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("outcomes = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			tb.Fatalf("outcome %d = %v seq %d, want %v seq %d", i, got[i].Status, got[i].Seq, want[i].Status, want[i].Seq)
		}
	}
}

func wantTopics(tb testing.TB, r app.EventRepository, want ...app.TopicStats) {
	tb.Helper()
	got, err := r.Stats(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		tb.Fatalf("topic stats = %+v, want %+v", got, want)
	}
}

// listAll follows the cursor through every page of a topic.
func listAll(tb testing.TB, r app.EventRepository, topic string, pageSize int) []domain.StoredEvent {
	tb.Helper()
	var all []domain.StoredEvent
	q := app.ListQuery{Topic: topic, Limit: pageSize}
	for {
		page, err := r.List(context.Background(), q)
		if err != nil {
			tb.Fatal(err)
		}
		if len(page) > pageSize {
			tb.Fatalf("List returned %d events for limit %d", len(page), pageSize)
		}
		all = append(all, page...)
		if len(page) < pageSize {
			return all
		}
		q.After = page[len(page)-1].Seq
	}
}
