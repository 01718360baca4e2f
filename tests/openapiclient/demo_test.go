package openapiclient

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func event(id string) EventBody {
	return EventBody{Topic: "pembayaran", EventId: id, Source: "openapi_client",
		Payload: map[string]any{"amount": 50000, "user_id": "u_001"}}
}

func publish(t *testing.T, c *ClientWithResponses, body func(*PublishRequest) error) *PublishEventResponse {
	t.Helper()
	var req PublishRequest
	if err := body(&req); err != nil {
		t.Fatal(err)
	}
	res, err := c.PublishEventWithResponse(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The seed demo, through the client oapi-codegen generates from the
// served document: one event twice, a batch, an invalid event, then the
// counters, the listing and one event.
func TestSeedDemoThroughTheGeneratedClient(t *testing.T) {
	srv := startServer(t)
	c, err := NewClientWithResponses(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	for i, want := range []string{"accepted", "duplicate"} {
		res := publish(t, c, func(r *PublishRequest) error { return r.FromEventBody(event("evt_abc_123")) })
		if res.StatusCode() != http.StatusAccepted || res.JSON202 == nil {
			t.Fatalf("publish %d: %d %s", i, res.StatusCode(), res.Body)
		}
		if got := res.JSON202.Results; got == nil || len(*got) != 1 || string((*got)[0].Status) != want {
			t.Errorf("publish %d: %s, want %s", i, res.Body, want)
		}
	}

	res := publish(t, c, func(r *PublishRequest) error {
		return r.FromEventBatch(EventBatch{event("evt_b1"), event("evt_b2"), event("evt_abc_123")})
	})
	if res.StatusCode() != http.StatusAccepted || res.JSON202 == nil || res.JSON202.Received != 3 || res.JSON202.Accepted != 2 || res.JSON202.Duplicates != 1 {
		t.Fatalf("batch: %d %s", res.StatusCode(), res.Body)
	}

	bad := event("")
	res = publish(t, c, func(r *PublishRequest) error { return r.FromEventBody(bad) })
	p := res.ApplicationproblemJSON422
	if res.StatusCode() != http.StatusUnprocessableEntity || p == nil || p.Errors == nil || len(*p.Errors) != 1 ||
		(*p.Errors)[0].Location == nil || *(*p.Errors)[0].Location != "body.event_id" {
		t.Fatalf("invalid event: %d %s, want 422 naming body.event_id", res.StatusCode(), res.Body)
	}

	stats, err := c.GetEventStatsWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := stats.JSON200; s == nil || s.Received != 5 || s.UniqueProcessed != 3 || s.DuplicateDropped != 2 || s.StoredEvents != 3 {
		t.Errorf("stats: %d %s; want received 5, unique_processed 3, duplicate_dropped 2", stats.StatusCode(), stats.Body)
	}

	limit, topic := int64(2), "pembayaran"
	list, err := c.ListEventsWithResponse(ctx, &ListEventsParams{Topic: &topic, Limit: &limit})
	if err != nil {
		t.Fatal(err)
	}
	if list.JSON200 == nil || len(*list.JSON200) != 2 || !strings.Contains(list.HTTPResponse.Header.Get("Link"), `rel="next"`) {
		t.Errorf("list: %d %s, Link %q", list.StatusCode(), list.Body, list.HTTPResponse.Header.Get("Link"))
	}

	one, err := c.GetEventWithResponse(ctx, "pembayaran", "evt_abc_123")
	if err != nil {
		t.Fatal(err)
	}
	if e := one.JSON200; e == nil || e.Seq != 1 || e.Source != "openapi_client" {
		t.Errorf("get: %d %s", one.StatusCode(), one.Body)
	}
}
