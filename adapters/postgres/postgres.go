// Package postgres is the EventRepository for several aggregator replicas
// sharing one PostgreSQL database. Reads, migrations and imports go through
// Bun's pgdialect over pgx's database/sql driver; Append talks to pgx
// directly (write.go) to pipeline its statements with binary array values.
//
// Durability: every connection runs with synchronous_commit=on, so a commit
// returns only once its WAL is flushed to disk (given the server keeps fsync
// on); Append's nil error means the same as on SQLite.
//
// Ordering: Append takes a transaction-level advisory lock before it
// allocates seqs and holds it until commit, so transactions from all
// replicas commit in seq order and a reader paging by seq never skips a
// row that commits later with a lower seq.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/uts-aggregator/uts-aggregator/adapters/internal/bunstore"
	"github.com/uts-aggregator/uts-aggregator/app"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Advisory lock keys, chosen at random; they only need to differ from the
// keys other applications on the same database use.
const (
	migrateLockKey int64 = 0x5a67_6d69_6772_6174 // serialises schema migration across replicas
	seqLockKey     int64 = 0x5a67_7365_716f_7264 // makes seqs commit in order
)

// Options tune the connection pool.
type Options struct {
	// MaxConns caps the connections for reads, imports and migrations
	// (default 10); Append has a pool of its own of 2 more. Size the
	// server's max_connections for replicas × (MaxConns + 2) plus headroom.
	MaxConns int
	// MaxIdleConns is how many idle connections are kept (default MaxConns).
	MaxIdleConns int
	// ConnMaxLifetime recycles connections after this long (default 30m), so
	// that a failover or a pooler restart is picked up.
	ConnMaxLifetime time.Duration
}

// Repository is the PostgreSQL EventRepository.
type Repository struct {
	*bunstore.Queries
	db     *bun.DB
	writer *sql.DB // Append's own small pool; see writeConns
}

var (
	_ app.EventRepository = (*Repository)(nil)
	_ app.EventLoader     = (*Repository)(nil)
)

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string, as libpq takes) and brings its schema up to date.
// Replicas may call it at the same time: migrations run under an advisory
// lock.
func Open(ctx context.Context, dsn string, opts Options) (*Repository, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	if opts.MaxIdleConns <= 0 || opts.MaxIdleConns > opts.MaxConns {
		opts.MaxIdleConns = opts.MaxConns
	}
	if opts.ConnMaxLifetime <= 0 {
		opts.ConnMaxLifetime = 30 * time.Minute
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	// A commit acknowledged to a publisher must be on disk, whatever the
	// server's or the role's default says.
	cfg.RuntimeParams["synchronous_commit"] = "on"
	// The write path's few fixed statements are prepared once per
	// connection and exchange binary values. Bun writes the values into the
	// SQL text, so its statements are new each time: run them as unnamed
	// statements in one round trip, with nothing to prepare or cache.
	writeCfg := cfg.Copy()
	writeCfg.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	sqldb := stdlib.OpenDB(*cfg)
	db := bun.NewDB(sqldb, pgdialect.New())
	if err := migrateUp(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	// Limits are set after migrating, which needs two connections at once.
	sqldb.SetMaxOpenConns(opts.MaxConns)
	sqldb.SetMaxIdleConns(opts.MaxIdleConns)
	sqldb.SetConnMaxLifetime(opts.ConnMaxLifetime)
	writer := stdlib.OpenDB(*writeCfg)
	writer.SetMaxOpenConns(writeConns)
	writer.SetMaxIdleConns(writeConns)
	writer.SetConnMaxLifetime(opts.ConnMaxLifetime)
	return &Repository{
		Queries: bunstore.New(db),
		db:      db,
		writer:  writer,
	}, nil
}

// writeConns is the size of the pool Append uses. A server appends from one
// group-commit goroutine, and the seq-order lock lets one Append insert at a
// time anyway.
const writeConns = 2

// migrateUp applies the embedded migrations while holding a session advisory
// lock on a connection of its own, so that replicas starting together
// migrate one after the other and the later ones find nothing to do.
func migrateUp(ctx context.Context, db *bun.DB) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrateLockKey); err != nil {
		return fmt.Errorf("lock for migration: %w", err)
	}
	defer func() {
		// A fresh context: the unlock must run even if ctx has ended.
		_, uerr := conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(?)", migrateLockKey)
		if uerr != nil {
			// Closing the connection below ends the session and its lock.
			conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, fmt.Errorf("unlock after migration: %w", uerr))
		}
	}()
	return bunstore.Migrate(ctx, db, migrationFiles)
}

// Close closes the connection pool.
func (r *Repository) Close() error { return errors.Join(r.writer.Close(), r.db.Close()) }
