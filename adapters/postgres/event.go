package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// Append implements app.EventRepository in one transaction.
//
// Seqs come from an identity sequence, which hands out numbers at insert
// time, not at commit time: without more, two transactions on two replicas
// could commit seq 8 before seq 7, and a reader that paged past 8 in
// between would never see 7. So each Append first takes a transaction-level
// advisory lock, released only once the commit is durable and visible:
// transactions that insert commit one at a time, in seq order. Each
// replica's group commit already merges its concurrent publishes into one
// Append, so the lock is taken once per group, not once per request.
func (r *Repository) Append(ctx context.Context, events []domain.Event, receivedAt time.Time) ([]domain.Outcome, error) {
	outcomes, err := r.appendEvents(ctx, events, receivedAt)
	return outcomes, storeFault(err)
}

// LoadEvents implements app.EventLoader. It moves the identity sequence past
// the highest loaded seq, so that Append continues above it.
func (r *Repository) LoadEvents(ctx context.Context, events []domain.StoredEvent) error {
	return r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := lockSeq(ctx, tx); err != nil {
			return err
		}
		if err := r.LoadEventsTx(ctx, tx, events); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('events', 'seq'), max(seq)) FROM events`)
		if err != nil {
			return fmt.Errorf("advance seq: %w", err)
		}
		return nil
	})
}

func lockSeq(ctx context.Context, tx bun.Tx) error {
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", seqLockKey); err != nil {
		return fmt.Errorf("lock seq order: %w", err)
	}
	return nil
}
