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
	}, nil)
}

// ForgetKeys implements app.Purger. The forgotten events' entries leave the
// dedup index in the same transaction; entries still in memory are skipped
// by the merge and fail confirmation until then, their events being gone.
func (r *Repository) ForgetKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	var last int64
	return r.lifecycleTx(ctx, func(ctx context.Context, tx bun.Tx) (int, error) {
		gone, err := bunstore.ForgetKeysTx(ctx, tx, before, limit)
		if err != nil {
			return 0, err
		}
		for _, k := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM dedup_keys WHERE h = ? AND seq = ?`,
				int64(r.index.hash(k.Topic, k.EventID)), k.Seq); err != nil {
				return 0, fmt.Errorf("forget key: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM dedup_overflow WHERE topic = ? AND event_id = ? AND seq = ?`,
				k.Topic, k.EventID, k.Seq); err != nil {
				return 0, fmt.Errorf("forget key: %w", err)
			}
			last = max(last, k.Seq)
		}
		return len(gone), nil
	}, func() { r.index.forgotten = max(r.index.forgotten, last) })
}

// lifecycleTx runs f in a transaction on the writer's turn, then committed,
// if any, still on that turn.
func (r *Repository) lifecycleTx(ctx context.Context, f func(context.Context, bun.Tx) (int, error), committed func()) (int, error) {
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
	if committed != nil {
		committed()
	}
	return n, nil
}
