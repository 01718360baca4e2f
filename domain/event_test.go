package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

func valid() domain.Event {
	return domain.Event{Topic: "orders", EventID: "e-1", Source: "shop", Payload: []byte(`{"total":3}`)}
}

func TestEventValidate(t *testing.T) {
	limits := domain.Limits{MaxPayloadBytes: 32}
	tests := []struct {
		name     string
		mutate   func(*domain.Event)
		field    string // "" means valid
		tooLarge bool
	}{
		{"OK", func(*domain.Event) {}, "", false},
		{"OKPayloadWithSpaces", func(e *domain.Event) { e.Payload = []byte(" \n{ \"a\" : [1] }") }, "", false},
		{"EmptyTopic", func(e *domain.Event) { e.Topic = "" }, "topic", false},
		{"LongTopic", func(e *domain.Event) { e.Topic = strings.Repeat("t", domain.MaxTopicLen+1) }, "topic", false},
		{"EmptyEventID", func(e *domain.Event) { e.EventID = "" }, "event_id", false},
		{"LongEventID", func(e *domain.Event) { e.EventID = strings.Repeat("e", domain.MaxEventIDLen+1) }, "event_id", false},
		{"BadUTF8Source", func(e *domain.Event) { e.Source = "\xff" }, "source", false},
		{"EmptySource", func(e *domain.Event) { e.Source = "" }, "source", false},
		{"NULInEventID", func(e *domain.Event) { e.EventID = "a\x00b" }, "event_id", false},
		{"MissingPayload", func(e *domain.Event) { e.Payload = nil }, "payload", false},
		{"ArrayPayload", func(e *domain.Event) { e.Payload = []byte(`[1,2]`) }, "payload", false},
		{"StringPayload", func(e *domain.Event) { e.Payload = []byte(`"x"`) }, "payload", false},
		{"BrokenPayload", func(e *domain.Event) { e.Payload = []byte(`{"a":`) }, "payload", false},
		{"PayloadTooLarge", func(e *domain.Event) { e.Payload = []byte(`{"a":"` + strings.Repeat("x", 40) + `"}`) }, "payload", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid()
			tt.mutate(&e)
			err := e.Validate(limits)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var v *domain.ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("Validate() = %v, want *ValidationError", err)
			}
			if v.Field != tt.field || v.TooLarge != tt.tooLarge || v.Reason == "" {
				t.Fatalf("got field %q tooLarge %v reason %q, want field %q tooLarge %v", v.Field, v.TooLarge, v.Reason, tt.field, tt.tooLarge)
			}
		})
	}
}

func TestKeyIsTopicAndEventID(t *testing.T) {
	a, b := valid(), valid()
	b.Source, b.Payload = "other", []byte(`{}`)
	if a.Key() != b.Key() {
		t.Fatal("events with the same topic and id must share a key")
	}
	b.Topic = "payments"
	if a.Key() == b.Key() {
		t.Fatal("the same id in another topic must be another key")
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2025-01-02T15:04:05Z", time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC), false},
		{"2025-01-02T15:04:05.123456789+07:00", time.Date(2025, 1, 2, 8, 4, 5, 123456789, time.UTC), false},
		{"2025-01-02T15:04:05.5", time.Date(2025, 1, 2, 15, 4, 5, 500000000, time.UTC), false},
		{"2025-01-02", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"2025-13-02T15:04:05Z", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := domain.ParseTimestamp(tt.in)
			if tt.wantErr {
				var v *domain.ValidationError
				if !errors.As(err, &v) || v.Field != "timestamp" {
					t.Fatalf("ParseTimestamp(%q) error = %v, want a timestamp ValidationError", tt.in, err)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("ParseTimestamp(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPayloadDigestIgnoresOnlyWhiteSpace(t *testing.T) {
	base := []byte(`{"a":1,"b":[true,null]}`)
	for _, other := range []string{`{"b":[true,null],"a":1}`, `{"a":2,"b":[true,null]}`, `{"a":1,"b":[true,null],"c":0}`} {
		if domain.PayloadDigest(base) == domain.PayloadDigest([]byte(other)) {
			t.Errorf("digest of %s equals digest of %s", other, base)
		}
	}
	if domain.PayloadDigest(base) != domain.PayloadDigest([]byte(" {\"a\" : 1, \"b\":[true, null]}")) {
		t.Error("digest must ignore white space")
	}
}

// CompactPayload skips json.Compact for a payload with no white space
// outside its strings; the result must be what json.Compact gives.
func TestCompactPayloadMatchesJSONCompact(t *testing.T) {
	for _, p := range []string{
		`{"a":1}`,
		`{"a": 1}`,
		`{"a":"x y"}`,
		`{"a":"x y", "b":2}`,
		`{"a":"say \"hi there\"","b":[1, 2]}`,
		`{"a":"ends in a backslash \\","b":[1,2]}`,
		`{"a":"ends in a backslash \\", "b":[1,2]}`,
		"{\"a\":\"tab\\t\",\n\"b\":\"\u00e9 \u2028\"}",
		"{\r\n\t\"a\":{}}",
		`{"a":"\\\"" ,"b":0}`,
	} {
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(p)); err != nil {
			t.Fatalf("test payload %s: %v", p, err)
		}
		if got := domain.CompactPayload([]byte(p)); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("CompactPayload(%s) = %s, want %s", p, got, want.Bytes())
		}
	}
}

func TestCountersCount(t *testing.T) {
	var c domain.Counters
	for _, s := range []domain.Status{domain.Accepted, domain.Duplicate, domain.Conflict, domain.Accepted} {
		c.Count(s)
	}
	want := domain.Counters{Received: 4, Accepted: 2, Dropped: 2, Conflicts: 1}
	if c != want {
		t.Fatalf("counters = %+v, want %+v", c, want)
	}
	if got := c.Add(c); got != (domain.Counters{Received: 8, Accepted: 4, Dropped: 4, Conflicts: 2}) {
		t.Fatalf("Add = %+v", got)
	}
}
