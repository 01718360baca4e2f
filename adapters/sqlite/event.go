package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/internal/bunstore"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// The write path runs two prepared statements per event instead of one
// multi-row INSERT ... RETURNING: SQLite then needs neither a statement
// journal nor a RETURNING buffer, which dominated the profile.
const (
	insertSQL = `INSERT INTO events (topic, event_id, source, payload, payload_digest, timestamp, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (topic, event_id) DO NOTHING`
	lookupSQL = `SELECT seq, payload_digest FROM events WHERE topic = ? AND event_id = ?`
)

type writeStmts struct {
	insert, lookup *sql.Stmt
}

func prepareWrites(ctx context.Context, db *sql.DB) (writeStmts, error) {
	var s writeStmts
	var err error
	if s.insert, err = db.PrepareContext(ctx, insertSQL); err != nil {
		return s, fmt.Errorf("prepare insert: %w", err)
	}
	if s.lookup, err = db.PrepareContext(ctx, lookupSQL); err != nil {
		return s, fmt.Errorf("prepare lookup: %w", err)
	}
	return s, nil
}

// Append implements app.EventRepository in one transaction. Writers take
// turns: SQLite allows one at a time.
func (r *Repository) Append(ctx context.Context, events []domain.Event, receivedAt time.Time) ([]domain.Outcome, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	insert, lookup := tx.Tx.StmtContext(ctx, r.stmts.insert), tx.Tx.StmtContext(ctx, r.stmts.lookup)
	recv := receivedAt.UnixNano()
	outcomes := make([]domain.Outcome, len(events))
	counts := map[string]*domain.Counters{}
	for i, e := range events {
		digest := domain.PayloadDigest(e.Payload)
		var ts any
		if !e.Timestamp.IsZero() {
			ts = e.Timestamp.Format(time.RFC3339Nano)
		}
		res, err := insert.ExecContext(ctx, e.Topic, e.EventID, e.Source, e.Payload, digest, ts, recv)
		if err != nil {
			return nil, fmt.Errorf("insert event: %w", err)
		}
		o := domain.Outcome{Status: domain.Accepted}
		if n, _ := res.RowsAffected(); n == 1 {
			o.Seq, err = res.LastInsertId()
		} else {
			var stored int64
			err = lookup.QueryRowContext(ctx, e.Topic, e.EventID).Scan(&o.Seq, &stored)
			o.Status = domain.Classify(stored, digest)
		}
		if err != nil {
			return nil, fmt.Errorf("event %s/%s: %w", e.Topic, e.EventID, err)
		}
		outcomes[i] = o
		c := counts[e.Topic]
		if c == nil {
			c = &domain.Counters{}
			counts[e.Topic] = c
		}
		c.Count(o.Status)
	}
	if err := bunstore.AddCounts(ctx, tx, counts); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return outcomes, nil
}
