package bunstore_test

import (
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/internal/bunstore"
)

func TestTimestampColumn(t *testing.T) {
	if got := bunstore.EncodeTimestamp(time.Time{}); got != nil {
		t.Fatalf("EncodeTimestamp(zero) = %q, want nil (NULL)", *got)
	}
	ts := time.Date(2025, 1, 2, 15, 4, 5, 123456789, time.FixedZone("", 7*3600))
	enc := bunstore.EncodeTimestamp(ts)
	if enc == nil || *enc != "2025-01-02T15:04:05.123456789+07:00" {
		t.Fatalf("EncodeTimestamp = %v, want RFC 3339 text with the offset", enc)
	}
	dec, err := bunstore.DecodeTimestamp(*enc)
	if err != nil || !dec.Equal(ts) {
		t.Fatalf("DecodeTimestamp(%q) = %v, %v; want %v", *enc, dec, err, ts)
	}
	if _, off := dec.Zone(); off != 7*3600 {
		t.Fatalf("DecodeTimestamp lost the publisher's offset: %v", dec)
	}
	if _, err := bunstore.DecodeTimestamp("yesterday"); err == nil {
		t.Fatal("DecodeTimestamp accepted text that is not RFC 3339")
	}
}

func TestReceivedAtColumn(t *testing.T) {
	at := time.Date(2025, 1, 2, 15, 4, 5, 123456789, time.FixedZone("", -3600))
	n := bunstore.EncodeReceivedAt(at)
	if n != at.UnixNano() {
		t.Fatalf("EncodeReceivedAt = %d, want Unix nanoseconds %d", n, at.UnixNano())
	}
	got := bunstore.DecodeReceivedAt(n)
	if !got.Equal(at) || got.Location() != time.UTC {
		t.Fatalf("DecodeReceivedAt = %v, want %v in UTC", got, at)
	}
}
