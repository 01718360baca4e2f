package domain_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// FuzzCompactPayload checks CompactPayload against json.Compact on every
// valid JSON document: its shortcut for already compact payloads must never
// change a digest.
func FuzzCompactPayload(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a": "x y"}`, `{"a":"\"q\" \\","b":[1, {}]}`, "{\t\"a\":\r\n1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var want bytes.Buffer
		if json.Compact(&want, p) != nil {
			return
		}
		if got := domain.CompactPayload(p); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("CompactPayload(%q) = %q, want %q", p, got, want.Bytes())
		}
	})
}
