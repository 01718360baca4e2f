package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// Retention keeps a purged event's row, without payload, source and
// timestamp, as the dedup memory of its key: the unique index on
// (topic, event_id) is what deduplicates. Events are purged in seq order,
// which is received order, so the purged rows are exactly those with
// seq <= lifecycle.purged_through; reads skip them by that bound. The dedup
// window deletes rows, oldest first.

// eventHead is what the lifecycle reads of an event row.
type eventHead struct {
	Seq        int64  `bun:"seq"`
	Topic      string `bun:"topic"`
	EventID    string `bun:"event_id"`
	ReceivedAt int64  `bun:"received_at"`
}

func purgedThrough(ctx context.Context, db bun.IDB) (int64, error) {
	var seq int64
	if err := db.NewSelect().Table("lifecycle").Column("purged_through").Where("id = 1").Scan(ctx, &seq); err != nil {
		return 0, fmt.Errorf("read purge mark: %w", err)
	}
	return seq, nil
}

// oldest returns up to limit rows with seq above after, in seq order, cut
// at the first one received at or after before.
func oldest(ctx context.Context, db bun.IDB, after int64, before time.Time, limit int) ([]eventHead, error) {
	var rows []eventHead
	err := db.NewSelect().Table("events").Column("seq", "topic", "event_id", "received_at").
		Where("seq > ?", after).Order("seq").Limit(int64(limit)).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read oldest events: %w", err)
	}
	cut := EncodeReceivedAt(before)
	for i, row := range rows {
		if row.ReceivedAt >= cut {
			return rows[:i], nil
		}
	}
	return rows, nil
}

// PurgeEventsTx implements app.Purger's PurgeEvents inside an open
// transaction: it empties the oldest rows not purged yet, moves the purge
// mark past them and counts them per topic.
//
// It deletes the rows and inserts their emptied copies under the same seq,
// rather than updating them in place: SQLite leaves the space an update
// frees inside each page (the tombstones then filled under half of their
// pages), while a deleted run of rows frees whole pages and the copies are
// packed densely, at about 60 bytes a key.
func PurgeEventsTx(ctx context.Context, tx bun.IDB, before time.Time, limit int) (int, error) {
	mark, err := purgedThrough(ctx, tx)
	if err != nil {
		return 0, err
	}
	rows, err := oldest(ctx, tx, mark, before, limit)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	last := rows[len(rows)-1].Seq
	var keep []eventRow
	if err := tx.NewSelect().Model(&keep).Column("seq", "topic", "event_id", "payload_digest", "received_at").
		Where("seq > ? AND seq <= ?", mark, last).Order("seq").Scan(ctx); err != nil {
		return 0, fmt.Errorf("purge events: %w", err)
	}
	if _, err := tx.NewDelete().Table("events").Where("seq > ? AND seq <= ?", mark, last).Exec(ctx); err != nil {
		return 0, fmt.Errorf("purge events: %w", err)
	}
	for i := range keep {
		keep[i].Payload = []byte{}
	}
	for chunk := range slices.Chunk(keep, 1000) {
		if _, err := tx.NewInsert().Model(&chunk).Exec(ctx); err != nil {
			return 0, fmt.Errorf("purge events: %w", err)
		}
	}
	if err := countPurged(ctx, tx, rows); err != nil {
		return 0, err
	}
	if err := setPurgedThrough(ctx, tx, last); err != nil {
		return 0, err
	}
	return len(rows), nil
}

// ForgottenKey is the key of an event ForgetKeysTx deleted, and its seq.
type ForgottenKey struct {
	domain.Key
	Seq int64
}

// ForgetKeysTx implements app.Purger's ForgetKeys inside an open
// transaction: it deletes the oldest rows, counting those whose event was
// still stored as purged, and returns their keys.
func ForgetKeysTx(ctx context.Context, tx bun.IDB, before time.Time, limit int) ([]ForgottenKey, error) {
	rows, err := oldest(ctx, tx, 0, before, limit)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	last := rows[len(rows)-1].Seq
	if _, err := tx.NewDelete().Table("events").Where("seq <= ?", last).Exec(ctx); err != nil {
		return nil, fmt.Errorf("forget keys: %w", err)
	}
	mark, err := purgedThrough(ctx, tx)
	if err != nil {
		return nil, err
	}
	stored := slices.DeleteFunc(slices.Clone(rows), func(e eventHead) bool { return e.Seq <= mark })
	if err := countPurged(ctx, tx, stored); err != nil {
		return nil, err
	}
	if last > mark {
		if err := setPurgedThrough(ctx, tx, last); err != nil {
			return nil, err
		}
	}
	keys := make([]ForgottenKey, len(rows))
	for i, row := range rows {
		keys[i] = ForgottenKey{Key: domain.Key{Topic: row.Topic, EventID: row.EventID}, Seq: row.Seq}
	}
	return keys, nil
}

// countPurged adds the rows to their topics' purged counters, in topic
// order so that concurrent writers lock the counter rows in the same order.
func countPurged(ctx context.Context, tx bun.IDB, rows []eventHead) error {
	per := map[string]int64{}
	for _, row := range rows {
		per[row.Topic]++
	}
	topics := make([]string, 0, len(per))
	for t := range per {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		_, err := tx.NewUpdate().Table("topic_stats").Set("purged = purged + ?", per[t]).Where("topic = ?", t).Exec(ctx)
		if err != nil {
			return fmt.Errorf("count purged events of %s: %w", t, err)
		}
	}
	return nil
}

func setPurgedThrough(ctx context.Context, tx bun.IDB, seq int64) error {
	if _, err := tx.NewUpdate().Table("lifecycle").Set("purged_through = ?", seq).Where("id = 1").Exec(ctx); err != nil {
		return fmt.Errorf("move purge mark: %w", err)
	}
	return nil
}

// seqAt returns a seq s such that the events received before t are exactly
// those with seq < s. Received time grows with seq (one committer stamps
// each group with the clock), so a binary search over seq finds it with
// O(log n) primary-key lookups; received_at needs no index.
func (r *Queries) seqAt(ctx context.Context, t time.Time) (int64, error) {
	// Two queries, not one min(seq), max(seq): SQLite answers a lone min or
	// max from the end of the key, but scans the table for both at once.
	var lo, hi int64
	for _, end := range []struct {
		into  *int64
		order string
	}{{&lo, "seq ASC"}, {&hi, "seq DESC"}} {
		err := r.db.NewSelect().Table("events").Column("seq").OrderExpr(end.order).Limit(1).Scan(ctx, end.into)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("find time window: %w", err)
		}
	}
	ns := EncodeReceivedAt(t)
	hi++
	for lo < hi {
		mid := lo + (hi-lo)/2
		// The first row at or above mid: seqs may have gaps.
		var row eventHead
		err := r.db.NewSelect().Table("events").Column("seq", "received_at").
			Where("seq >= ?", mid).Order("seq").Limit(1).Scan(ctx, &row)
		if err != nil {
			return 0, fmt.Errorf("find time window: %w", err)
		}
		if row.ReceivedAt >= ns {
			hi = mid
		} else {
			lo = row.Seq + 1
		}
	}
	return lo, nil
}
