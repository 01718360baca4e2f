// Package metrics exports the aggregator's counters and commit timings in
// the Prometheus text format at /metrics.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

var _ app.CommitObserver = (*Recorder)(nil)

// Recorder is an app.CommitObserver that keeps Prometheus metrics.
type Recorder struct {
	reg       *prometheus.Registry
	events    *prometheus.CounterVec
	commits   prometheus.Histogram
	groupSize prometheus.Histogram
}

// New returns a Recorder with its own registry, which also holds the Go
// runtime and process collectors. queued, if not nil, is exported as the
// number of publishes waiting for the next commit.
func New(queued func() int) *Recorder {
	r := &Recorder{
		reg: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aggregator_events_total",
			Help: "Published events by outcome (accepted, duplicate, conflict), since the process started.",
		}, []string{"outcome"}),
		commits: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aggregator_commit_duration_seconds",
			Help:    "Time the store took for one durable group commit.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
		}),
		groupSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aggregator_commit_publishes",
			Help:    "Publish requests that shared one group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
	}
	r.reg.MustRegister(r.events, r.commits, r.groupSize,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if queued != nil {
		r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "aggregator_commit_queue",
			Help: "Publish requests waiting for the next group commit.",
		}, func() float64 { return float64(queued()) }))
	}
	return r
}

// Committed implements app.CommitObserver.
func (r *Recorder) Committed(c domain.Counters, publishes int, took time.Duration) {
	r.events.WithLabelValues("accepted").Add(float64(c.Accepted))
	r.events.WithLabelValues("duplicate").Add(float64(c.Dropped - c.Conflicts))
	r.events.WithLabelValues("conflict").Add(float64(c.Conflicts))
	r.commits.Observe(took.Seconds())
	r.groupSize.Observe(float64(publishes))
}

// Handler serves the metrics.
func (r *Recorder) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}
