package app

import (
	"context"
	"errors"
	"time"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// ErrNotFound is returned when no stored event has the requested key.
var ErrNotFound = errors.New("event not found")

// Store faults. A repository wraps the error of a write it could not do for
// one of these reasons, so that callers can tell the condition from a bug
// and say when to retry. Nothing of the failed write is stored.
var (
	// ErrStoreFull: the store's disk is full.
	ErrStoreFull = errors.New("the store's disk is full")
	// ErrStoreReadOnly: the store's files or disk cannot be written.
	ErrStoreReadOnly = errors.New("the store is read-only")
	// ErrStoreUnavailable: the store cannot be reached or failed an I/O
	// operation, such as a database server that went away.
	ErrStoreUnavailable = errors.New("the store is unavailable")
)

// IsStoreFault reports whether err is one of the store faults above.
func IsStoreFault(err error) bool {
	return errors.Is(err, ErrStoreFull) || errors.Is(err, ErrStoreReadOnly) || errors.Is(err, ErrStoreUnavailable)
}

// EventRepository is the store port: where events and their counters live.
// Implementations must be safe for concurrent use.
type EventRepository interface {
	// Append stores every event whose key is not stored yet, as one atomic,
	// durable unit: when it returns nil, the events and the counters they
	// changed survive a crash. It returns one outcome per event, in order. An
	// event whose key appears earlier in the same slice gets the outcome of a
	// repeat of that earlier event. receivedAt is recorded on new events.
	Append(ctx context.Context, events []domain.Event, receivedAt time.Time) ([]domain.Outcome, error)
	// List returns up to q.Limit stored events with seq greater than q.After,
	// in seq order, only from q.Topic when it is not empty and only those
	// received in [q.Since, q.Until) when those are set. Purged events are
	// not listed. It finds the time window without a scan: received time
	// grows with seq.
	List(ctx context.Context, q ListQuery) ([]domain.StoredEvent, error)
	// Get returns the stored event with the key, ErrPurged if the store
	// still remembers the key but purged the event, or ErrNotFound.
	Get(ctx context.Context, key domain.Key) (domain.StoredEvent, error)
	// Stats returns the counters kept since the store was created, per topic,
	// sorted by topic name. Its cost does not grow with the number of events.
	Stats(ctx context.Context) ([]TopicStats, error)
}

// ListQuery selects a page of stored events.
type ListQuery struct {
	Topic string // empty means every topic
	After int64  // exclusive seq cursor; 0 starts at the beginning
	Limit int
	// Since and Until bound the received time, Since inclusive and Until
	// exclusive; the zero time leaves that side open.
	Since, Until time.Time
}

// TopicStats is the lifetime tally of one topic.
type TopicStats struct {
	Topic string
	domain.Counters
	// Purged counts the topic's events that retention or the dedup window
	// removed: Accepted - Purged are stored now.
	Purged int64
}
