package http

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// StoredEventBody is a stored event as the API shows it.
type StoredEventBody struct {
	Seq        int64           `json:"seq" doc:"Processing order: increases in the order events were first stored." example:"1"`
	Topic      string          `json:"topic" doc:"The event's topic." example:"pembayaran"`
	EventID    string          `json:"event_id" doc:"The event's id within its topic." example:"evt_abc_123"`
	Source     string          `json:"source" doc:"Who published it." example:"powershell_test"`
	Payload    json.RawMessage `json:"payload" doc:"The payload exactly as first published." example:"{\"amount\":50000,\"user_id\":\"u_001\"}"`
	Timestamp  *time.Time      `json:"timestamp" doc:"When the event happened, as the publisher said (RFC 3339); null when it did not say." example:"2025-01-02T15:04:05Z"`
	ReceivedAt time.Time       `json:"received_at" doc:"When the aggregator first stored it (UTC)." example:"2025-01-02T15:04:05.123456Z"`
}

func toEventBody(e domain.StoredEvent) StoredEventBody {
	b := StoredEventBody{Seq: e.Seq, Topic: e.Topic, EventID: e.EventID, Source: e.Source,
		Payload: e.Payload, ReceivedAt: e.ReceivedAt}
	if !e.Timestamp.IsZero() {
		b.Timestamp = &e.Timestamp
	}
	return b
}

// ListEventsInput selects a page of GET /events.
type ListEventsInput struct {
	Topic string    `query:"topic" doc:"Only events of this topic." example:"pembayaran"`
	Limit int       `query:"limit" default:"100" minimum:"1" maximum:"1000" doc:"Most events on the page." example:"100"`
	After int64     `query:"after" minimum:"0" doc:"Cursor: only events with a greater seq. Take it from the Link header of the previous page." example:"0"`
	Since time.Time `query:"since" doc:"Only events received at or after this time (RFC 3339)." example:"2025-01-02T15:00:00Z"`
	Until time.Time `query:"until" doc:"Only events received before this time (RFC 3339)." example:"2025-01-02T16:00:00Z"`
}

// Resolve implements huma.Resolver: an empty window is a mistake worth
// reporting.
func (in *ListEventsInput) Resolve(huma.Context) []error {
	if !in.Since.IsZero() && !in.Until.IsZero() && !in.Until.After(in.Since) {
		return []error{&huma.ErrorDetail{Location: "query.until", Message: "must be after since", Value: in.Until}}
	}
	return nil
}

// ListEventsOutput is a page of events; Link names the next page when there is one.
type ListEventsOutput struct {
	Link string `header:"Link" doc:"RFC 8288 link to the next page (rel=\"next\"), absent on the last page."`
	Body []StoredEventBody
}

// GetEventInput names one event.
type GetEventInput struct {
	Topic   string `path:"topic" doc:"The event's topic." example:"pembayaran"`
	EventID string `path:"event_id" doc:"The event's id." example:"evt_abc_123"`
}

// GetEventOutput is one stored event.
type GetEventOutput struct {
	Body StoredEventBody
}

func registerEvents(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "list-events",
		Method:      http.MethodGet,
		Path:        "/events",
		Summary:     "List stored events",
		Description: "Unique stored events in processing order, a page at a time. " +
			"Follow the Link header (rel=\"next\") or pass the last seq as after. " +
			"since and until select by received time; events purged by retention are not listed.",
		Tags:   []string{"Events"},
		Errors: []int{http.StatusUnprocessableEntity, http.StatusInternalServerError},
	}, h.listEvents)
	huma.Register(api, huma.Operation{
		OperationID: "get-event",
		Method:      http.MethodGet,
		Path:        "/events/{topic}/{event_id}",
		Summary:     "Get one stored event",
		Tags:        []string{"Events"},
		Description: "404 if the event is unknown; 410 if it was stored and retention has purged it " +
			"(its key is still remembered, so publishing it again is a duplicate).",
		Errors: []int{http.StatusNotFound, http.StatusGone, http.StatusInternalServerError},
	}, h.getEvent)
}

func (h *handlers) listEvents(ctx context.Context, in *ListEventsInput) (*ListEventsOutput, error) {
	page, err := h.svc.List(ctx, app.ListQuery{Topic: in.Topic, After: in.After, Limit: in.Limit, Since: in.Since, Until: in.Until})
	if err != nil {
		return nil, h.fail(ctx, "list-events", err)
	}
	out := &ListEventsOutput{Body: make([]StoredEventBody, len(page.Events))}
	for i, e := range page.Events {
		out.Body[i] = toEventBody(e)
	}
	if page.Next != 0 {
		q := url.Values{"after": {strconv.FormatInt(page.Next, 10)}, "limit": {strconv.Itoa(in.Limit)}}
		if in.Topic != "" {
			q.Set("topic", in.Topic)
		}
		if !in.Since.IsZero() {
			q.Set("since", in.Since.Format(time.RFC3339Nano))
		}
		if !in.Until.IsZero() {
			q.Set("until", in.Until.Format(time.RFC3339Nano))
		}
		out.Link = "</events?" + q.Encode() + `>; rel="next"`
	}
	return out, nil
}

func (h *handlers) getEvent(ctx context.Context, in *GetEventInput) (*GetEventOutput, error) {
	e, err := h.svc.Get(ctx, domain.Key{Topic: in.Topic, EventID: in.EventID})
	if err != nil {
		return nil, h.fail(ctx, "get-event", err)
	}
	return &GetEventOutput{Body: toEventBody(e)}, nil
}
