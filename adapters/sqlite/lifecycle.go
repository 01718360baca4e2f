package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/uts-aggregator/uts-aggregator/adapters/internal/bunstore"
	"github.com/uts-aggregator/uts-aggregator/app"
)

var _ app.Purger = (*Repository)(nil)

// PurgeEvents implements app.Purger. It takes the writer's turn like
// Append, so one call of a small limit delays a commit by a few
// milliseconds at most.
func (r *Repository) PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	return r.lifecycleTx(ctx, func(ctx context.Context, tx bun.Tx) (int, error) {
		return bunstore.PurgeEventsTx(ctx, tx, before, limit)
	})
}

// ForgetKeys implements app.Purger. The forgotten events' entries leave the
// dedup index in the same transaction; entries still in memory are skipped
// by the merge and fail confirmation until then, their events being gone.
func (r *Repository) ForgetKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	var last int64
	n, err := r.lifecycleTx(ctx, func(ctx context.Context, tx bun.Tx) (int, error) {
		gone, err := r.oldestKeys(ctx, tx, before, limit)
		if err != nil {
			return 0, err
		}
		n, err := bunstore.ForgetKeysTx(ctx, tx, before, limit)
		if err != nil {
			return 0, err
		}
		if n != len(gone) {
			return 0, fmt.Errorf("forget keys: %d events selected, %d deleted", len(gone), n)
		}
		for _, k := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM dedup_keys WHERE h = ? AND seq = ?`, int64(k.h), k.seq); err != nil {
				return 0, fmt.Errorf("forget key: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM dedup_overflow WHERE topic = ? AND event_id = ? AND seq = ?`,
				k.key.Topic, k.key.EventID, k.seq); err != nil {
				return 0, fmt.Errorf("forget key: %w", err)
			}
			last = max(last, k.seq)
		}
		return n, nil
	})
	if err == nil && last > 0 {
		r.writeMu.Lock()
		r.index.forgotten = max(r.index.forgotten, last)
		r.writeMu.Unlock()
	}
	return n, err
}

// oldestKeys returns the keys ForgetKeysTx deletes: the oldest events, up
// to limit, cut at the first one received at or after before.
func (r *Repository) oldestKeys(ctx context.Context, tx bun.Tx, before time.Time, limit int) ([]newKey, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, topic, event_id, received_at FROM events ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read oldest keys: %w", err)
	}
	defer rows.Close()
	var out []newKey
	cut := bunstore.EncodeReceivedAt(before)
	for rows.Next() {
		var k newKey
		var at int64
		if err := rows.Scan(&k.seq, &k.key.Topic, &k.key.EventID, &at); err != nil {
			return nil, fmt.Errorf("read oldest keys: %w", err)
		}
		if at >= cut {
			break
		}
		k.h = r.index.hash(k.key.Topic, k.key.EventID)
		out = append(out, k)
	}
	return out, rows.Err()
}

func (r *Repository) lifecycleTx(ctx context.Context, f func(context.Context, bun.Tx) (int, error)) (int, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	var n int
	err := r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) (err error) {
		n, err = f(ctx, tx)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
