package sqlite

import (
	"context"
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

// ForgetKeys implements app.Purger.
func (r *Repository) ForgetKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	return r.lifecycleTx(ctx, func(ctx context.Context, tx bun.Tx) (int, error) {
		return bunstore.ForgetKeysTx(ctx, tx, before, limit)
	})
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
