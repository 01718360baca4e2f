package postgres

import (
	"context"
	"time"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// Unordered is the repository without the seq-order lock, for measuring
// what the lock costs. Readers paging by seq may skip rows on it.
type Unordered struct{ *Repository }

// Append is Repository.Append minus the lock.
func (u Unordered) Append(ctx context.Context, events []domain.Event, receivedAt time.Time) ([]domain.Outcome, error) {
	return u.appendEvents(ctx, events, receivedAt, false)
}
