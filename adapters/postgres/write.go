package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/uts-aggregator/uts-aggregator/adapters/internal/bunstore"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// The write path talks to pgx directly, for two reasons.
//
// Each column goes as one array parameter that unnest turns into rows, so
// the statement text never changes and the values travel in binary; a
// multi-row INSERT written out by Bun costs PostgreSQL a fresh parse of
// ~250 kB of SQL per thousand events.
//
// And the statements are pipelined: BEGIN, the seq-order lock and the insert
// go in one round trip, the counters and COMMIT in a second (with a lookup
// of the keys that were already stored in between, when there are any). On
// a busy host every round trip costs two process wake-ups.
const (
	insertSQL = `INSERT INTO events (topic, event_id, source, payload, payload_digest, timestamp, received_at)
SELECT t, i, s, p, d, ts, r
FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::text[], $7::bigint[])
	WITH ORDINALITY AS u(t, i, s, p, d, ts, r, ord)
ORDER BY ord -- seqs follow the request order
ON CONFLICT (topic, event_id) DO NOTHING
RETURNING seq, topic, event_id`

	lookupSQL = `SELECT e.seq, e.topic, e.event_id, e.payload_digest
FROM unnest($1::text[], $2::text[]) AS k(topic, event_id)
JOIN events e ON e.topic = k.topic AND e.event_id = k.event_id`

	countersSQL = `INSERT INTO topic_stats AS t (topic, received, accepted, dropped, conflicts)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
ON CONFLICT (topic) DO UPDATE SET
	received = t.received + EXCLUDED.received,
	accepted = t.accepted + EXCLUDED.accepted,
	dropped = t.dropped + EXCLUDED.dropped,
	conflicts = t.conflicts + EXCLUDED.conflicts`
)

// stored is where an event's key ended up: the row's seq and payload
// digest, and whether this Append inserted it.
type stored struct {
	seq      int64
	digest   int64
	inserted bool
}

// appendEvents is Append's transaction on a connection of the writer pool.
func (r *Repository) appendEvents(ctx context.Context, events []domain.Event, receivedAt time.Time) ([]domain.Outcome, error) {
	conn, err := r.writer.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	defer conn.Close()
	var (
		outcomes []domain.Outcome
		txErr    error
	)
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		outcomes, txErr = appendTx(ctx, pc, events, receivedAt)
		if txErr != nil && !pc.PgConn().IsClosed() && pc.PgConn().TxStatus() != 'I' {
			// A fresh context: the rollback must run even if ctx ended.
			if _, err := pc.Exec(context.Background(), "ROLLBACK"); err != nil {
				// The pool must not reuse a connection in an unknown state.
				return driver.ErrBadConn
			}
		}
		return nil
	})
	if txErr != nil {
		return nil, txErr
	}
	if err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	return outcomes, nil
}

// appendTx inserts the new events in request order, finds the rows of the
// keys that were already stored, decides each event's outcome and adds the
// counters, in one transaction of two or three round trips.
func appendTx(ctx context.Context, pc *pgx.Conn, events []domain.Event, receivedAt time.Time) ([]domain.Outcome, error) {
	w := newWrite(events)
	got, err := w.beginAndInsert(ctx, pc, receivedAt)
	if err != nil {
		return nil, err
	}
	if err := w.lookUpStored(ctx, pc, got); err != nil {
		return nil, err
	}
	outcomes, err := w.outcomes(got)
	if err != nil {
		return nil, err
	}
	if err := addCountersAndCommit(ctx, pc, domain.CountByTopic(events, outcomes)); err != nil {
		return nil, err
	}
	return outcomes, nil
}

// write is one Append's events with what the steps of appendTx share.
type write struct {
	events  []domain.Event
	digests []int64            // payload digest of each event
	first   map[domain.Key]int // key -> index of its first event
	fresh   []int              // indexes of first occurrences, in request order
}

func newWrite(events []domain.Event) *write {
	w := &write{events: events, digests: make([]int64, len(events)), first: make(map[domain.Key]int, len(events))}
	for i, e := range events {
		w.digests[i] = domain.PayloadDigest(e.Payload)
		if _, seen := w.first[e.Key()]; !seen {
			w.first[e.Key()] = i
			w.fresh = append(w.fresh, i)
		}
	}
	return w
}

// beginAndInsert is round trip 1: BEGIN, the seq-order lock, and the insert
// of every first occurrence in request order, so that seqs follow it. It
// returns the keys it inserted.
func (w *write) beginAndInsert(ctx context.Context, pc *pgx.Conn, receivedAt time.Time) (map[domain.Key]stored, error) {
	n := len(w.fresh)
	topics, ids, sources := make([]string, n), make([]string, n), make([]string, n)
	payloads, digests := make([][]byte, n), make([]int64, n)
	stamps, recv := make([]*string, n), make([]int64, n)
	for j, i := range w.fresh {
		e := w.events[i]
		topics[j], ids[j], sources[j], payloads[j], digests[j] = e.Topic, e.EventID, e.Source, e.Payload, w.digests[i]
		stamps[j], recv[j] = bunstore.EncodeTimestamp(e.Timestamp), bunstore.EncodeReceivedAt(receivedAt)
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SELECT pg_advisory_xact_lock($1)", seqLockKey)
	b.Queue(insertSQL, topics, ids, sources, payloads, digests, stamps, recv)
	br := pc.SendBatch(ctx, b)
	for range len(b.QueuedQueries) - 1 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, fmt.Errorf("begin and lock: %w", err)
		}
	}
	got := make(map[domain.Key]stored, n)
	rows, err := br.Query()
	if err == nil {
		for rows.Next() {
			var k domain.Key
			s := stored{inserted: true}
			if err = rows.Scan(&s.seq, &k.Topic, &k.EventID); err != nil {
				break
			}
			s.digest = w.digests[w.first[k]]
			got[k] = s
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	return got, nil
}

// lookUpStored adds to got the rows of the keys that were already stored.
func (w *write) lookUpStored(ctx context.Context, pc *pgx.Conn, got map[domain.Key]stored) error {
	var topics, ids []string
	for _, i := range w.fresh {
		if k := w.events[i].Key(); !got[k].inserted {
			topics, ids = append(topics, k.Topic), append(ids, k.EventID)
		}
	}
	if len(topics) == 0 {
		return nil
	}
	rows, err := pc.Query(ctx, lookupSQL, topics, ids)
	if err != nil {
		return fmt.Errorf("look up stored events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k domain.Key
		var s stored
		if err := rows.Scan(&s.seq, &k.Topic, &k.EventID, &s.digest); err != nil {
			return fmt.Errorf("look up stored events: %w", err)
		}
		got[k] = s
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look up stored events: %w", err)
	}
	return nil
}

// outcomes decides each event's outcome: accepted for the first occurrence
// of a key this Append inserted, else a duplicate or a conflict of the row.
func (w *write) outcomes(got map[domain.Key]stored) ([]domain.Outcome, error) {
	outcomes := make([]domain.Outcome, len(w.events))
	for i, e := range w.events {
		k := e.Key()
		s, ok := got[k]
		if !ok {
			return nil, fmt.Errorf("event %s/%s neither inserted nor found", k.Topic, k.EventID)
		}
		o := domain.Outcome{Status: domain.Accepted, Seq: s.seq}
		if !s.inserted || w.first[k] != i {
			o.Status = domain.Classify(s.digest, w.digests[i])
		}
		outcomes[i] = o
	}
	return outcomes, nil
}

// addCountersAndCommit is the last round trip: the counters and COMMIT.
// Topics go in name order, so that concurrent writers lock their rows in the
// same order.
func addCountersAndCommit(ctx context.Context, pc *pgx.Conn, counts map[string]domain.Counters) error {
	names := slices.Sorted(maps.Keys(counts))
	rec, acc, drop, conf := make([]int64, len(names)), make([]int64, len(names)), make([]int64, len(names)), make([]int64, len(names))
	for i, t := range names {
		c := counts[t]
		rec[i], acc[i], drop[i], conf[i] = c.Received, c.Accepted, c.Dropped, c.Conflicts
	}
	b := &pgx.Batch{}
	b.Queue(countersSQL, names, rec, acc, drop, conf)
	b.Queue("COMMIT")
	br := pc.SendBatch(ctx, b)
	_, err := br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("update counters and commit: %w", err)
	}
	// A COMMIT of a failed transaction answers ROLLBACK without an error.
	if pc.PgConn().TxStatus() != 'I' {
		return errors.New("commit: transaction still open")
	}
	return nil
}
