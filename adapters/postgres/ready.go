package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/uts-aggregator/uts-aggregator/app"
)

var _ app.WriteChecker = (*Repository)(nil)

// CheckWrite implements app.WriteChecker: it fails on a standby in recovery
// (a replica points at the old primary after a failover) and on a session
// that is read-only (default_transaction_read_only), where Append would fail.
func (r *Repository) CheckWrite(ctx context.Context) error {
	var recovery bool
	var readOnly string
	err := r.writer.QueryRowContext(ctx, "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')").Scan(&recovery, &readOnly)
	switch {
	case err != nil:
		return storeFault(fmt.Errorf("check write: %w", err))
	case recovery:
		return errors.New("the database is a standby in recovery and takes no writes")
	case readOnly == "on":
		return errors.New("the database session is read-only (default_transaction_read_only)")
	}
	return nil
}
