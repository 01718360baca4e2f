// Package bunstore is the dialect-neutral part of the SQL stores: the Bun row
// models and the queries that append, list, get and count events. The sqlite
// and postgres adapters open the database, apply their own migrations and
// wrap a Repository from here.
package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
}

// existingRow is what Append needs to know about an already stored key.
type existingRow struct {
	Seq           int64  `bun:"seq"`
	Topic         string `bun:"topic"`
	EventID       string `bun:"event_id"`
	PayloadDigest int64  `bun:"payload_digest"`
}

func toRow(e domain.Event, digest int64, receivedAt time.Time) eventRow {
	r := eventRow{
		Topic: e.Topic, EventID: e.EventID, Source: e.Source, Payload: e.Payload,
		PayloadDigest: digest, ReceivedAt: receivedAt.UnixNano(),
	}
	if !e.Timestamp.IsZero() {
		r.Timestamp = e.Timestamp.Format(time.RFC3339Nano)
	}
	return r
}

func fromRow(r eventRow) (domain.StoredEvent, error) {
	e := domain.StoredEvent{
		Event:      domain.Event{Topic: r.Topic, EventID: r.EventID, Source: r.Source, Payload: r.Payload},
		Seq:        r.Seq,
		ReceivedAt: time.Unix(0, r.ReceivedAt).UTC(),
	}
	if r.Timestamp != "" {
		ts, err := time.Parse(time.RFC3339Nano, r.Timestamp)
		if err != nil {
			return domain.StoredEvent{}, fmt.Errorf("event seq %d: stored timestamp: %w", r.Seq, err)
		}
		e.Timestamp = ts
	}
	return e, nil
}

// Options adapt the queries to a database.
type Options struct {
	// MaxRowsPerInsert bounds one INSERT statement (bind-parameter limits).
	MaxRowsPerInsert int
	// SortKeys inserts new keys in key order, so that concurrent
	// transactions on a shared database take unique-index locks in the same
	// order and cannot deadlock. Seq order within one Append then follows the
	// key order rather than the publish order.
	SortKeys bool
}

// Repository implements app.EventRepository on a Bun database whose schema
// has the events and topic_stats tables.
type Repository struct {
	db   *bun.DB
	opts Options
}

var _ app.EventRepository = (*Repository)(nil)

// New returns a Repository over db.
func New(db *bun.DB, opts Options) *Repository {
	if opts.MaxRowsPerInsert <= 0 {
		opts.MaxRowsPerInsert = 1000
	}
	return &Repository{db: db, opts: opts}
}

// Append implements app.EventRepository in one transaction.
func (r *Repository) Append(ctx context.Context, events []domain.Event, receivedAt time.Time) ([]domain.Outcome, error) {
	var outcomes []domain.Outcome
	err := r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		outcomes, err = r.AppendTx(ctx, tx, events, receivedAt)
		return err
	})
	if err != nil {
		return nil, err
	}
	return outcomes, nil
}

// AppendTx does the work of Append inside an open transaction.
func (r *Repository) AppendTx(ctx context.Context, db bun.IDB, events []domain.Event, receivedAt time.Time) ([]domain.Outcome, error) {
	digests := make([]int64, len(events))
	first := make(map[domain.Key]int, len(events)) // key -> index of its first event
	var fresh []int                                // indexes of first occurrences
	for i, e := range events {
		digests[i] = domain.PayloadDigest(e.Payload)
		if _, seen := first[e.Key()]; !seen {
			first[e.Key()] = i
			fresh = append(fresh, i)
		}
	}
	if r.opts.SortKeys {
		slices.SortFunc(fresh, func(a, b int) int { return compareKeys(events[a].Key(), events[b].Key()) })
	}

	// Insert the first occurrence of every key; the unique index drops the
	// ones already stored, and RETURNING names the ones it kept.
	stored := make(map[domain.Key]existingRow, len(fresh))
	inserted := make(map[domain.Key]bool, len(fresh))
	for chunk := range slices.Chunk(fresh, r.opts.MaxRowsPerInsert) {
		rows := make([]eventRow, len(chunk))
		for j, i := range chunk {
			rows[j] = toRow(events[i], digests[i], receivedAt)
		}
		var got []existingRow
		_, err := db.NewInsert().Model(&rows).
			On("CONFLICT (topic, event_id) DO NOTHING").
			Returning("seq, topic, event_id, payload_digest").
			Exec(ctx, &got)
		if err != nil {
			return nil, fmt.Errorf("insert events: %w", err)
		}
		for _, g := range got {
			k := domain.Key{Topic: g.Topic, EventID: g.EventID}
			stored[k], inserted[k] = g, true
		}
	}

	// Look up the keys that were already there.
	var missing []domain.Key
	for _, i := range fresh {
		if k := events[i].Key(); !inserted[k] {
			missing = append(missing, k)
		}
	}
	if err := r.lookup(ctx, db, missing, stored); err != nil {
		return nil, err
	}

	outcomes := make([]domain.Outcome, len(events))
	counts := map[string]*domain.Counters{}
	for i, e := range events {
		k := e.Key()
		s, ok := stored[k]
		if !ok {
			return nil, fmt.Errorf("event %s/%s neither inserted nor found", k.Topic, k.EventID)
		}
		o := domain.Outcome{Status: domain.Accepted, Seq: s.Seq}
		if !inserted[k] || first[k] != i {
			o.Status = domain.Classify(s.PayloadDigest, digests[i])
		}
		outcomes[i] = o
		c := counts[e.Topic]
		if c == nil {
			c = &domain.Counters{}
			counts[e.Topic] = c
		}
		c.Count(o.Status)
	}
	if err := AddCounts(ctx, db, counts); err != nil {
		return nil, err
	}
	return outcomes, nil
}

func compareKeys(a, b domain.Key) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return strings.Compare(a.EventID, b.EventID)
}

// lookup adds the stored rows of keys to into.
func (r *Repository) lookup(ctx context.Context, db bun.IDB, keys []domain.Key, into map[domain.Key]existingRow) error {
	for chunk := range slices.Chunk(keys, r.opts.MaxRowsPerInsert) {
		pairs := make([]string, len(chunk))
		args := make([]any, 0, 2*len(chunk))
		for j, k := range chunk {
			pairs[j] = "(?, ?)"
			args = append(args, k.Topic, k.EventID)
		}
		var got []existingRow
		err := db.NewSelect().Model((*eventRow)(nil)).
			Column("seq", "topic", "event_id", "payload_digest").
			Where("(topic, event_id) IN ("+strings.Join(pairs, ", ")+")", args...).
			Scan(ctx, &got)
		if err != nil {
			return fmt.Errorf("look up stored events: %w", err)
		}
		for _, g := range got {
			into[domain.Key{Topic: g.Topic, EventID: g.EventID}] = g
		}
	}
	return nil
}

// AddCounts adds the tallies to topic_stats, topics in name order so that
// concurrent writers lock rows in the same order.
func AddCounts(ctx context.Context, db bun.IDB, counts map[string]*domain.Counters) error {
	rows := make([]topicRow, 0, len(counts))
	for topic, c := range counts {
		rows = append(rows, topicRow{Topic: topic, Received: c.Received, Accepted: c.Accepted, Dropped: c.Dropped, Conflicts: c.Conflicts})
	}
	slices.SortFunc(rows, func(a, b topicRow) int { return strings.Compare(a.Topic, b.Topic) })
	_, err := db.NewInsert().Model(&rows).
		On("CONFLICT (topic) DO UPDATE").
		Set("received = t.received + EXCLUDED.received").
		Set("accepted = t.accepted + EXCLUDED.accepted").
		Set("dropped = t.dropped + EXCLUDED.dropped").
		Set("conflicts = t.conflicts + EXCLUDED.conflicts").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("update topic counters: %w", err)
	}
	return nil
}

// List implements app.EventRepository with keyset pagination on seq.
func (r *Repository) List(ctx context.Context, q app.ListQuery) ([]domain.StoredEvent, error) {
	var rows []eventRow
	sel := r.db.NewSelect().Model(&rows).Where("seq > ?", q.After).Order("seq").Limit(int64(q.Limit))
	if q.Topic != "" {
		sel = sel.Where("topic = ?", q.Topic)
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
func (r *Repository) Get(ctx context.Context, key domain.Key) (domain.StoredEvent, error) {
	var row eventRow
	err := r.db.NewSelect().Model(&row).Where("topic = ? AND event_id = ?", key.Topic, key.EventID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.StoredEvent{}, app.ErrNotFound
	}
	if err != nil {
		return domain.StoredEvent{}, fmt.Errorf("get event: %w", err)
	}
	return fromRow(row)
}

// Stats implements app.EventRepository from the maintained counters.
func (r *Repository) Stats(ctx context.Context) ([]app.TopicStats, error) {
	var rows []topicRow
	if err := r.db.NewSelect().Model(&rows).Order("topic").Scan(ctx); err != nil {
		return nil, fmt.Errorf("read topic counters: %w", err)
	}
	out := make([]app.TopicStats, len(rows))
	for i, t := range rows {
		out[i] = app.TopicStats{Topic: t.Topic, Counters: domain.Counters{
			Received: t.Received, Accepted: t.Accepted, Dropped: t.Dropped, Conflicts: t.Conflicts}}
	}
	return out, nil
}
