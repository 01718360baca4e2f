package apptest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// runLifecycle checks app.Purger and time-window reads: purged events keep
// their keys, forgotten keys are accepted again, counters stay honest, and
// a persistent store behaves the same after a reopen.
func runLifecycle(t *testing.T, s Store) {
	ctx := context.Background()
	at := func(sec int) time.Time { return ReceiveTime.Add(time.Duration(sec) * time.Second) }
	newPurger := func(tb testing.TB) (app.EventRepository, app.Purger) {
		r := s.New(tb)
		p, ok := r.(app.Purger)
		if !ok {
			tb.Fatalf("%T does not implement app.Purger", r)
		}
		return r, p
	}
	reopens := []bool{false}
	if s.Reopen != nil {
		reopens = append(reopens, true)
	}

	for _, reopen := range reopens {
		name := func(n string) string {
			if reopen {
				return n + "/AfterReopen"
			}
			return n
		}
		again := func(tb testing.TB, r app.EventRepository) app.EventRepository {
			if !reopen {
				return r
			}
			return s.Reopen(tb, r)
		}

		t.Run(name("PurgeKeepsDedupMemory"), func(t *testing.T) {
			r, p := newPurger(t)
			first := appendAt(t, r, at(0), NewEvent("t", "a", 1), NewEvent("t", "b", 2))
			appendAt(t, r, at(10), NewEvent("t", "c", 3))
			if n := mustPurge(t, p.PurgeEvents, at(5), 1); n != 1 {
				t.Fatalf("first step purged %d, want 1 (the limit)", n)
			}
			if n := mustPurge(t, p.PurgeEvents, at(5), 10); n != 1 {
				t.Fatalf("second step purged %d, want 1", n)
			}
			if n := mustPurge(t, p.PurgeEvents, at(5), 10); n != 0 {
				t.Fatalf("third step purged %d, want 0", n)
			}
			r = again(t, r)
			for _, id := range []string{"a", "b"} {
				if _, err := r.Get(ctx, domain.Key{Topic: "t", EventID: id}); !errors.Is(err, app.ErrPurged) {
					t.Errorf("Get of purged %s: error %v, want ErrPurged", id, err)
				}
			}
			if got := ids(listAll(t, r, "", 10)); got != "[c]" {
				t.Fatalf("listed %s after purge, want [c]", got)
			}
			late := appendAt(t, r, at(20), NewEvent("t", "a", 1), NewEvent("t", "b", 9))
			wantOutcomes(t, late,
				domain.Outcome{Status: domain.Duplicate, Seq: first[0].Seq},
				domain.Outcome{Status: domain.Conflict, Seq: first[1].Seq})
			wantTopics(t, r, app.TopicStats{Topic: "t",
				Counters: domain.Counters{Received: 5, Accepted: 3, Dropped: 2, Conflicts: 1}, Purged: 2})
		})

		t.Run(name("DedupWindowForgetsKeys"), func(t *testing.T) {
			r, p := newPurger(t)
			appendAt(t, r, at(0), NewEvent("t", "a", 1), NewEvent("u", "b", 1))
			kept := appendAt(t, r, at(10), NewEvent("t", "c", 1))
			// b's event is purged first: forgetting its key must not count
			// it twice.
			if n := mustPurge(t, p.PurgeEvents, at(5), 1); n != 1 {
				t.Fatalf("purged %d, want 1", n)
			}
			if n := mustPurge(t, p.ForgetKeys, at(5), 10); n != 2 {
				t.Fatalf("forgot %d keys, want 2", n)
			}
			if n := mustPurge(t, p.ForgetKeys, at(5), 10); n != 0 {
				t.Fatalf("forgot %d keys on the second call, want 0", n)
			}
			r = again(t, r)
			for _, k := range []domain.Key{{Topic: "t", EventID: "a"}, {Topic: "u", EventID: "b"}} {
				if _, err := r.Get(ctx, k); !errors.Is(err, app.ErrNotFound) {
					t.Errorf("Get of forgotten %v: error %v, want ErrNotFound", k, err)
				}
			}
			resent := appendAt(t, r, at(20), NewEvent("t", "a", 1), NewEvent("t", "c", 1))
			if resent[0].Status != domain.Accepted || resent[0].Seq <= kept[0].Seq {
				t.Fatalf("resend of a forgotten key: %+v, want accepted with seq > %d", resent[0], kept[0].Seq)
			}
			wantOutcomes(t, resent[1:], domain.Outcome{Status: domain.Duplicate, Seq: kept[0].Seq})
			if got := ids(listAll(t, r, "", 10)); got != "[c a]" {
				t.Fatalf("listed %s, want [c a]", got)
			}
			wantTopics(t, r,
				app.TopicStats{Topic: "t", Counters: domain.Counters{Received: 4, Accepted: 3, Dropped: 1}, Purged: 1},
				app.TopicStats{Topic: "u", Counters: domain.Counters{Received: 1, Accepted: 1}, Purged: 1})
		})

		t.Run(name("TimeWindowReads"), func(t *testing.T) {
			r, p := newPurger(t)
			for sec := range 6 {
				appendAt(t, r, at(sec), NewEvent("x", fmt.Sprintf("x%d", sec), sec), NewEvent("y", fmt.Sprintf("y%d", sec), sec))
			}
			mustPurge(t, p.PurgeEvents, at(1), 10) // x0 and y0
			r = again(t, r)
			cases := []struct {
				name         string
				topic        string
				since, until time.Time
				want         string
			}{
				{"Since", "", at(4), time.Time{}, "[x4 y4 x5 y5]"},
				{"Until", "", time.Time{}, at(2), "[x1 y1]"},
				{"Both", "", at(2), at(4), "[x2 y2 x3 y3]"},
				{"BothWithTopic", "y", at(2), at(5), "[y2 y3 y4]"},
				{"BetweenReceiveTimes", "", at(2).Add(time.Millisecond), at(3).Add(time.Millisecond), "[x3 y3]"},
				{"BeforeEverything", "", at(-10), at(0), "[]"},
				{"AfterEverything", "", at(6), time.Time{}, "[]"},
				{"PurgedPartOnly", "", at(-1), at(1), "[]"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					got := listWindow(t, r, app.ListQuery{Topic: c.topic, Since: c.since, Until: c.until, Limit: 3})
					if ids(got) != c.want {
						t.Fatalf("listed %s, want %s", ids(got), c.want)
					}
				})
			}
		})
	}

	t.Run("TimeWindowOnEmptyStore", func(t *testing.T) {
		r := s.New(t)
		got, err := r.List(ctx, app.ListQuery{Since: ReceiveTime, Until: ReceiveTime.Add(time.Hour), Limit: 10})
		if err != nil || len(got) != 0 {
			t.Fatalf("List = %d events, %v; want none", len(got), err)
		}
	})
}

func appendAt(tb testing.TB, r app.EventRepository, at time.Time, events ...domain.Event) []domain.Outcome {
	tb.Helper()
	out, err := r.Append(context.Background(), events, at)
	if err != nil {
		tb.Fatalf("Append: %v", err)
	}
	return out
}

func mustPurge(tb testing.TB, f func(context.Context, time.Time, int) (int, error), before time.Time, limit int) int {
	tb.Helper()
	n, err := f(context.Background(), before, limit)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// listWindow follows the cursor through every page of q.
func listWindow(tb testing.TB, r app.EventRepository, q app.ListQuery) []domain.StoredEvent {
	tb.Helper()
	var all []domain.StoredEvent
	for {
		page, err := r.List(context.Background(), q)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < q.Limit {
			return all
		}
		q.After = page[len(page)-1].Seq
	}
}

func ids(events []domain.StoredEvent) string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.EventID
	}
	return fmt.Sprint(out)
}
