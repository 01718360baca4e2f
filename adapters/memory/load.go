package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

var _ app.EventLoader = (*Repository)(nil)

// lastSeq is the highest stored seq, 0 when empty. Call it with mu held.
func (r *Repository) lastSeq() int64 {
	if len(r.events) == 0 {
		return 0
	}
	return r.events[len(r.events)-1].Seq
}

// LoadEvents implements app.EventLoader.
func (r *Repository) LoadEvents(_ context.Context, events []domain.StoredEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	last, keys := r.lastSeq(), map[domain.Key]bool{}
	for _, e := range events {
		if e.Seq <= last {
			return fmt.Errorf("load event %s/%s: seq %d is not above %d", e.Topic, e.EventID, e.Seq, last)
		}
		if _, dup := r.byKey[e.Key()]; dup || keys[e.Key()] {
			return fmt.Errorf("load event %s/%s: key already stored", e.Topic, e.EventID)
		}
		last, keys[e.Key()] = e.Seq, true
	}
	for _, e := range events {
		e.Payload = slices.Clone(e.Payload)
		r.byKey[e.Key()] = len(r.events)
		r.events = append(r.events, e)
		r.digest = append(r.digest, domain.PayloadDigest(e.Payload))
	}
	return nil
}

// SetCounters implements app.EventLoader.
func (r *Repository) SetCounters(_ context.Context, stats []app.TopicStats) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range stats {
		r.topics[s.Topic] = s.Counters
	}
	return nil
}
