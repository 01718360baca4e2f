package sqlite

import (
	"context"
	"fmt"

	"github.com/uts-aggregator/uts-aggregator/adapters/internal/bunstore"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

var _ app.EventLoader = (*Repository)(nil)

// LoadEvents implements app.EventLoader on the writer, through the dedup
// index: a key that is already stored fails the call, as a seq that is
// already taken does.
func (r *Repository) LoadEvents(ctx context.Context, events []domain.StoredEvent) (err error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.index.installFilter()
	if err := r.begin(ctx); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			r.rollback(ctx)
		}
	}()
	added := make([]newKey, 0, len(events))
	batch := make(map[domain.Key]bool, len(events))
	for _, e := range events {
		k := e.Key()
		if e.Seq <= 0 {
			return fmt.Errorf("load event %s/%s: seq %d is not positive", e.Topic, e.EventID, e.Seq)
		}
		h := r.index.hash(e.Topic, e.EventID)
		_, _, found, err := r.find(ctx, h, k)
		if err != nil {
			return fmt.Errorf("load event %s/%s: %w", e.Topic, e.EventID, err)
		}
		if found || batch[k] {
			return fmt.Errorf("load event %s/%s: key already stored", e.Topic, e.EventID)
		}
		digest := domain.PayloadDigest(e.Payload)
		if _, err := r.stmts.insert.ExecContext(ctx, e.Seq, e.Topic, e.EventID, e.Source, e.Payload, digest,
			bunstore.EncodeTimestamp(e.Timestamp), bunstore.EncodeReceivedAt(e.ReceivedAt)); err != nil {
			return fmt.Errorf("load event %s/%s: %w", e.Topic, e.EventID, err)
		}
		batch[k] = true
		added = append(added, newKey{h: h, key: k, seq: e.Seq, digest: digest})
	}
	return r.commit(ctx, added)
}

// SetCounters implements app.EventLoader.
func (r *Repository) SetCounters(ctx context.Context, stats []app.TopicStats) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	return r.Queries.SetCounters(ctx, stats)
}
