package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/uts-aggregator/uts-aggregator/adapters/postgres/pgtest"
)

// A database that turns read-only under a running server makes CheckWrite,
// and so /readyz, fail.
func TestCheckWriteFailsOnAReadOnlyDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	repo := mustOpen(t, dsn)
	if err := repo.CheckWrite(ctx); err != nil {
		t.Fatalf("CheckWrite on a writable database: %v", err)
	}

	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin := stdlib.OpenDB(*cfg)
	defer admin.Close()
	var name string
	if err := admin.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"ALTER DATABASE " + name + " SET default_transaction_read_only = on",
		// The setting applies to new sessions: end the repository's.
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		// The first calls may fail on the terminated connections; the
		// pool then reconnects and sees the read-only setting.
		if last = repo.CheckWrite(ctx); last != nil && strings.Contains(last.Error(), "read-only") {
			return
		}
	}
	t.Fatalf("CheckWrite on a read-only database = %v, want a read-only error", last)
}
