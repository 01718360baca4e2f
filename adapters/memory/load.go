package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

var _ app.EventLoader = (*Repository)(nil)

// LoadEvents implements app.EventLoader.
func (r *Repository) LoadEvents(_ context.Context, events []domain.StoredEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	last, keys := r.last, map[domain.Key]bool{}
	for _, e := range events {
		if e.Seq <= last {
			return fmt.Errorf("load event %s/%s: seq %d is not above %d", e.Topic, e.EventID, e.Seq, last)
		}
		if _, dup := r.keys[e.Key()]; dup || keys[e.Key()] {
			return fmt.Errorf("load event %s/%s: key already stored", e.Topic, e.EventID)
		}
		last, keys[e.Key()] = e.Seq, true
	}
	for _, e := range events {
		e.Payload = slices.Clone(e.Payload)
		r.remember(e, domain.PayloadDigest(e.Payload))
	}
	return nil
}

// SetCounters implements app.EventLoader.
func (r *Repository) SetCounters(_ context.Context, stats []app.TopicStats) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range stats {
		r.topics[s.Topic] = &s
	}
	return nil
}
