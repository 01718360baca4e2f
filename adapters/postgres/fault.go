package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// storeFault marks the errors of a server that cannot be reached, is
// shutting down or starting, is out of disk or takes no writes with the
// app's store faults, so that the API answers 503 or 507 rather than 500.
// The pool replaces the broken connections, so the store recovers by itself
// once the server is back.
func storeFault(err error) error {
	if err == nil || app.IsStoreFault(err) || errors.Is(err, context.Canceled) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "53100": // disk_full
			return fmt.Errorf("%w: %w", app.ErrStoreFull, err)
		case pgErr.Code == "25006": // read_only_sql_transaction
			return fmt.Errorf("%w: %w", app.ErrStoreReadOnly, err)
		case strings.HasPrefix(pgErr.Code, "08"), // connection exceptions
			strings.HasPrefix(pgErr.Code, "57P"), // admin shutdown, crash shutdown, cannot connect now
			pgErr.Code == "53300":                // too many connections
			return fmt.Errorf("%w: %w", app.ErrStoreUnavailable, err)
		}
		return err
	}
	var (
		netErr     net.Error
		connectErr *pgconn.ConnectError
	)
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "conn closed") {
		return fmt.Errorf("%w: %w", app.ErrStoreUnavailable, err)
	}
	return err
}

// List implements app.EventRepository.
func (r *Repository) List(ctx context.Context, q app.ListQuery) ([]domain.StoredEvent, error) {
	events, err := r.Queries.List(ctx, q)
	return events, storeFault(err)
}

// Get implements app.EventRepository.
func (r *Repository) Get(ctx context.Context, key domain.Key) (domain.StoredEvent, error) {
	e, err := r.Queries.Get(ctx, key)
	return e, storeFault(err)
}

// Stats implements app.EventRepository.
func (r *Repository) Stats(ctx context.Context) ([]app.TopicStats, error) {
	stats, err := r.Queries.Stats(ctx)
	return stats, storeFault(err)
}
