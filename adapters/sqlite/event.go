package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/internal/bunstore"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// The write path runs prepared statements: an insert per event (a lookup only
// when it was a duplicate) and a counters upsert per topic, instead of Bun's
// multi-row INSERT ... RETURNING. SQLite then needs neither a statement
// journal nor a RETURNING buffer, and nothing is parsed per commit; both
// dominated the profile.
const (
	insertSQL = `INSERT INTO events (topic, event_id, source, payload, payload_digest, timestamp, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (topic, event_id) DO NOTHING`
	lookupSQL = `SELECT seq, payload_digest FROM events WHERE topic = ? AND event_id = ?`
	countSQL  = `INSERT INTO topic_stats (topic, received, accepted, dropped, conflicts) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (topic) DO UPDATE SET received = received + excluded.received, accepted = accepted + excluded.accepted,
		dropped = dropped + excluded.dropped, conflicts = conflicts + excluded.conflicts`
)

type writeStmts struct {
	insert, lookup, count *sql.Stmt
}

func (s writeStmts) close() {
	for _, st := range []*sql.Stmt{s.insert, s.lookup, s.count} {
		if st != nil {
			st.Close()
		}
	}
}

// openWriter takes one connection for all writes, with a larger page cache
// than the readers' and the write statements prepared on it once.
func (r *Repository) openWriter(ctx context.Context, cacheMiB int) error {
	conn, err := r.db.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open writer connection: %w", err)
	}
	r.writer = conn
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", cacheMiB<<10)); err != nil {
		return fmt.Errorf("writer cache size: %w", err)
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{{&r.stmts.insert, insertSQL}, {&r.stmts.lookup, lookupSQL}, {&r.stmts.count, countSQL}} {
		if *p.stmt, err = conn.PrepareContext(ctx, p.sql); err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
	}
	return nil
}

// Append implements app.EventRepository in one transaction on the writer
// connection.
func (r *Repository) Append(ctx context.Context, events []domain.Event, receivedAt time.Time) (_ []domain.Outcome, err error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if _, err := r.writer.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			r.writer.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	outcomes, counts, err := r.insert(ctx, events, bunstore.EncodeReceivedAt(receivedAt))
	if err != nil {
		return nil, err
	}
	for topic, c := range counts {
		if _, err := r.stmts.count.ExecContext(ctx, topic, c.Received, c.Accepted, c.Dropped, c.Conflicts); err != nil {
			return nil, fmt.Errorf("update counters of %s: %w", topic, err)
		}
	}
	if _, err := r.writer.ExecContext(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return outcomes, nil
}

// insert stores the events that are new and tallies every outcome per topic.
func (r *Repository) insert(ctx context.Context, events []domain.Event, receivedAt int64) ([]domain.Outcome, map[string]domain.Counters, error) {
	outcomes := make([]domain.Outcome, len(events))
	for i, e := range events {
		digest := domain.PayloadDigest(e.Payload)
		res, err := r.stmts.insert.ExecContext(ctx, e.Topic, e.EventID, e.Source, e.Payload, digest,
			bunstore.EncodeTimestamp(e.Timestamp), receivedAt)
		if err != nil {
			return nil, nil, fmt.Errorf("insert event: %w", err)
		}
		o := domain.Outcome{Status: domain.Accepted}
		if n, _ := res.RowsAffected(); n == 1 {
			o.Seq, err = res.LastInsertId()
		} else {
			var stored int64
			err = r.stmts.lookup.QueryRowContext(ctx, e.Topic, e.EventID).Scan(&o.Seq, &stored)
			o.Status = domain.Classify(stored, digest)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("event %s/%s: %w", e.Topic, e.EventID, err)
		}
		outcomes[i] = o
	}
	return outcomes, domain.CountByTopic(events, outcomes), nil
}

var _ app.WriteChecker = (*Repository)(nil)

// CheckWrite implements app.WriteChecker: it takes the write lock of the
// database and releases it, which fails when the database can only be read
// (a file or directory the process may not write, a full or read-only disk).
func (r *Repository) CheckWrite(ctx context.Context) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if _, err := r.writer.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin a write: %w", err)
	}
	if _, err := r.writer.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}
