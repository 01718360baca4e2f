package http_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
)

// TestRetentionThroughTheAPI publishes at two pinned times, sweeps with a
// one-hour retention, and reads the result the way a client does.
func TestRetentionThroughTheAPI(t *testing.T) {
	var now atomic.Int64
	now.Store(apptest.ReceiveTime.UnixNano())
	svc := app.New(memory.New(), app.Options{
		Now:       func() time.Time { return time.Unix(0, now.Load()).UTC() },
		Lifecycle: app.Lifecycle{Retention: time.Hour},
	})
	t.Cleanup(svc.Close)
	_, api := humatest.New(t, httpadapter.NewConfig("test"))
	httpadapter.Register(api, svc, httpadapter.Options{})

	post(api, "["+event("t", "old-1")+","+event("u", "old-2")+"]")
	now.Add(int64(time.Hour))
	post(api, "["+event("t", "new-1")+","+event("u", "new-2")+"]")
	now.Add(int64(30 * time.Minute))
	if res, err := svc.Sweep(context.Background()); err != nil || res.Purged != 2 {
		t.Fatalf("sweep = %+v, %v; want 2 purged", res, err)
	}

	t.Run("GetPurgedIsGone", func(t *testing.T) {
		r := record(api.Get("/events/t/old-1"))
		if r.Code != http.StatusGone {
			t.Fatalf("status %d %s, want 410", r.Code, r.Body)
		}
		if r := record(api.Get("/events/t/never")); r.Code != http.StatusNotFound {
			t.Fatalf("unknown event: status %d, want 404", r.Code)
		}
	})
	t.Run("RepublishIsDuplicate", func(t *testing.T) {
		r := post(api, event("t", "old-1"))
		if r.Code != http.StatusAccepted || !strings.Contains(string(r.Body), `"status":"duplicate"`) {
			t.Fatalf("republish of a purged event: %d %s, want a 202 duplicate", r.Code, r.Body)
		}
	})
	t.Run("Stats", func(t *testing.T) {
		st := stats(t, api)
		if st.PurgedEvents != 2 || st.StoredEvents != 2 || st.Lifetime.UniqueProcessed != 4 {
			t.Fatalf("purged %d stored %d unique %d, want 2, 2, 4", st.PurgedEvents, st.StoredEvents, st.Lifetime.UniqueProcessed)
		}
		if tt := st.PerTopic["t"]; tt.PurgedEvents != 1 || tt.StoredEvents != 1 {
			t.Fatalf("topic t: %+v, want 1 purged, 1 stored", tt)
		}
	})
	t.Run("ListSkipsPurged", func(t *testing.T) {
		got := decode[[]httpadapter.StoredEventBody](t, record(api.Get("/events")))
		if len(got) != 2 || got[0].EventID != "new-1" {
			t.Fatalf("listed %+v, want new-1 and new-2", got)
		}
	})
	t.Run("TimeWindow", func(t *testing.T) {
		mid := apptest.ReceiveTime.Add(30 * time.Minute).Format(time.RFC3339)
		cases := []struct {
			name, query string
			want        []string
		}{
			{"Since", "since=" + url.QueryEscape(mid), []string{"new-1", "new-2"}},
			{"Until", "until=" + url.QueryEscape(mid), nil},
			{"SinceWithTopic", "topic=u&since=" + url.QueryEscape(mid), []string{"new-2"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := record(api.Get("/events?" + c.query))
				if r.Code != http.StatusOK {
					t.Fatalf("status %d %s", r.Code, r.Body)
				}
				got := decode[[]httpadapter.StoredEventBody](t, r)
				if len(got) != len(c.want) {
					t.Fatalf("listed %d events, want %v", len(got), c.want)
				}
				for i, e := range got {
					if e.EventID != c.want[i] {
						t.Fatalf("item %d = %s, want %s", i, e.EventID, c.want[i])
					}
				}
			})
		}
	})
	t.Run("TimeWindowPagesKeepTheWindow", func(t *testing.T) {
		since := apptest.ReceiveTime.Add(30 * time.Minute).Format(time.RFC3339)
		r := record(api.Get("/events?limit=1&since=" + url.QueryEscape(since)))
		link := r.Header.Get("Link")
		if !strings.Contains(link, "since="+url.QueryEscape(since)) {
			t.Fatalf("Link %q does not carry the window", link)
		}
	})
	t.Run("ErrBadWindow", func(t *testing.T) {
		for query, loc := range map[string]string{
			"since=yesterday": "query.since",
			"since=2025-01-02T10:00:00Z&until=2025-01-02T09:00:00Z": "query.until",
		} {
			r := record(api.Get("/events?" + query))
			p := decode[problem](t, r)
			if r.Code != http.StatusUnprocessableEntity || len(p.Errors) == 0 || p.Errors[0].Location != loc {
				t.Fatalf("%s: %d %s, want 422 naming %s", query, r.Code, r.Body, loc)
			}
		}
	})
}
