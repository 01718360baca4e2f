package bunstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

var _ app.EventLoader = (*Queries)(nil)

// LoadEvents implements app.EventLoader in one transaction.
func (r *Queries) LoadEvents(ctx context.Context, events []domain.StoredEvent) error {
	return r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return r.LoadEventsTx(ctx, tx, events)
	})
}

// rowsPerInsert bounds one INSERT of loaded events, well under the
// bind-parameter limits of SQLite (32766) and PostgreSQL (65535).
const rowsPerInsert = 1000

// LoadEventsTx inserts events with their own seq and received_at inside an
// open transaction. Without ON CONFLICT, a key or seq that is already stored
// fails the insert rather than being skipped.
func (r *Queries) LoadEventsTx(ctx context.Context, db bun.IDB, events []domain.StoredEvent) error {
	for chunk := range slices.Chunk(events, rowsPerInsert) {
		rows := make([]eventRow, len(chunk))
		for i, e := range chunk {
			if e.Seq <= 0 {
				return fmt.Errorf("load event %s/%s: seq %d is not positive", e.Topic, e.EventID, e.Seq)
			}
			rows[i] = toRow(e.Event, domain.PayloadDigest(e.Payload), e.ReceivedAt)
			rows[i].Seq = e.Seq
		}
		if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return fmt.Errorf("load events: %w", err)
		}
	}
	return nil
}

// SetCounters implements app.EventLoader.
func (r *Queries) SetCounters(ctx context.Context, stats []app.TopicStats) error {
	return SetCountersTx(ctx, r.db, stats)
}

// SetCountersTx replaces the lifetime counters of the given topics.
func SetCountersTx(ctx context.Context, db bun.IDB, stats []app.TopicStats) error {
	if len(stats) == 0 {
		return nil
	}
	rows := make([]topicRow, len(stats))
	for i, s := range stats {
		rows[i] = topicRow{Topic: s.Topic, Received: s.Received, Accepted: s.Accepted, Dropped: s.Dropped, Conflicts: s.Conflicts, Purged: s.Purged}
	}
	slices.SortFunc(rows, func(a, b topicRow) int { return strings.Compare(a.Topic, b.Topic) })
	_, err := db.NewInsert().Model(&rows).
		On("CONFLICT (topic) DO UPDATE").
		Set("received = EXCLUDED.received").
		Set("accepted = EXCLUDED.accepted").
		Set("dropped = EXCLUDED.dropped").
		Set("conflicts = EXCLUDED.conflicts").
		Set("purged = EXCLUDED.purged").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("set topic counters: %w", err)
	}
	return nil
}
