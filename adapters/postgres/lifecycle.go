package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/uts-aggregator/uts-aggregator/adapters/internal/bunstore"
	"github.com/uts-aggregator/uts-aggregator/app"
)

var _ app.Purger = (*Repository)(nil)

// purgeLockKey serialises the lifecycle of all replicas: each runs its own
// sweep, and two purging the same rows at once would count them twice.
const purgeLockKey int64 = 0x5a67_7075_7267_6521

// PurgeEvents implements app.Purger. It does not hold up Append: it only
// rewrites rows far below the ones being inserted.
func (r *Repository) PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	return r.lifecycleTx(ctx, false, func(ctx context.Context, tx bun.Tx) (int, error) {
		return bunstore.PurgeEventsTx(ctx, tx, before, limit)
	})
}

// ForgetKeys implements app.Purger. It holds the seq-order lock, so that an
// Append never finds a key it conflicted with deleted before it could read
// the stored seq.
func (r *Repository) ForgetKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	return r.lifecycleTx(ctx, true, func(ctx context.Context, tx bun.Tx) (int, error) {
		keys, err := bunstore.ForgetKeysTx(ctx, tx, before, limit)
		return len(keys), err
	})
}

func (r *Repository) lifecycleTx(ctx context.Context, ordered bool, f func(context.Context, bun.Tx) (int, error)) (int, error) {
	var n int
	err := r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) (err error) {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", purgeLockKey); err != nil {
			return fmt.Errorf("lock lifecycle: %w", err)
		}
		if ordered {
			if err := lockSeq(ctx, tx); err != nil {
				return err
			}
		}
		n, err = f(ctx, tx)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
