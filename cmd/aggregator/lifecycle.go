package main

import (
	"context"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/metrics"
	"github.com/uts-aggregator/uts-aggregator/app"
)

// storeTotals reads the stored and purged totals for /metrics.
func storeTotals(svc *app.Service) metrics.StoreReader {
	return func() (int64, int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := svc.Stats(ctx)
		return st.Stored, st.Purged, err
	}
}
