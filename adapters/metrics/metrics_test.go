package metrics_test

import (
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
