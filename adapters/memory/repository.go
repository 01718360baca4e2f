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

var (
	_ app.EventRepository = (*Repository)(nil)
	_ app.Purger          = (*Repository)(nil)
)

// Repository is an in-memory EventRepository, safe for concurrent use.
type Repository struct {
	mu     sync.RWMutex
	events []domain.StoredEvent // stored events in seq order
	keys   map[domain.Key]key   // every remembered key
	order  []keyRef             // remembered keys in acceptance (seq) order
	last   int64                // highest seq handed out
	topics map[string]*app.TopicStats
}

// key is the dedup memory of one event; it can outlive the event.
type key struct {
	seq    int64
	digest int64
}

type keyRef struct {
	key domain.Key
	seq int64
	at  time.Time // first accepted
}

// New returns an empty Repository.
func New() *Repository {
	return &Repository{keys: map[domain.Key]key{}, topics: map[string]*app.TopicStats{}}
}

// remember adds a stored event and its key. Call it with mu held.
func (r *Repository) remember(e domain.StoredEvent, digest int64) {
	r.keys[e.Key()] = key{seq: e.Seq, digest: digest}
	r.order = append(r.order, keyRef{key: e.Key(), seq: e.Seq, at: e.ReceivedAt})
	r.events = append(r.events, e)
	r.last = e.Seq
}

func (r *Repository) topic(name string) *app.TopicStats {
	t := r.topics[name]
	if t == nil {
		t = &app.TopicStats{Topic: name}
		r.topics[name] = t
	}
	return t
}

// Append implements app.EventRepository.
func (r *Repository) Append(_ context.Context, events []domain.Event, receivedAt time.Time) ([]domain.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	outcomes := make([]domain.Outcome, len(events))
	for i, e := range events {
		d := domain.PayloadDigest(e.Payload)
		var o domain.Outcome
		if k, ok := r.keys[e.Key()]; ok {
			o = domain.Outcome{Status: domain.Classify(k.digest, d), Seq: k.seq}
		} else {
			e.Payload = slices.Clone(e.Payload)
			stored := domain.StoredEvent{Event: e, Seq: r.last + 1, ReceivedAt: receivedAt}
			r.remember(stored, d)
			o = domain.Outcome{Status: domain.Accepted, Seq: stored.Seq}
		}
		outcomes[i] = o
	}
	for topic, c := range domain.CountByTopic(events, outcomes) {
		t := r.topic(topic)
		t.Counters = t.Counters.Add(c)
	}
	return outcomes, nil
}

// List implements app.EventRepository.
func (r *Repository) List(_ context.Context, q app.ListQuery) ([]domain.StoredEvent, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []domain.StoredEvent
	// events are in seq order, and so in received order: find the first one
	// after the cursor and inside the time window.
	start := sort.Search(len(r.events), func(i int) bool { return r.events[i].Seq > q.After })
	if !q.Since.IsZero() {
		start = max(start, sort.Search(len(r.events), func(i int) bool { return !r.events[i].ReceivedAt.Before(q.Since) }))
	}
	end := len(r.events)
	if !q.Until.IsZero() {
		end = sort.Search(len(r.events), func(i int) bool { return !r.events[i].ReceivedAt.Before(q.Until) })
	}
	for i := start; i < end && len(out) < q.Limit; i++ {
		if q.Topic == "" || r.events[i].Topic == q.Topic {
			out = append(out, r.events[i])
		}
	}
	return out, nil
}

// Get implements app.EventRepository.
func (r *Repository) Get(_ context.Context, k domain.Key) (domain.StoredEvent, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	entry, ok := r.keys[k]
	if !ok {
		return domain.StoredEvent{}, app.ErrNotFound
	}
	i, found := r.find(entry.seq)
	if !found {
		return domain.StoredEvent{}, app.ErrPurged
	}
	return r.events[i], nil
}

// find returns the index of the event with seq. Call it with mu held.
func (r *Repository) find(seq int64) (int, bool) {
	return sort.Find(len(r.events), func(i int) int {
		switch {
		case seq < r.events[i].Seq:
			return -1
		case seq > r.events[i].Seq:
			return 1
		}
		return 0
	})
}

// Stats implements app.EventRepository.
func (r *Repository) Stats(context.Context) ([]app.TopicStats, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]app.TopicStats, 0, len(r.topics))
	for _, t := range r.topics {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out, nil
}

// PurgeEvents implements app.Purger.
func (r *Repository) PurgeEvents(_ context.Context, before time.Time, limit int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < limit && n < len(r.events) && r.events[n].ReceivedAt.Before(before) {
		r.topic(r.events[n].Topic).Purged++
		n++
	}
	r.dropEvents(n)
	return n, nil
}

// ForgetKeys implements app.Purger.
func (r *Repository) ForgetKeys(_ context.Context, before time.Time, limit int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < limit && n < len(r.order) && r.order[n].at.Before(before) {
		ref := r.order[n]
		delete(r.keys, ref.key)
		// Keys and events share the seq order, so a key's event, if still
		// stored, is the oldest one.
		if len(r.events) > 0 && r.events[0].Seq == ref.seq {
			r.topic(ref.key.Topic).Purged++
			r.dropEvents(1)
		}
		n++
	}
	clear(r.order[:n]) // let the collector have them
	r.order = r.order[n:]
	return n, nil
}

// dropEvents removes the n oldest events. Call it with mu held.
func (r *Repository) dropEvents(n int) {
	clear(r.events[:n])
	r.events = r.events[n:]
}
