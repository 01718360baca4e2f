// Package ndjson is the aggregator's export format: a versioned stream of
// JSON lines that carries a store's events, with their seq, timestamps and
// received_at, and its lifetime counters from one store to another.
package ndjson

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// Summary counts what Export wrote or Import read.
type Summary struct {
	Events int64
	Topics int64
	// Lifetime is the sum of the topic counters.
	Lifetime domain.Counters
	// LastSeq is the highest seq transferred.
	LastSeq int64
}

// The export format is NDJSON: one header line, every event in seq order,
// every topic's lifetime counters, then an end line that repeats the totals
// so a truncated file is detected.
const (
	exportFormat  = "uts-aggregator-export"
	exportVersion = 1
	transferBatch = 1000
)

// exportLine is one line of the export. Kind tells which fields are set.
type exportLine struct {
	Kind string `json:"kind"` // header, event, topic or end

	Format  string `json:"format,omitempty"`
	Version int    `json:"version,omitempty"`

	Seq     int64  `json:"seq,omitempty"`
	Topic   string `json:"topic,omitempty"`
	EventID string `json:"event_id,omitempty"`
	Source  string `json:"source,omitempty"`
	// Payload holds the stored bytes as a JSON string when they are valid
	// UTF-8, which keeps the file readable; PayloadBase64 holds them
	// otherwise. Either way they come back byte for byte.
	Payload       *string `json:"payload,omitempty"`
	PayloadBase64 []byte  `json:"payload_base64,omitempty"`
	// Timestamp keeps the publisher's offset; absent when it gave none.
	Timestamp  string `json:"timestamp,omitempty"`
	ReceivedAt string `json:"received_at,omitempty"`

	Received  *int64 `json:"received,omitempty"`
	Accepted  *int64 `json:"accepted,omitempty"`
	Dropped   *int64 `json:"dropped,omitempty"`
	Conflicts *int64 `json:"conflicts,omitempty"`
	// Purged is absent in exports of stores that never purged.
	Purged *int64 `json:"purged,omitempty"`

	Events *int64 `json:"events,omitempty"`
	Topics *int64 `json:"topics,omitempty"`
}

// Export writes every stored event in seq order, then the lifetime counters
// of every topic, as NDJSON. Run it against a store no one writes to: on a
// live store the counters may count events published after the last one
// exported.
func Export(ctx context.Context, src app.EventReader, w io.Writer) (Summary, error) {
	var sum Summary
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(exportLine{Kind: "header", Format: exportFormat, Version: exportVersion}); err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	q := app.ListQuery{Limit: transferBatch}
	for {
		events, err := src.List(ctx, q)
		if err != nil {
			return sum, fmt.Errorf("export: %w", err)
		}
		for _, e := range events {
			if err := enc.Encode(eventLine(e)); err != nil {
				return sum, fmt.Errorf("export: %w", err)
			}
			sum.Events++
			sum.LastSeq = e.Seq
		}
		if len(events) < q.Limit {
			break
		}
		q.After = events[len(events)-1].Seq
	}
	topics, err := src.Stats(ctx)
	if err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	for _, t := range topics {
		if err := enc.Encode(topicLine(t)); err != nil {
			return sum, fmt.Errorf("export: %w", err)
		}
		sum.Topics++
		sum.Lifetime = sum.Lifetime.Add(t.Counters)
	}
	if err := enc.Encode(exportLine{Kind: "end", Events: &sum.Events, Topics: &sum.Topics}); err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	return sum, nil
}

func eventLine(e domain.StoredEvent) exportLine {
	l := exportLine{Kind: "event", Seq: e.Seq, Topic: e.Topic, EventID: e.EventID, Source: e.Source,
		ReceivedAt: e.ReceivedAt.UTC().Format(time.RFC3339Nano)}
	if utf8.Valid(e.Payload) {
		p := string(e.Payload)
		l.Payload = &p
	} else {
		l.PayloadBase64 = e.Payload
	}
	if !e.Timestamp.IsZero() {
		l.Timestamp = e.Timestamp.Format(time.RFC3339Nano)
	}
	return l
}

func topicLine(t app.TopicStats) exportLine {
	c := t.Counters
	l := exportLine{Kind: "topic", Topic: t.Topic, Received: &c.Received, Accepted: &c.Accepted, Dropped: &c.Dropped, Conflicts: &c.Conflicts}
	if t.Purged != 0 {
		l.Purged = &t.Purged
	}
	return l
}

// Import reads an Export stream into dst, which must be empty
// (app.ErrNotEmpty otherwise). Events keep their seq, timestamps and received_at, and topics
// their lifetime counters, so dedup state and /stats carry over. Events are
// loaded in batches: if Import fails part way, empty the target before
// running it again.
func Import(ctx context.Context, r io.Reader, dst app.ImportTarget) (Summary, error) {
	var sum Summary
	if err := app.CheckEmpty(ctx, dst); err != nil {
		return sum, fmt.Errorf("import: %w", err)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var (
		line   int
		batch  []domain.StoredEvent
		topics []app.TopicStats
		seen   = map[string]bool{}
		header bool
		limits = domain.Limits{MaxPayloadBytes: math.MaxInt}
		flush  = func() error {
			if len(batch) == 0 {
				return nil
			}
			if err := dst.LoadEvents(ctx, batch); err != nil {
				return fmt.Errorf("import: events up to seq %d: %w", batch[len(batch)-1].Seq, err)
			}
			batch = batch[:0]
			return nil
		}
	)
	for {
		var l exportLine
		err := dec.Decode(&l)
		if err == io.EOF {
			return sum, fmt.Errorf("import: the stream ends after %d lines without its end line; it is truncated", line)
		}
		line++
		if err != nil {
			return sum, fmt.Errorf("import: line %d: %w", line, err)
		}
		if !header && l.Kind != "header" {
			return sum, fmt.Errorf("import: line 1 is not an %s header", exportFormat)
		}
		switch l.Kind {
		case "header":
			if header || l.Format != exportFormat || l.Version != exportVersion {
				return sum, fmt.Errorf("import: line %d: want one %s version %d header", line, exportFormat, exportVersion)
			}
			header = true
		case "event":
			e, err := l.event(limits)
			if err != nil {
				return sum, fmt.Errorf("import: line %d: %w", line, err)
			}
			if e.Seq <= sum.LastSeq {
				return sum, fmt.Errorf("import: line %d: seq %d after %d; events must come in increasing seq order", line, e.Seq, sum.LastSeq)
			}
			if len(topics) > 0 {
				return sum, fmt.Errorf("import: line %d: event after the topic counters", line)
			}
			sum.LastSeq = e.Seq
			sum.Events++
			batch = append(batch, e)
			if len(batch) == transferBatch {
				if err := flush(); err != nil {
					return sum, err
				}
			}
		case "topic":
			if l.Topic == "" || l.Received == nil || l.Accepted == nil || l.Dropped == nil || l.Conflicts == nil || seen[l.Topic] {
				return sum, fmt.Errorf("import: line %d: a topic line needs a new topic and all four counters", line)
			}
			seen[l.Topic] = true
			t := app.TopicStats{Topic: l.Topic, Counters: domain.Counters{Received: *l.Received, Accepted: *l.Accepted, Dropped: *l.Dropped, Conflicts: *l.Conflicts}}
			if l.Purged != nil {
				t.Purged = *l.Purged
			}
			topics = append(topics, t)
			sum.Topics++
			sum.Lifetime = sum.Lifetime.Add(t.Counters)
		case "end":
			if l.Events == nil || l.Topics == nil || *l.Events != sum.Events || *l.Topics != sum.Topics {
				return sum, fmt.Errorf("import: line %d: end line does not match the %d events and %d topics read", line, sum.Events, sum.Topics)
			}
			if err := flush(); err != nil {
				return sum, err
			}
			if err := dst.SetCounters(ctx, topics); err != nil {
				return sum, fmt.Errorf("import: counters: %w", err)
			}
			return sum, nil
		default:
			return sum, fmt.Errorf("import: line %d: unknown kind %q", line, l.Kind)
		}
	}
}

func (l exportLine) event(limits domain.Limits) (domain.StoredEvent, error) {
	e := domain.StoredEvent{Event: domain.Event{Topic: l.Topic, EventID: l.EventID, Source: l.Source}, Seq: l.Seq}
	switch {
	case l.Payload != nil:
		e.Payload = []byte(*l.Payload)
	default:
		e.Payload = l.PayloadBase64
	}
	if l.Timestamp != "" {
		ts, err := time.Parse(time.RFC3339Nano, l.Timestamp)
		if err != nil {
			return e, fmt.Errorf("timestamp: %w", err)
		}
		e.Timestamp = ts
	}
	recv, err := time.Parse(time.RFC3339Nano, l.ReceivedAt)
	if err != nil {
		return e, fmt.Errorf("received_at: %w", err)
	}
	e.ReceivedAt = recv.UTC()
	if e.Seq <= 0 {
		return e, fmt.Errorf("seq %d is not positive", e.Seq)
	}
	if err := e.Validate(limits); err != nil {
		return e, fmt.Errorf("event %s/%s: %w", e.Topic, e.EventID, err)
	}
	return e, nil
}
