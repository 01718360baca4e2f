package e2e_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
)

// TestDiskFullInContainer runs the image with a 3 MiB tmpfs as /app/data
// and publishes until it is full: publishes then answer 507 naming the full
// disk with a Retry-After, reads keep working, /readyz says why it is not
// ready, and every event acknowledged before is still there.
func TestDiskFullInContainer(t *testing.T) {
	requireDocker(t)
	agg := mustStartAggregator(t, newDataDir(t), testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
		hc.Binds = nil // instead of the host directory
		hc.Tmpfs = map[string]string{dataMount: "size=3m,uid=65532,gid=65532,mode=0755"}
	}))
	var acked []event
	var refused *statusError
	for batch := 0; batch < 100 && refused == nil; batch++ {
		events := make([]event, 20)
		for i := range events {
			events[i] = event{Topic: "full", EventID: fmt.Sprintf("%d-%d", batch, i), Source: "e2e",
				Payload: json.RawMessage(`{"pad":"` + strings.Repeat("x", 16<<10) + `"}`)}
		}
		_, err := agg.publish(t.Context(), encode(events, true))
		switch {
		case err == nil:
			acked = append(acked, events...)
		case errors.As(err, &refused):
		default:
			t.Fatalf("publish: %v", err)
		}
	}
	if refused == nil {
		t.Fatal("a 3 MiB data directory took 100 batches of 320 KiB")
	}
	if refused.Code != http.StatusInsufficientStorage || !strings.Contains(refused.Body, "disk is full") {
		t.Fatalf("publish on a full disk answered %d %s, want 507 naming the full disk", refused.Code, refused.Body)
	}
	if refused.Header.Get("Retry-After") == "" {
		t.Error("507 without Retry-After")
	}
	if code, _, body := agg.getRaw("/readyz"); code != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("disk is full")) {
		t.Errorf("/readyz on a full disk: %d %s", code, body)
	}
	if st := agg.mustStats(); st.StoredEvents != int64(len(acked)) {
		t.Errorf("stored_events %d on a full disk, want the %d acknowledged", st.StoredEvents, len(acked))
	}
	for _, e := range []event{acked[0], acked[len(acked)-1]} {
		if _, found := agg.mustGetEvent(e.key()); !found {
			t.Errorf("acknowledged event %s/%s not readable on a full disk", e.Topic, e.EventID)
		}
	}
}
