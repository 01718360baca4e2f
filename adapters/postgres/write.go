package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
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
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::text[], $7::bigint[])
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

type stored struct {
	seq      int64
	digest   int64
	inserted bool
}

// appendEvents is Append's transaction; ordered takes the seq-order lock.
func (r *Repository) appendEvents(ctx context.Context, events []domain.Event, receivedAt time.Time, ordered bool) ([]domain.Outcome, error) {
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
		outcomes, txErr = appendTx(ctx, pc, events, receivedAt, ordered)
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

func appendTx(ctx context.Context, pc *pgx.Conn, events []domain.Event, receivedAt time.Time, ordered bool) ([]domain.Outcome, error) {
	digests := make([]int64, len(events))
	first := make(map[domain.Key]int, len(events)) // key -> index of its first event
	var fresh []int                                // indexes of first occurrences
	for i, e := range events {
		digests[i] = domain.PayloadDigest(e.Payload)
		if _, seen := first[e.Key()]; !seen {
			first[e.Key()] = i
			fresh = append(fresh, i)
		}
	}
	// Key order makes concurrent writers take unique-index locks in the
	// same order, should they ever run without the seq-order lock.
	slices.SortFunc(fresh, func(a, b int) int {
		ka, kb := events[a].Key(), events[b].Key()
		if c := strings.Compare(ka.Topic, kb.Topic); c != 0 {
			return c
		}
		return strings.Compare(ka.EventID, kb.EventID)
	})
	n := len(fresh)
	topics, ids, sources := make([]string, n), make([]string, n), make([]string, n)
	payloads, digestCol := make([][]byte, n), make([]int64, n)
	stamps, recv := make([]*string, n), make([]int64, n)
	for j, i := range fresh {
		e := events[i]
		topics[j], ids[j], sources[j], payloads[j], digestCol[j] = e.Topic, e.EventID, e.Source, e.Payload, digests[i]
		stamps[j], recv[j] = bunstore.EncodeTimestamp(e.Timestamp), bunstore.EncodeReceivedAt(receivedAt)
	}

	// Round trip 1: begin, lock, insert and look up.
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	if ordered {
		b.Queue("SELECT pg_advisory_xact_lock($1)", seqLockKey)
	}
	b.Queue(insertSQL, topics, ids, sources, payloads, digestCol, stamps, recv)
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
			s.digest = digests[first[k]]
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

	// The keys that were already stored.
	var mt, mi []string
	for _, i := range fresh {
		if k := events[i].Key(); !got[k].inserted {
			mt, mi = append(mt, k.Topic), append(mi, k.EventID)
		}
	}
	if len(mt) > 0 {
		rows, err := pc.Query(ctx, lookupSQL, mt, mi)
		if err != nil {
			return nil, fmt.Errorf("look up stored events: %w", err)
		}
		for rows.Next() {
			var k domain.Key
			var s stored
			if err := rows.Scan(&s.seq, &k.Topic, &k.EventID, &s.digest); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up stored events: %w", err)
			}
			got[k] = s
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("look up stored events: %w", err)
		}
	}

	outcomes := make([]domain.Outcome, len(events))
	for i, e := range events {
		k := e.Key()
		s, ok := got[k]
		if !ok {
			return nil, fmt.Errorf("event %s/%s neither inserted nor found", k.Topic, k.EventID)
		}
		o := domain.Outcome{Status: domain.Accepted, Seq: s.seq}
		if !s.inserted || first[k] != i {
			o.Status = domain.Classify(s.digest, digests[i])
		}
		outcomes[i] = o
	}
	counts := domain.CountByTopic(events, outcomes)

	// Round trip 2: counters and commit. Topics in name order, so that
	// concurrent writers lock their rows in the same order.
	names := make([]string, 0, len(counts))
	for t := range counts {
		names = append(names, t)
	}
	slices.Sort(names)
	rec, acc, drop, conf := make([]int64, len(names)), make([]int64, len(names)), make([]int64, len(names)), make([]int64, len(names))
	for i, t := range names {
		c := counts[t]
		rec[i], acc[i], drop[i], conf[i] = c.Received, c.Accepted, c.Dropped, c.Conflicts
	}
	b = &pgx.Batch{}
	b.Queue(countersSQL, names, rec, acc, drop, conf)
	b.Queue("COMMIT")
	br = pc.SendBatch(ctx, b)
	_, err = br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("update counters and commit: %w", err)
	}
	// A COMMIT of a failed transaction answers ROLLBACK without an error.
	if pc.PgConn().TxStatus() != 'I' {
		return nil, errors.New("commit: transaction still open")
	}
	return outcomes, nil
}
