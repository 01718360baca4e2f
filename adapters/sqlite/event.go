package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/internal/bunstore"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// The write path runs prepared statements on one connection: a lookup in the
// dedup index (dedup.go) and an append per event, a counters upsert per
// topic, and a step of a running merge. Nothing is parsed per commit.
const (
	// Seqs are assigned by the writer (Repository.nextSeq), never reused:
	// SQLite's own rowid choice would reuse the seqs of the newest events
	// once the dedup window deleted them all, and the dedup and purge
	// watermarks count on seqs only growing.
	insertSQL = `INSERT INTO events (seq, topic, event_id, source, payload, payload_digest, timestamp, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	countSQL = `INSERT INTO topic_stats (topic, received, accepted, dropped, conflicts) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (topic) DO UPDATE SET received = received + excluded.received, accepted = accepted + excluded.accepted,
		dropped = dropped + excluded.dropped, conflicts = conflicts + excluded.conflicts`
)

type writeStmts struct {
	insert, count                            *sql.Stmt
	eventKey, diskKey, diskOver              *sql.Stmt
	keyInsert, keySeq, overInsert, watermark *sql.Stmt
}

func (s *writeStmts) each() []struct {
	stmt **sql.Stmt
	sql  string
} {
	return []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.insert, insertSQL}, {&s.count, countSQL},
		{&s.eventKey, eventKeySQL}, {&s.diskKey, diskKeySQL}, {&s.diskOver, diskOverSQL},
		{&s.keyInsert, keyInsertSQL}, {&s.keySeq, keySeqSQL}, {&s.overInsert, overInsertSQL},
		{&s.watermark, watermarkSQL},
	}
}

func (s *writeStmts) close() {
	for _, p := range s.each() {
		if *p.stmt != nil {
			(*p.stmt).Close()
			*p.stmt = nil
		}
	}
}

// openWriter takes one connection for all writes, with a larger page cache
// than the readers' and the write statements prepared on it once.
func (r *Repository) openWriter(ctx context.Context) error {
	conn, err := r.db.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open writer connection: %w", err)
	}
	r.writer = conn
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", r.opts.WriterCacheMiB<<10)); err != nil {
		return fmt.Errorf("writer cache size: %w", err)
	}
	for _, p := range r.stmts.each() {
		if *p.stmt, err = conn.PrepareContext(ctx, p.sql); err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
	}
	return nil
}

// closeWriter closes the writer's statements and connection. A discarded
// connection is closed for good, not returned to the pool.
func (r *Repository) closeWriter(discard bool) {
	if r.writer == nil {
		return
	}
	r.stmts.close()
	if discard {
		r.writer.Raw(func(any) error { return driver.ErrBadConn })
	}
	r.writer.Close()
	r.writer = nil
}

// begin starts a write transaction, first replacing a writer that an
// earlier failure left unusable.
func (r *Repository) begin(ctx context.Context) error {
	if r.writer == nil {
		if err := r.openWriter(ctx); err != nil {
			r.closeWriter(true)
			return fmt.Errorf("reopen writer: %w", err)
		}
	}
	if _, err := r.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return nil
}

// rollback ends a failed write transaction. If ROLLBACK itself fails, the
// connection may still be inside the transaction, where every later BEGIN
// would fail: it is discarded, and the next write opens a new one.
func (r *Repository) rollback(ctx context.Context) error {
	_, err := r.exec(context.WithoutCancel(ctx), "ROLLBACK")
	if err != nil {
		r.closeWriter(true)
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// exec runs a transaction-control statement on the writer. failExec, set
// by tests only, makes it fail instead.
func (r *Repository) exec(ctx context.Context, stmt string) (sql.Result, error) {
	if r.failExec != nil {
		if err := r.failExec(stmt); err != nil {
			return nil, err
		}
	}
	return r.writer.ExecContext(ctx, stmt)
}

// Append implements app.EventRepository in one transaction on the writer
// connection.
func (r *Repository) Append(ctx context.Context, events []domain.Event, receivedAt time.Time) (_ []domain.Outcome, err error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.index.installFilter()
	defer func() { err = storeFault(err) }()
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			r.rollback(ctx)
		}
	}()
	outcomes, added, err := r.insert(ctx, events, bunstore.EncodeReceivedAt(receivedAt))
	if err != nil {
		return nil, err
	}
	for topic, c := range domain.CountByTopic(events, outcomes) {
		if _, err := r.stmts.count.ExecContext(ctx, topic, c.Received, c.Accepted, c.Dropped, c.Conflicts); err != nil {
			return nil, fmt.Errorf("update counters of %s: %w", topic, err)
		}
	}
	if err := r.commit(ctx, added); err != nil {
		return nil, err
	}
	return outcomes, nil
}

// commit runs a merge step, commits, and then makes the transaction's keys
// visible in memory.
func (r *Repository) commit(ctx context.Context, added []newKey) error {
	merged, done, err := r.mergeStep(ctx, len(added))
	if err != nil {
		return err
	}
	if _, err := r.exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if merged > 0 {
		r.merged(merged, done)
	}
	for _, a := range added {
		r.nextSeq = max(r.nextSeq, a.seq+1)
	}
	r.index.publish(added)
	r.index.maybeFreeze()
	return nil
}

// insert stores the events that are new and returns every outcome and the
// keys it stored.
func (r *Repository) insert(ctx context.Context, events []domain.Event, receivedAt int64) ([]domain.Outcome, []newKey, error) {
	outcomes := make([]domain.Outcome, len(events))
	var (
		added []newKey
		batch map[domain.Key]int // key -> index in added
	)
	for i, e := range events {
		k := e.Key()
		digest := domain.PayloadDigest(e.Payload)
		if j, ok := batch[k]; ok {
			outcomes[i] = domain.Outcome{Status: domain.Classify(added[j].digest, digest), Seq: added[j].seq}
			continue
		}
		h := r.index.hash(e.Topic, e.EventID)
		seq, stored, found, err := r.find(ctx, h, k)
		if err != nil {
			return nil, nil, fmt.Errorf("event %s/%s: %w", e.Topic, e.EventID, err)
		}
		if found {
			outcomes[i] = domain.Outcome{Status: domain.Classify(stored, digest), Seq: seq}
			continue
		}
		seq = r.nextSeq + int64(len(added))
		if _, err := r.stmts.insert.ExecContext(ctx, seq, e.Topic, e.EventID, e.Source, e.Payload, digest,
			bunstore.EncodeTimestamp(e.Timestamp), receivedAt); err != nil {
			return nil, nil, fmt.Errorf("insert event: %w", err)
		}
		outcomes[i] = domain.Outcome{Status: domain.Accepted, Seq: seq}
		if batch == nil {
			batch = make(map[domain.Key]int, len(events))
		}
		batch[k] = len(added)
		added = append(added, newKey{h: h, key: k, seq: seq, digest: digest})
	}
	return outcomes, added, nil
}

// Get implements app.EventRepository through the dedup index, on a reading
// connection.
func (r *Repository) Get(ctx context.Context, key domain.Key) (domain.StoredEvent, error) {
	h := r.index.hash(key.Topic, key.EventID)
	for _, seq := range r.index.memCandidates(h, key) {
		e, err := r.Queries.GetAt(ctx, seq, key)
		if !errors.Is(err, app.ErrNotFound) {
			return e, err
		}
	}
	var cands []int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{keySeqSQL, []any{int64(h)}},
		{`SELECT seq FROM dedup_overflow WHERE topic = ? AND event_id = ?`, []any{key.Topic, key.EventID}},
	} {
		var seq int64
		err := r.db.QueryRowContext(ctx, q.sql, q.args...).Scan(&seq)
		if err != nil && !isNoRows(err) {
			return domain.StoredEvent{}, fmt.Errorf("get event: %w", err)
		}
		if err == nil {
			cands = append(cands, seq)
		}
	}
	for _, seq := range cands {
		e, err := r.Queries.GetAt(ctx, seq, key)
		if !errors.Is(err, app.ErrNotFound) {
			return e, err
		}
	}
	return domain.StoredEvent{}, app.ErrNotFound
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

var _ app.WriteChecker = (*Repository)(nil)

// CheckWrite implements app.WriteChecker: it takes the write lock of the
// database and releases it, which fails when the database can only be read
// (a file or directory the process may not write, a full or read-only disk).
func (r *Repository) CheckWrite(ctx context.Context) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if err := r.begin(ctx); err != nil {
		return storeFault(fmt.Errorf("begin a write: %w", err))
	}
	return storeFault(r.rollback(ctx))
}
