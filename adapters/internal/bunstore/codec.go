package bunstore

import (
	"fmt"
	"time"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// The column encoding of the events table, shared by every SQL store and
// every write path (Bun models, prepared statements, array parameters):
// timestamp is RFC 3339 text with the publisher's offset, NULL when the
// publisher gave none; received_at is Unix nanoseconds.

// EncodeTimestamp returns the timestamp column of an event: nil (NULL) for
// the zero time, RFC 3339 text otherwise.
func EncodeTimestamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(time.RFC3339Nano)
	return &s
}

// DecodeTimestamp reads a non-NULL timestamp column.
func DecodeTimestamp(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// EncodeReceivedAt returns the received_at column of an event.
func EncodeReceivedAt(t time.Time) int64 { return t.UnixNano() }

// DecodeReceivedAt reads a received_at column, in UTC.
func DecodeReceivedAt(n int64) time.Time { return time.Unix(0, n).UTC() }

func toRow(e domain.Event, digest int64, receivedAt time.Time) eventRow {
	r := eventRow{
		Topic: e.Topic, EventID: e.EventID, Source: e.Source, Payload: e.Payload,
		PayloadDigest: digest, ReceivedAt: EncodeReceivedAt(receivedAt),
	}
	if ts := EncodeTimestamp(e.Timestamp); ts != nil {
		r.Timestamp = *ts
	}
	return r
}

func fromRow(r eventRow) (domain.StoredEvent, error) {
	e := domain.StoredEvent{
		Event:      domain.Event{Topic: r.Topic, EventID: r.EventID, Source: r.Source, Payload: r.Payload},
		Seq:        r.Seq,
		ReceivedAt: DecodeReceivedAt(r.ReceivedAt),
	}
	if r.Timestamp != "" {
		ts, err := DecodeTimestamp(r.Timestamp)
		if err != nil {
			return domain.StoredEvent{}, fmt.Errorf("event seq %d: stored timestamp: %w", r.Seq, err)
		}
		e.Timestamp = ts
	}
	return e, nil
}
