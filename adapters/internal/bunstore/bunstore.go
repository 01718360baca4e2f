// Package bunstore is the dialect-neutral part of the SQL stores: the Bun row
// models and the queries that list, get, count and load events. The sqlite
// and postgres adapters open the database, apply their own migrations, write
// events on their own tuned path and embed the Queries from here for the rest.
package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// eventRow is one stored event. seq is the processing order.
type eventRow struct {
	bun.BaseModel `bun:"table:events,alias:e"`

	Seq           int64  `bun:"seq,pk,autoincrement"`
	Topic         string `bun:"topic,notnull"`
	EventID       string `bun:"event_id,notnull"`
	Source        string `bun:"source,notnull"`
	Payload       []byte `bun:"payload,notnull"`
	PayloadDigest int64  `bun:"payload_digest,notnull"`
	// Timestamp is RFC 3339 with the publisher's offset, NULL when absent.
	Timestamp  string `bun:"timestamp,nullzero"`
	ReceivedAt int64  `bun:"received_at,notnull"` // Unix nanoseconds
}

// topicRow holds a topic's lifetime counters, updated in the same
// transaction as the events they count.
type topicRow struct {
	bun.BaseModel `bun:"table:topic_stats,alias:t"`

	Topic     string `bun:"topic,pk"`
	Received  int64  `bun:"received,notnull"`
	Accepted  int64  `bun:"accepted,notnull"`
	Dropped   int64  `bun:"dropped,notnull"`
	Conflicts int64  `bun:"conflicts,notnull"`
	Purged    int64  `bun:"purged,notnull"`
}

// Queries runs the dialect-neutral queries on a Bun database whose schema
// has the events and topic_stats tables: List, Get and Stats of
// app.EventRepository, loading for imports, and the lifecycle's purges. It
// has no Append: each store writes on its own tuned path.
type Queries struct {
	db *bun.DB
}

// New returns the Queries over db.
func New(db *bun.DB) *Queries { return &Queries{db: db} }

// List implements app.EventRepository with keyset pagination on seq. A time
// window becomes a seq range first (see seqAt), so it costs no scan either.
func (r *Queries) List(ctx context.Context, q app.ListQuery) ([]domain.StoredEvent, error) {
	purged, err := purgedThrough(ctx, r.db)
	if err != nil {
		return nil, err
	}
	// One lower and at most one upper bound on seq: given two lower bounds,
	// SQLite ranges over one and filters by the other, which is a scan.
	after := max(q.After, purged)
	if !q.Since.IsZero() {
		from, err := r.seqAt(ctx, q.Since)
		if err != nil {
			return nil, err
		}
		after = max(after, from-1)
	}
	var rows []eventRow
	sel := r.db.NewSelect().Model(&rows).Where("seq > ?", after).Order("seq").Limit(int64(q.Limit))
	if q.Topic != "" {
		sel = sel.Where("topic = ?", q.Topic)
	}
	if !q.Until.IsZero() {
		to, err := r.seqAt(ctx, q.Until)
		if err != nil {
			return nil, err
		}
		sel = sel.Where("seq < ?", to)
	}
	if err := sel.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	out := make([]domain.StoredEvent, len(rows))
	for i, row := range rows {
		e, err := fromRow(row)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// Get implements app.EventRepository.
func (r *Queries) Get(ctx context.Context, key domain.Key) (domain.StoredEvent, error) {
	return r.get(ctx, r.db.NewSelect().Where("topic = ? AND event_id = ?", key.Topic, key.EventID))
}

// GetAt is Get for a store that knows where the key may be: the event at
// seq if it has the key, ErrNotFound if no event at seq has it.
func (r *Queries) GetAt(ctx context.Context, seq int64, key domain.Key) (domain.StoredEvent, error) {
	return r.get(ctx, r.db.NewSelect().Where("seq = ? AND topic = ? AND event_id = ?", seq, key.Topic, key.EventID))
}

func (r *Queries) get(ctx context.Context, sel *bun.SelectQuery) (domain.StoredEvent, error) {
	var row eventRow
	err := sel.Model(&row).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.StoredEvent{}, app.ErrNotFound
	}
	if err != nil {
		return domain.StoredEvent{}, fmt.Errorf("get event: %w", err)
	}
	purged, err := purgedThrough(ctx, r.db)
	if err != nil {
		return domain.StoredEvent{}, err
	}
	if row.Seq <= purged {
		return domain.StoredEvent{}, app.ErrPurged
	}
	return fromRow(row)
}

// Stats implements app.EventRepository from the maintained counters.
func (r *Queries) Stats(ctx context.Context) ([]app.TopicStats, error) {
	var rows []topicRow
	if err := r.db.NewSelect().Model(&rows).Order("topic").Scan(ctx); err != nil {
		return nil, fmt.Errorf("read topic counters: %w", err)
	}
	out := make([]app.TopicStats, len(rows))
	for i, t := range rows {
		out[i] = app.TopicStats{Topic: t.Topic, Counters: domain.Counters{
			Received: t.Received, Accepted: t.Accepted, Dropped: t.Dropped, Conflicts: t.Conflicts}, Purged: t.Purged}
	}
	return out, nil
}
