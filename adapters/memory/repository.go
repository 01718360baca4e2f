// Package memory is an EventRepository that keeps everything in process
// memory. It is for tests and for running without a disk
// (AGGREGATOR_STORE=memory); nothing survives a restart.
package memory

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

var _ app.EventRepository = (*Repository)(nil)

// Repository is an in-memory EventRepository, safe for concurrent use.
type Repository struct {
	mu     sync.RWMutex
	events []domain.StoredEvent // in seq order; seq = index + 1 unless loaded with gaps
	byKey  map[domain.Key]int   // index into events
	digest []int64              // payload digests, parallel to events
	topics map[string]domain.Counters
}

// New returns an empty Repository.
func New() *Repository {
	return &Repository{byKey: map[domain.Key]int{}, topics: map[string]domain.Counters{}}
}

// Append implements app.EventRepository.
func (r *Repository) Append(_ context.Context, events []domain.Event, receivedAt time.Time) ([]domain.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	outcomes := make([]domain.Outcome, len(events))
	for i, e := range events {
		d := domain.PayloadDigest(e.Payload)
		var o domain.Outcome
		if idx, ok := r.byKey[e.Key()]; ok {
			o = domain.Outcome{Status: domain.Classify(r.digest[idx], d), Seq: r.events[idx].Seq}
		} else {
			e.Payload = slices.Clone(e.Payload)
			stored := domain.StoredEvent{Event: e, Seq: r.lastSeq() + 1, ReceivedAt: receivedAt}
			r.byKey[e.Key()] = len(r.events)
			r.events = append(r.events, stored)
			r.digest = append(r.digest, d)
			o = domain.Outcome{Status: domain.Accepted, Seq: stored.Seq}
		}
		outcomes[i] = o
	}
	for topic, c := range domain.CountByTopic(events, outcomes) {
		r.topics[topic] = r.topics[topic].Add(c)
	}
	return outcomes, nil
}

// List implements app.EventRepository.
func (r *Repository) List(_ context.Context, q app.ListQuery) ([]domain.StoredEvent, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []domain.StoredEvent
	// events are in seq order: find the first one after the cursor.
	start := sort.Search(len(r.events), func(i int) bool { return r.events[i].Seq > q.After })
	for i := start; i < len(r.events) && len(out) < q.Limit; i++ {
		if q.Topic == "" || r.events[i].Topic == q.Topic {
			out = append(out, r.events[i])
		}
	}
	return out, nil
}

// Get implements app.EventRepository.
func (r *Repository) Get(_ context.Context, key domain.Key) (domain.StoredEvent, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	idx, ok := r.byKey[key]
	if !ok {
		return domain.StoredEvent{}, app.ErrNotFound
	}
	return r.events[idx], nil
}

// Stats implements app.EventRepository.
func (r *Repository) Stats(context.Context) ([]app.TopicStats, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]app.TopicStats, 0, len(r.topics))
	for name, c := range r.topics {
		out = append(out, app.TopicStats{Topic: name, Counters: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out, nil
}
