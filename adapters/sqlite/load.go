package sqlite

import (
	"context"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

var _ app.EventLoader = (*Repository)(nil)

// LoadEvents implements app.EventLoader. New rows take the rowid after the
// highest one, so Append continues above the loaded seqs by itself.
func (r *Repository) LoadEvents(ctx context.Context, events []domain.StoredEvent) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	return r.Queries.LoadEvents(ctx, events)
}

// SetCounters implements app.EventLoader.
func (r *Repository) SetCounters(ctx context.Context, stats []app.TopicStats) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	return r.Queries.SetCounters(ctx, stats)
}
