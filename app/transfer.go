package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// EventReader is the read side of a store that an export pages through and
// an import checks is empty. EventRepository documents both methods.
type EventReader interface {
	List(ctx context.Context, q ListQuery) ([]domain.StoredEvent, error)
	Stats(ctx context.Context) ([]TopicStats, error)
}

// EventLoader is the store port that an import writes through. Unlike
// Append it keeps what the source store recorded: seq, received_at and the
// counters.
type EventLoader interface {
	// LoadEvents stores events exactly as given, seq and received_at
	// included. Calls come in increasing seq order. Afterwards Append numbers
	// new events above the highest loaded seq. It returns an error, storing
	// nothing of the call, if a key or seq is already stored.
	LoadEvents(ctx context.Context, events []domain.StoredEvent) error
	// SetCounters sets the lifetime counters of the given topics to the given
	// values, replacing what was there.
	SetCounters(ctx context.Context, stats []TopicStats) error
}

// ImportTarget is a store an import can fill: read to check that it is
// empty, written through EventLoader.
type ImportTarget interface {
	EventReader
	EventLoader
}

// ErrNotEmpty is returned by CheckEmpty when the store already holds events
// or counters.
var ErrNotEmpty = errors.New("target store is not empty")

// CheckEmpty returns an error wrapping ErrNotEmpty unless dst holds no event
// and no counters. An import only fills an empty store, so that seqs and
// counters carry over as they were.
func CheckEmpty(ctx context.Context, dst EventReader) error {
	events, err := dst.List(ctx, ListQuery{Limit: 1})
	if err != nil {
		return fmt.Errorf("check the store is empty: %w", err)
	}
	topics, err := dst.Stats(ctx)
	if err != nil {
		return fmt.Errorf("check the store is empty: %w", err)
	}
	if len(events) > 0 || len(topics) > 0 {
		return fmt.Errorf("%w (%d topics)", ErrNotEmpty, len(topics))
	}
	return nil
}
