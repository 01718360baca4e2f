// Package domain holds the aggregator's core vocabulary: the Event, the rules
// that make one valid, and the key that decides whether two events are the same.
// It has no I/O, no clock and no wire format.
package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Default limits. The HTTP adapter and the configuration may override
// MaxPayloadBytes; the string limits are part of the storage contract.
const (
	MaxTopicLen     = 255
	MaxEventIDLen   = 255
	MaxSourceLen    = 255
	MaxPayloadBytes = 64 << 10
)

// Event is one fact published by a client. Topic and EventID together identify
// it (see Key); a publisher that retries sends the same pair again.
type Event struct {
	Topic   string
	EventID string
	Source  string
	// Payload is the JSON object exactly as the publisher sent it.
	Payload []byte
	// Timestamp is when the publisher says the event happened; zero when it
	// did not say.
	Timestamp time.Time
}

// Key is the deduplication identity of an event. The same EventID in two
// topics names two different events.
type Key struct {
	Topic   string
	EventID string
}

// Key returns the event's deduplication key.
func (e Event) Key() Key { return Key{Topic: e.Topic, EventID: e.EventID} }

// Limits bounds the size of an event's parts.
type Limits struct {
	MaxPayloadBytes int
}

// DefaultLimits returns the limits the service uses unless configured otherwise.
func DefaultLimits() Limits { return Limits{MaxPayloadBytes: MaxPayloadBytes} }

// ValidationError reports which field of an event is invalid and why.
type ValidationError struct {
	Field  string // JSON name of the field, e.g. "event_id"
	Reason string
	// TooLarge marks a payload over the size limit, which callers may
	// report differently from a malformed value.
	TooLarge bool
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Validate checks the event against the rules and limits. It returns a
// *ValidationError for the first field that breaks a rule.
func (e Event) Validate(l Limits) error {
	if err := checkName("topic", e.Topic, MaxTopicLen); err != nil {
		return err
	}
	if err := checkName("event_id", e.EventID, MaxEventIDLen); err != nil {
		return err
	}
	if err := checkName("source", e.Source, MaxSourceLen); err != nil {
		return err
	}
	if len(e.Payload) == 0 {
		return &ValidationError{Field: "payload", Reason: "is required and must be a JSON object"}
	}
	if len(e.Payload) > l.MaxPayloadBytes {
		return &ValidationError{Field: "payload", TooLarge: true,
			Reason: fmt.Sprintf("is %d bytes, more than the limit of %d", len(e.Payload), l.MaxPayloadBytes)}
	}
	if !isJSONObject(e.Payload) {
		return &ValidationError{Field: "payload", Reason: "must be a JSON object"}
	}
	return nil
}

func checkName(field, v string, maxLen int) error {
	switch {
	case v == "":
		return &ValidationError{Field: field, Reason: "must not be empty"}
	case len(v) > maxLen:
		return &ValidationError{Field: field,
			Reason: fmt.Sprintf("is %d bytes, more than the limit of %d", len(v), maxLen)}
	case !utf8.ValidString(v):
		return &ValidationError{Field: field, Reason: "must be valid UTF-8"}
	case strings.IndexByte(v, 0) >= 0:
		// Not storable in PostgreSQL text, and never meaningful in a name.
		return &ValidationError{Field: field, Reason: "must not contain a NUL character"}
	}
	return nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// ParseTimestamp reads an event timestamp. It accepts RFC 3339 (with "Z" or an
// offset, any fraction of a second) and, because many clients emit it, the
// ISO 8601 form without an offset, which is read as UTC.
func ParseTimestamp(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &ValidationError{Field: "timestamp",
		Reason: fmt.Sprintf("%q is not an RFC 3339 date-time such as 2025-01-02T15:04:05Z", s)}
}

// CompactPayload returns the payload without insignificant white space, the
// form that PayloadDigest hashes: a retry that re-serialises its payload with
// other spacing is still a duplicate, not a conflict. Invalid JSON is
// returned unchanged.
func CompactPayload(p []byte) []byte {
	if isCompact(p) {
		return p
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, p); err != nil {
		return p
	}
	return buf.Bytes()
}

// isCompact reports whether p has no white space outside its strings, so
// that compacting it would change nothing: most publishers send JSON that
// an encoder wrote, and this scan costs a fraction of json.Compact's.
func isCompact(p []byte) bool {
	inString := false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case inString && c == '\\':
			i++ // the escaped byte cannot end the string
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return true
}
