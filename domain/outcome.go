package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Status says what the aggregator did with one published event.
type Status int

// The three outcomes of publishing an event. The first write of a key wins:
// later events with that key are dropped, whether or not their payload matches.
const (
	// Accepted means the event was new and is now stored.
	Accepted Status = iota + 1
	// Duplicate means an event with the same key and the same payload was
	// already stored; this one was dropped.
	Duplicate
	// Conflict means an event with the same key but another payload was
	// already stored; this one was dropped and the stored one kept.
	Conflict
)

func (s Status) String() string {
	switch s {
	case Accepted:
		return "accepted"
	case Duplicate:
		return "duplicate"
	case Conflict:
		return "conflict"
	}
	return "unknown"
}

// Outcome is the result of publishing one event: its status and the sequence
// number of the stored copy (the new one, or the one that was there first).
type Outcome struct {
	Status Status
	Seq    int64
}

// Classify decides the outcome for an event whose key is already stored with
// the given payload digest.
func Classify(storedDigest, newDigest int64) Status {
	if storedDigest == newDigest {
		return Duplicate
	}
	return Conflict
}

// PayloadDigest returns a 64-bit fingerprint of a payload's compact form.
// Stores keep it next to the key so that telling a duplicate from a conflict
// needs no payload comparison; a collision could only make a conflict look
// like a duplicate, never lose or double-store an event.
func PayloadDigest(payload []byte) int64 {
	sum := sha256.Sum256(CompactPayload(payload))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// StoredEvent is an event as the aggregator keeps it: the published event plus
// what the server recorded when it first stored it.
type StoredEvent struct {
	Event
	// Seq is the processing order: strictly increasing in the order events
	// were first stored.
	Seq        int64
	ReceivedAt time.Time
}

// Counters tallies what happened to published events.
// Received = Accepted + Dropped; Conflicts is the part of Dropped whose
// payload differed from the stored one.
type Counters struct {
	Received  int64
	Accepted  int64
	Dropped   int64
	Conflicts int64
}

// Add returns the sum of two tallies.
func (c Counters) Add(o Counters) Counters {
	return Counters{c.Received + o.Received, c.Accepted + o.Accepted, c.Dropped + o.Dropped, c.Conflicts + o.Conflicts}
}

// Count adds one outcome to the tally.
func (c *Counters) Count(s Status) {
	c.Received++
	switch s {
	case Accepted:
		c.Accepted++
	case Duplicate:
		c.Dropped++
	case Conflict:
		c.Dropped++
		c.Conflicts++
	}
}

// CountByTopic tallies each outcome under the topic of the event at the same
// index: the counters a store adds to its per-topic totals in the same
// transaction as the events. outcomes must be as long as events.
func CountByTopic(events []Event, outcomes []Outcome) map[string]Counters {
	counts := make(map[string]Counters)
	for i, o := range outcomes {
		c := counts[events[i].Topic]
		c.Count(o.Status)
		counts[events[i].Topic] = c
	}
	return counts
}
