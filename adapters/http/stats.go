package http

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// CountersBody is a tally of published events.
type CountersBody struct {
	Received           int64 `json:"received" doc:"Events published." example:"2"`
	UniqueProcessed    int64 `json:"unique_processed" doc:"Events stored for the first time." example:"1"`
	DuplicateDropped   int64 `json:"duplicate_dropped" doc:"Events dropped because their key was already stored; received = unique_processed + duplicate_dropped." example:"1"`
	DuplicateConflicts int64 `json:"duplicate_conflicts" doc:"The dropped events whose payload differed from the stored one." example:"0"`
}

func toCounters(c domain.Counters) CountersBody {
	return CountersBody{Received: c.Received, UniqueProcessed: c.Accepted, DuplicateDropped: c.Dropped, DuplicateConflicts: c.Conflicts}
}

// TopicCountersBody is one topic's lifetime tally.
type TopicCountersBody struct {
	CountersBody
	StoredEvents int64 `json:"stored_events" doc:"Events of this topic in the store now." example:"1"`
	PurgedEvents int64 `json:"purged_events" doc:"Events of this topic that retention removed, over the store's life." example:"0"`
}

// StatsBody is the answer of GET /stats.
type StatsBody struct {
	CountersBody
	Topics        []string                     `json:"topics" doc:"Every topic the store has seen, sorted." example:"[\"pembayaran\"]"`
	UptimeSeconds float64                      `json:"uptime_seconds" doc:"Seconds since this process started." example:"12.5"`
	StartedAt     time.Time                    `json:"started_at" doc:"When this process started (UTC)." example:"2025-01-02T15:04:05Z"`
	Lifetime      CountersBody                 `json:"lifetime" doc:"The same counters over the store's whole life: across restarts and, on a shared store, across replicas." example:"{\"received\":3,\"unique_processed\":1,\"duplicate_dropped\":2,\"duplicate_conflicts\":0}"`
	StoredEvents  int64                        `json:"stored_events" doc:"Unique events in the store now: lifetime unique_processed - purged_events." example:"1"`
	PurgedEvents  int64                        `json:"purged_events" doc:"Events that retention (or the dedup window) removed, over the store's life; it never goes down." example:"0"`
	PerTopic      map[string]TopicCountersBody `json:"per_topic" doc:"Lifetime counters per topic." example:"{\"pembayaran\":{\"received\":3,\"unique_processed\":1,\"duplicate_dropped\":2,\"duplicate_conflicts\":0,\"stored_events\":1,\"purged_events\":0}}"`
}

// StatsOutput is the answer of GET /stats.
type StatsOutput struct {
	Body StatsBody
}

func registerStats(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "get-event-stats",
		Method:      http.MethodGet,
		Path:        "/stats",
		Summary:     "Counters",
		Description: "The top-level counters cover this process since it started (a restart sets them to zero); " +
			"lifetime and per_topic come from the store and survive restarts. Reading them costs the same " +
			"however many events are stored.",
		Tags:   []string{"Stats"},
		Errors: []int{http.StatusInternalServerError},
	}, h.stats)
}

func (h *handlers) stats(ctx context.Context, _ *struct{}) (*StatsOutput, error) {
	st, err := h.svc.Stats(ctx)
	if err != nil {
		return nil, h.fail(ctx, "get-event-stats", err)
	}
	b := StatsBody{
		CountersBody:  toCounters(st.SinceStart),
		Topics:        make([]string, len(st.Topics)),
		UptimeSeconds: st.Uptime.Seconds(),
		StartedAt:     st.StartedAt.UTC(),
		Lifetime:      toCounters(st.Lifetime),
		StoredEvents:  st.Stored,
		PurgedEvents:  st.Purged,
		PerTopic:      make(map[string]TopicCountersBody, len(st.Topics)),
	}
	for i, t := range st.Topics {
		b.Topics[i] = t.Topic
		b.PerTopic[t.Topic] = TopicCountersBody{CountersBody: toCounters(t.Counters), StoredEvents: t.Accepted - t.Purged, PurgedEvents: t.Purged}
	}
	return &StatsOutput{Body: b}, nil
}
