package metrics_test

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/metrics"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

func TestRecorderExportsCommits(t *testing.T) {
	r := metrics.New(func() int { return 3 })
	r.Committed(domain.Counters{Received: 5, Accepted: 2, Dropped: 3, Conflicts: 1}, 4, 2*time.Millisecond)
	r.Committed(domain.Counters{Received: 1, Accepted: 1}, 1, time.Millisecond)

	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`aggregator_events_total{outcome="accepted"} 3`,
		`aggregator_events_total{outcome="duplicate"} 2`,
		`aggregator_events_total{outcome="conflict"} 1`,
		`aggregator_commit_duration_seconds_count 2`,
		`aggregator_commit_publishes_sum 5`,
		`aggregator_commit_queue 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestRecorderExportsStoreTotals(t *testing.T) {
	r := metrics.New(nil)
	fail := false
	r.ObserveStore(func() (int64, int64, error) {
		if fail {
			return 0, 0, errors.New("store down")
		}
		return 7, 3, nil
	})
	scrape := func() string {
		rec := httptest.NewRecorder()
		r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body, _ := io.ReadAll(rec.Body)
		return string(body)
	}
	body := scrape()
	for _, want := range []string{"aggregator_stored_events 7", "aggregator_purged_events_total 3"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	fail = true
	if body := scrape(); strings.Contains(body, "aggregator_purged_events_total") {
		t.Errorf("purged total exported while the store cannot be read")
	}
}
