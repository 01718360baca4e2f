package apptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// LoaderStore is a store that can be imported into.
type LoaderStore interface {
	app.EventRepository
	app.EventLoader
}

// RunLoaderContract runs the import contract against stores made by
// newTarget: app.EventLoader keeps what it is given, so that loading what
// one store lists reproduces its events, seqs and counters in another.
func RunLoaderContract(t *testing.T, newTarget func(tb testing.TB) LoaderStore) {
	ctx := context.Background()
	ts := time.Date(2024, 12, 31, 23, 59, 58, 123456789, time.FixedZone("", -5*3600))
	loaded := []domain.StoredEvent{
		{Event: domain.Event{Topic: "t", EventID: "a", Source: "s", Payload: []byte("{ \"a\" :\t1 }"), Timestamp: ts}, Seq: 3, ReceivedAt: ReceiveTime},
		{Event: NewEvent("u", "a", 2), Seq: 7, ReceivedAt: ReceiveTime.Add(time.Second)},
		{Event: NewEvent("t", "b", 3), Seq: 20, ReceivedAt: ReceiveTime.Add(2 * time.Second)},
	}
	counters := []app.TopicStats{
		{Topic: "t", Counters: domain.Counters{Received: 9, Accepted: 2, Dropped: 7, Conflicts: 1}},
		{Topic: "u", Counters: domain.Counters{Received: 1, Accepted: 1}},
	}

	t.Run("LoadKeepsSeqTimesAndCounters", func(t *testing.T) {
		r := newTarget(t)
		if err := r.LoadEvents(ctx, loaded[:2]); err != nil {
			t.Fatal(err)
		}
		if err := r.LoadEvents(ctx, loaded[2:]); err != nil {
			t.Fatal(err)
		}
		if err := r.SetCounters(ctx, counters); err != nil {
			t.Fatal(err)
		}
		got := listAll(t, r, "", 2)
		wantStored(t, got, loaded)
		wantTopics(t, r, counters...)
		out := mustAppend(t, r, NewEvent("u", "a", 2), NewEvent("t", "a", 5), NewEvent("t", "new", 1))
		wantOutcomes(t, out[:2], domain.Outcome{Status: domain.Duplicate, Seq: 7}, domain.Outcome{Status: domain.Conflict, Seq: 3})
		if out[2].Status != domain.Accepted || out[2].Seq <= 20 {
			t.Fatalf("new event after load: %+v, want accepted with seq > 20", out[2])
		}
		wantTopics(t, r,
			app.TopicStats{Topic: "t", Counters: domain.Counters{Received: 11, Accepted: 3, Dropped: 8, Conflicts: 2}},
			app.TopicStats{Topic: "u", Counters: domain.Counters{Received: 2, Accepted: 1, Dropped: 1}})
		if got := listAll(t, r, "t", 10); len(got) != 3 || got[2].EventID != "new" {
			t.Fatalf("topic t after load and append: %+v", got)
		}
	})

	t.Run("LoadRejectsStoredKey", func(t *testing.T) {
		r := newTarget(t)
		if err := r.LoadEvents(ctx, loaded[:1]); err != nil {
			t.Fatal(err)
		}
		again := loaded[0]
		again.Seq = 50
		if err := r.LoadEvents(ctx, []domain.StoredEvent{loaded[1], again}); err == nil {
			t.Fatal("loading a stored key succeeded, want an error")
		}
		wantStored(t, listAll(t, r, "", 10), loaded[:1])
	})

	t.Run("CopyKeepsEverything", func(t *testing.T) {
		// What an import does with an export: list one store, load the
		// events and counters into another, get the same store back.
		src := newTarget(t)
		mustAppend(t, src, NewEvent("t", "1", 1), NewEvent("u", "1", 1))
		mustAppend(t, src, NewEvent("t", "1", 1), NewEvent("t", "1", 2), NewEvent("t", "2", 2))
		odd := NewEvent("v", "bin", 0)
		odd.Payload = []byte("{\"s\":\"\xff\xfe\"}\n")
		odd.Timestamp = ts
		mustAppend(t, src, odd)
		dst := newTarget(t)
		if err := app.CheckEmpty(ctx, dst); err != nil {
			t.Fatalf("new store: %v, want empty", err)
		}
		stored := listAll(t, src, "", 3)
		if err := dst.LoadEvents(ctx, stored); err != nil {
			t.Fatal(err)
		}
		srcStats, err := src.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := dst.SetCounters(ctx, srcStats); err != nil {
			t.Fatal(err)
		}
		wantStored(t, listAll(t, dst, "", 3), stored)
		wantTopics(t, dst, srcStats...)
		if err := app.CheckEmpty(ctx, dst); !errors.Is(err, app.ErrNotEmpty) {
			t.Fatalf("CheckEmpty after a load = %v, want ErrNotEmpty", err)
		}
	})
}

// wantStored compares stored events field by field, payload bytes included.
func wantStored(tb testing.TB, got, want []domain.StoredEvent) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		_, gOff := g.Timestamp.Zone()
		_, wOff := w.Timestamp.Zone()
		if g.Seq != w.Seq || g.Topic != w.Topic || g.EventID != w.EventID || g.Source != w.Source ||
			!bytes.Equal(g.Payload, w.Payload) || !g.Timestamp.Equal(w.Timestamp) || g.Timestamp.IsZero() != w.Timestamp.IsZero() ||
			gOff != wOff || !g.ReceivedAt.Equal(w.ReceivedAt) {
			tb.Fatalf("event %d = %s, want %s", i, describe(g), describe(w))
		}
	}
}

func describe(e domain.StoredEvent) string {
	return fmt.Sprintf("{seq %d %s/%s src %q payload %q ts %v recv %v}", e.Seq, e.Topic, e.EventID, e.Source, e.Payload, e.Timestamp, e.ReceivedAt)
}
