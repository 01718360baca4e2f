// Package sqlite is the embedded, durable EventRepository: Bun on SQLite
// through a pure-Go driver, so the server builds as a static binary.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"modernc.org/sqlite" // the pure-Go driver, registered as "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/uts-aggregator/uts-aggregator/adapters/internal/bunstore"
	"github.com/uts-aggregator/uts-aggregator/app"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// maxConns bounds the connections: the writer's plus three for readers.
const maxConns = 4

// FileName is the database file inside the data directory.
const FileName = "aggregator.db"

// LockFileName is the file a process that opens the store locks.
const LockFileName = "aggregator.lock"

// Errors of Open.
var (
	// ErrLocked: another process has the store open.
	ErrLocked = errors.New("the store is in use by another process")
	// ErrCorrupt: the database file is not a SQLite database, or damaged.
	ErrCorrupt = errors.New("the database file is not a SQLite database or is damaged")
)

// Options tune the database.
type Options struct {
	// Synchronous is SQLite's synchronous pragma: "full" (default) makes
	// every commit reach the disk before Append returns, surviving power
	// loss; "normal" survives a process crash but may lose the last commits
	// on power loss.
	Synchronous string
	// WriterCacheMiB is the page cache of the writing connection (16 by
	// default): the indexes' hot pages live there.
	WriterCacheMiB int
	// ReaderCacheMiB is the page cache of each reading connection (4 by
	// default).
	ReaderCacheMiB int

	// For tests: the index hash (xxhash64 when nil) and the merge sizes.
	keyHash                         keyHash
	mergeAt, mergeStep, bulkMergeAt int
}

// Repository is the SQLite EventRepository.
type Repository struct {
	*bunstore.Queries
	db *bun.DB
	// writeMu guards the writer: SQLite has one writer at a time, so writes
	// queue here rather than on SQLITE_BUSY.
	writeMu sync.Mutex
	lock    *os.File  // the data directory's lock, held until Close
	writer  *sql.Conn // the one connection Append writes on; nil after a failure until the next write
	nextSeq int64     // the seq of the next new event
	stmts   writeStmts
	index   *index
	opts    Options
	// failExec, set by tests only, fails transaction-control statements.
	failExec func(stmt string) error
}

var _ app.EventRepository = (*Repository)(nil)

// Open opens (creating if needed) the database in dir and brings its schema
// up to date.
func Open(ctx context.Context, dir string, opts Options) (*Repository, error) {
	if opts.Synchronous == "" {
		opts.Synchronous = "full"
	}
	if opts.Synchronous != "full" && opts.Synchronous != "normal" {
		return nil, fmt.Errorf("sqlite synchronous must be full or normal, not %q", opts.Synchronous)
	}
	if opts.WriterCacheMiB <= 0 {
		opts.WriterCacheMiB = 16
	}
	if opts.ReaderCacheMiB <= 0 {
		opts.ReaderCacheMiB = 4
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	r, err := open(ctx, dir, opts)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, openError(dir, err)
	}
	r.lock = lock
	return r, nil
}

// openError explains the errors of a database that cannot be opened.
func openError(dir string, err error) error {
	path := filepath.Join(dir, FileName)
	if errors.Is(err, bunstore.ErrNewerSchema) {
		return fmt.Errorf("%s: %w", path, err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("%w: %s (%v); restore it from a backup, or move it away to start with an empty store", ErrCorrupt, path, se)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w: %s is locked (%v); stop the process that holds it", ErrLocked, path, se)
	}
	return err
}

func open(ctx context.Context, dir string, opts Options) (*Repository, error) {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(" + opts.Synchronous + ")",
		"busy_timeout(10000)",
		fmt.Sprintf("cache_size(-%d)", opts.ReaderCacheMiB<<10),
		"temp_store(memory)",
		// A checkpoint that resets the WAL also truncates it to this size,
		// so a WAL that grew while readers held it back shrinks again.
		"journal_size_limit(16777216)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := fileURI(filepath.Join(dir, FileName)) + "?" + q.Encode()
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// Keep connections open: closing one drops its page cache.
	sqldb.SetMaxOpenConns(maxConns)
	sqldb.SetMaxIdleConns(maxConns)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	if err := bunstore.Migrate(ctx, db, migrationFiles); err != nil {
		db.Close()
		return nil, err
	}
	r := &Repository{
		Queries: bunstore.New(db), db: db, opts: opts,
		index: newIndex(opts),
	}
	if err := r.openWriter(ctx); err != nil {
		r.Close()
		return nil, err
	}
	if err := r.loadIndex(ctx); err != nil {
		r.Close()
		return nil, err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.index.stop = stop
	r.index.wg.Add(1)
	go r.buildFilter(bg)
	return r, nil
}

// fileURI is the SQLite URI of a file path: forward slashes, escaped, and
// on Windows a drive letter after a slash ("file:/C:/data/aggregator.db"),
// the form SQLite documents for Windows paths.
func fileURI(path string) string {
	p := filepath.ToSlash(path)
	if filepath.VolumeName(path) != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return "file:" + (&url.URL{Path: p}).EscapedPath()
}

// Close closes the database.
func (r *Repository) Close() error {
	if r.index.stop != nil {
		r.index.stop()
	}
	r.index.wg.Wait()
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.closeWriter(false)
	err := r.db.Close()
	if r.lock != nil {
		r.lock.Close()
	}
	return err
}
