package e2e_test

import (
	"encoding/json"
	"testing"
)

// TestDuplicateAfterContainerReplaced is the seed service's demo, run on the
// image: publish an event twice, replace the container with a new one on the
// same host directory, publish it once more.
func TestDuplicateAfterContainerReplaced(t *testing.T) {
	requireDocker(t)
	dataDir := newDataDir(t)
	ev := event{
		Topic:   "pembayaran",
		EventID: "evt_abc_123",
		Source:  "powershell_test",
		Payload: json.RawMessage(`{"amount":50000,"user_id":"u_001"}`),
	}
	body := encode([]event{ev}, false)

	first := mustStartAggregator(t, dataDir)
	if res := first.mustPublish(body); res.Accepted != 1 || res.Duplicates != 0 {
		t.Fatalf("first publish: accepted=%d duplicates=%d, want 1 and 0", res.Accepted, res.Duplicates)
	}
	if res := first.mustPublish(body); res.Accepted != 0 || res.Duplicates != 1 || res.Results[0].Status != "duplicate" {
		t.Fatalf("second publish: accepted=%d duplicates=%d, want 0 and 1", res.Accepted, res.Duplicates)
	}
	wantCounters(t, "stats before the restart", first.mustStats().counters, counters{Received: 2, UniqueProcessed: 1, DuplicateDropped: 1})
	// docker stop && docker rm
	if err := first.ctr.Terminate(t.Context()); err != nil {
		t.Fatalf("stop and remove the first container: %v", err)
	}

	second := mustStartAggregator(t, dataDir)
	res := second.mustPublish(body)
	if res.Accepted != 0 || res.Duplicates != 1 || res.Results[0].Status != "duplicate" {
		t.Fatalf("publish after the restart: accepted=%d duplicates=%d, want 0 and 1", res.Accepted, res.Duplicates)
	}
	st := second.mustStats()
	wantCounters(t, "stats after the restart", st.counters, counters{Received: 1, UniqueProcessed: 0, DuplicateDropped: 1})
	wantCounters(t, "lifetime stats after the restart", st.Lifetime, counters{Received: 3, UniqueProcessed: 1, DuplicateDropped: 2})
	if st.StoredEvents != 1 {
		t.Errorf("stored_events = %d, want 1", st.StoredEvents)
	}

	listed := second.mustListEvents(ev.Topic, 100)
	if len(listed) != 1 {
		t.Fatalf("GET /events?topic=%s lists %d events, want 1: %+v", ev.Topic, len(listed), listed)
	}
	got := listed[0]
	if got.key() != ev.key() || got.Source != ev.Source || !sameJSON(got.Payload, ev.Payload) {
		t.Errorf("listed event = %+v, want %+v", got, ev)
	}
	if one, found := second.mustGetEvent(ev.key()); !found || one.Seq != got.Seq {
		t.Errorf("GET /events/%s/%s: found=%v seq=%d, want the listed seq %d", ev.Topic, ev.EventID, found, one.Seq, got.Seq)
	}
}

func wantCounters(tb testing.TB, what string, got, want counters) {
	tb.Helper()
	if got != want {
		tb.Errorf("%s: %v, want %v", what, got, want)
	}
}
