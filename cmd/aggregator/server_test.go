package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// startServer runs the real server on a free loopback port until the test
// ends or stop is called.
func startServer(t *testing.T, cfg config) (base string, stop func()) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), ready) }()
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	}
	t.Cleanup(stop)
	return base, stop
}

func testConfig(t *testing.T, store string) config {
	cfg, err := parseConfig("test", []string{"-store", store, "-data-dir", t.TempDir(), "-log-duplicates", "off"},
		func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type counters struct {
	Received           int64 `json:"received"`
	UniqueProcessed    int64 `json:"unique_processed"`
	DuplicateDropped   int64 `json:"duplicate_dropped"`
	DuplicateConflicts int64 `json:"duplicate_conflicts"`
}

type statsBody struct {
	counters
	Lifetime     counters `json:"lifetime"`
	StoredEvents int64    `json:"stored_events"`
}

func getJSON(t *testing.T, url string, into any) http.Header {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
	return resp.Header
}

func publish(t *testing.T, base, body string) {
	t.Helper()
	resp, err := http.Post(base+"/publish", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("publish: %s %s", resp.Status, b)
	}
}

func wantCounters(t *testing.T, got counters, received, unique, dropped int64) {
	t.Helper()
	if got != (counters{Received: received, UniqueProcessed: unique, DuplicateDropped: dropped}) {
		t.Fatalf("counters = %+v, want %d/%d/%d", got, received, unique, dropped)
	}
}

const demoEvent = `{"topic":"pembayaran","event_id":"evt_abc_123","source":"powershell_test","payload":{"amount":50000,"user_id":"u_001"}}`

func TestSeedDemoSurvivesRestart(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	base, stop := startServer(t, cfg)
	publish(t, base, demoEvent)
	publish(t, base, demoEvent)
	var st statsBody
	getJSON(t, base+"/stats", &st)
	wantCounters(t, st.counters, 2, 1, 1)
	stop()

	base, _ = startServer(t, cfg) // same data directory
	publish(t, base, demoEvent)
	st = statsBody{}
	getJSON(t, base+"/stats", &st)
	wantCounters(t, st.counters, 1, 0, 1)
	wantCounters(t, st.Lifetime, 3, 1, 2)
	var events []map[string]any
	getJSON(t, base+"/events?topic=pembayaran", &events)
	if len(events) != 1 || events[0]["event_id"] != "evt_abc_123" {
		t.Fatalf("events = %v", events)
	}
}

func TestSeedDemoInMemory(t *testing.T) {
	base, _ := startServer(t, testConfig(t, "memory"))
	publish(t, base, demoEvent)
	publish(t, base, demoEvent)
	var st statsBody
	getJSON(t, base+"/stats", &st)
	wantCounters(t, st.counters, 2, 1, 1)

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`aggregator_events_total{outcome="accepted"} 1`, `aggregator_events_total{outcome="duplicate"} 1`, "aggregator_commit_queue 0"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// A batch of 5000 events with 1000 duplicates: 400 repeat events inside the
// batch, 600 repeat events of an earlier request.
func TestBigBatchWithDuplicatesCountsExactly(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.MaxBatch = 5000
	base, _ := startServer(t, cfg)
	ev := func(i int) string {
		return fmt.Sprintf(`{"topic":"t%d","event_id":"id-%d","source":"test","payload":{"i":%d}}`, i%7, i, i)
	}
	var earlier []string
	for i := range 600 {
		earlier = append(earlier, ev(i))
	}
	publish(t, base, "["+strings.Join(earlier, ",")+"]")

	var batch []string
	for i := range 600 { // repeats of the earlier request
		batch = append(batch, ev(i))
	}
	for i := 600; i < 4600; i++ { // 4000 new events
		batch = append(batch, ev(i))
		if i < 1000 { // 400 repeats inside the batch
			batch = append(batch, ev(i))
		}
	}
	if len(batch) != 5000 {
		t.Fatalf("batch has %d events", len(batch))
	}
	publish(t, base, "["+strings.Join(batch, ",")+"]")

	var st statsBody
	getJSON(t, base+"/stats", &st)
	wantCounters(t, st.counters, 5600, 4600, 1000)
	if st.StoredEvents != 4600 {
		t.Fatalf("stored_events = %d", st.StoredEvents)
	}
	seen := map[string]bool{}
	next := base + "/events?limit=1000"
	for next != "" {
		var page []struct {
			Topic   string `json:"topic"`
			EventID string `json:"event_id"`
		}
		h := getJSON(t, next, &page)
		for _, e := range page {
			k := e.Topic + "/" + e.EventID
			if seen[k] {
				t.Fatalf("%s listed twice", k)
			}
			seen[k] = true
		}
		next = ""
		if link := h.Get("Link"); link != "" {
			next = base + strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
	}
	if len(seen) != 4600 {
		t.Fatalf("listed %d events, want 4600", len(seen))
	}
}

func TestConfigFromEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{"AGGREGATOR_ADDR": ":9999", "AGGREGATOR_STORE": "memory", "AGGREGATOR_MAX_BATCH": "50"}
	cfg, err := parseConfig("test", []string{"-max-batch", "70"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":9999" || cfg.Store != "memory" || cfg.MaxBatch != 70 || cfg.DataDir != "./data" {
		t.Fatalf("config = %+v", cfg)
	}
	for _, bad := range []map[string]string{
		{"AGGREGATOR_STORE": "redis"},
		{"AGGREGATOR_MAX_BATCH": "lots"},
		{"AGGREGATOR_SHUTDOWN_TIMEOUT": "soon"},
	} {
		if _, err := parseConfig("test", nil, func(k string) string { return bad[k] }, io.Discard); err == nil {
			t.Errorf("config %v accepted", bad)
		}
	}
}

func TestHealthcheckCommand(t *testing.T) {
	base, stop := startServer(t, testConfig(t, "memory"))
	addr := strings.TrimPrefix(base, "http://")
	if code := run(context.Background(), []string{"healthcheck", addr}, testEnv(nil)); code != 0 {
		t.Fatalf("healthcheck against a running server exited %d", code)
	}
	stop()
	if code := run(context.Background(), []string{"healthcheck", "-addr", addr}, testEnv(nil)); code != 1 {
		t.Fatalf("healthcheck with the server stopped exited %d, want 1", code)
	}
}
