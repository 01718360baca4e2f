package metrics

import "github.com/prometheus/client_golang/prometheus"

// StoreReader reads the store-wide totals: events stored now and events
// purged over the store's life. It is called on every scrape.
type StoreReader func() (stored, purged int64, err error)

// ObserveStore exports aggregator_stored_events and
// aggregator_purged_events_total, read from the store at each scrape, so
// that they agree with /stats and, like it, survive restarts.
func (r *Recorder) ObserveStore(read StoreReader) {
	r.reg.MustRegister(storeCollector{read: read})
}

var (
	storedDesc = prometheus.NewDesc("aggregator_stored_events",
		"Events in the store now (unique events accepted minus those purged).", nil, nil)
	purgedDesc = prometheus.NewDesc("aggregator_purged_events_total",
		"Events retention or the dedup window removed, over the store's life.", nil, nil)
)

type storeCollector struct{ read StoreReader }

func (storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storedDesc
	ch <- purgedDesc
}

// Collect leaves both out when the store cannot be read: a missing sample
// is honest, a zero would look like a reset.
func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	stored, purged, err := c.read()
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(storedDesc, prometheus.GaugeValue, float64(stored))
	ch <- prometheus.MustNewConstMetric(purgedDesc, prometheus.CounterValue, float64(purged))
}
