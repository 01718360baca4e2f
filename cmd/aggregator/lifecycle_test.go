package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLifecycleConfig(t *testing.T) {
	env := map[string]string{"AGGREGATOR_RETENTION": "720h", "AGGREGATOR_DEDUP_WINDOW": "2160h"}
	cfg, err := parseConfig("test", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Retention != 720*time.Hour || cfg.DedupWindow != 2160*time.Hour {
		t.Fatalf("retention %v window %v", cfg.Retention, cfg.DedupWindow)
	}
	if cfg, err := parseConfig("test", nil, func(string) string { return "" }, io.Discard); err != nil || cfg.lifecycle().Retention != 0 {
		t.Fatalf("default keeps everything: %+v, %v", cfg.lifecycle(), err)
	}
	for _, bad := range []map[string]string{
		{"AGGREGATOR_RETENTION": "a month"},
		{"AGGREGATOR_RETENTION": "-1h"},
		{"AGGREGATOR_RETENTION": "2h", "AGGREGATOR_DEDUP_WINDOW": "1h"},
	} {
		if _, err := parseConfig("test", nil, func(k string) string { return bad[k] }, io.Discard); err == nil {
			t.Errorf("config %v accepted", bad)
		}
	}
}

// TestRetentionOnTheServer runs the real server on SQLite with a short
// retention: the event goes (410), its key stays (a duplicate), and /stats
// and /metrics count it.
func TestRetentionOnTheServer(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Retention = 300 * time.Millisecond
	base, _ := startServer(t, cfg)
	publish(t, base, demoEvent)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/events/pembayaran/evt_abc_123")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusGone {
			break
		}
		if resp.StatusCode != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("GET of an event past its retention: %s, want 200 then 410", resp.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	publish(t, base, demoEvent)
	var st struct {
		statsBody
		PurgedEvents int64 `json:"purged_events"`
	}
	getJSON(t, base+"/stats", &st)
	wantCounters(t, st.Lifetime, 2, 1, 1)
	if st.PurgedEvents != 1 || st.StoredEvents != 0 {
		t.Fatalf("purged %d stored %d, want 1 and 0", st.PurgedEvents, st.StoredEvents)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"aggregator_purged_events_total 1", "aggregator_stored_events 0"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
