package e2e_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
)

// maxImageBytes is the size budget of the image.
const maxImageBytes = 25_000_000

// TestImage checks what the image promises to whoever runs it: its metadata,
// a fast start, Docker's health status, the non-root user and the documents
// it serves.
func TestImage(t *testing.T) {
	requireDocker(t)
	dataDir := newDataDir(t)

	// Created first and started here, so the start itself can be timed.
	ctr := newAggregatorContainer(t, dataDir, testcontainers.WithNoStart())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := ctr.Start(ctx); err != nil { // returns once /healthz answers
		t.Fatalf("start: %v", err)
	}
	healthyAt := time.Now()
	agg := &aggregator{api: newAPI(t, ctr), ctr: ctr}
	info := mustInspect(t, ctr)

	t.Run("HealthzWithinOneSecond", func(t *testing.T) {
		startedAt, err := time.Parse(time.RFC3339Nano, info.State.StartedAt)
		if err != nil {
			t.Fatalf("State.StartedAt %q: %v", info.State.StartedAt, err)
		}
		// StartedAt is the engine's clock; on Linux it is this host's.
		if took := healthyAt.Sub(startedAt); took > time.Second {
			t.Errorf("/healthz answered %v after the container started, want within 1s", took)
		} else {
			t.Logf("/healthz answered %v after the container started", took.Round(time.Millisecond))
		}
	})

	t.Run("ServesHealthAndDocs", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			var h struct{ Status string }
			agg.get(path, &h)
			if h.Status != "ok" {
				t.Errorf("GET %s: status %q, want ok", path, h.Status)
			}
		}
		status, header, body := agg.getRaw("/docs")
		if status != 200 || !strings.HasPrefix(header.Get("Content-Type"), "text/html") || len(body) == 0 {
			t.Errorf("GET /docs: %d %q, %d bytes; want a 200 HTML page", status, header.Get("Content-Type"), len(body))
		}
		var doc struct {
			OpenAPI string `json:"openapi"`
			Info    struct {
				Version string `json:"version"`
			} `json:"info"`
			Paths map[string]json.RawMessage `json:"paths"`
		}
		agg.get("/openapi.json", &doc)
		if !strings.HasPrefix(doc.OpenAPI, "3.") {
			t.Errorf("/openapi.json: openapi %q, want 3.x", doc.OpenAPI)
		}
		if doc.Info.Version != imageVersion {
			t.Errorf("/openapi.json: info.version %q, want the built version %q", doc.Info.Version, imageVersion)
		}
		for _, p := range []string{"/publish", "/events", "/events/{topic}/{event_id}", "/stats", "/healthz", "/readyz"} {
			if _, ok := doc.Paths[p]; !ok {
				t.Errorf("/openapi.json has no path %s", p)
			}
		}
	})

	t.Run("DockerReportsHealthy", func(t *testing.T) {
		// The HEALTHCHECK runs `/app/aggregator healthcheck` every 5s.
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := mustInspect(t, ctr).State
			if st.Health == nil {
				t.Fatal("the container has no health check")
			}
			if st.Health.Status == container.Healthy {
				return
			}
			if st.Health.Status == container.Unhealthy || time.Now().After(deadline) {
				var last string
				if n := len(st.Health.Log); n > 0 {
					last = st.Health.Log[n-1].Output
				}
				t.Fatalf("health status %q, want healthy; last check: %q", st.Health.Status, last)
			}
			time.Sleep(250 * time.Millisecond)
		}
	})

	t.Run("RunsAsNonRoot", func(t *testing.T) {
		if info.Config.User != serviceUser {
			t.Errorf("Config.User = %q, want %q", info.Config.User, serviceUser)
		}
		if runtime.GOOS != "linux" || !uidsMapOneToOne(t) {
			t.Skip("uids in the container are not the host's here; Config.User was checked")
		}
		agg.mustPublish(encode([]event{{Topic: "image", EventID: "owner", Source: "e2e", Payload: []byte(`{}`)}}, false))
		entries, err := os.ReadDir(dataDir)
		if err != nil || len(entries) == 0 {
			t.Fatalf("the data directory holds nothing (%v)", err)
		}
		for _, e := range entries {
			fi, err := os.Stat(filepath.Join(dataDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if uid, ok := fileOwner(fi); !ok || uid != serviceUID {
				t.Errorf("%s in the mounted directory belongs to uid %d, want %d", e.Name(), uid, serviceUID)
			}
		}
	})

	t.Run("SizeAndLabels", func(t *testing.T) {
		img, err := newDockerClient(t).ImageInspect(t.Context(), suite.image)
		if err != nil {
			t.Fatalf("inspect image: %v", err)
		}
		if img.Size > maxImageBytes {
			t.Errorf("image size %.1f MB, want at most %.0f MB", float64(img.Size)/1e6, float64(maxImageBytes)/1e6)
		} else {
			t.Logf("image size %.1f MB", float64(img.Size)/1e6)
		}
		if img.Config == nil {
			t.Fatal("the image has no config")
		}
		labels := img.Config.Labels
		if got := labels["org.opencontainers.image.version"]; got != imageVersion {
			t.Errorf("label org.opencontainers.image.version = %q, want %q", got, imageVersion)
		}
		if got := labels["org.opencontainers.image.source"]; !strings.HasPrefix(got, "https://") {
			t.Errorf("label org.opencontainers.image.source = %q, want a URL", got)
		}
		if img.Config.User != serviceUser {
			t.Errorf("image user %q, want %q", img.Config.User, serviceUser)
		}
	})
}
