package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// event is what publishers send to POST /publish.
type event struct {
	Topic   string          `json:"topic"`
	EventID string          `json:"event_id"`
	Source  string          `json:"source"`
	Payload json.RawMessage `json:"payload"`
}

// key identifies an event: the aggregator stores each key once.
type key struct{ Topic, EventID string }

func (e event) key() key { return key{e.Topic, e.EventID} }

// publishResult is the 202 answer of POST /publish.
type publishResult struct {
	Received   int `json:"received"`
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Conflicts  int `json:"conflicts"`
	Results    []struct {
		Topic   string `json:"topic"`
		EventID string `json:"event_id"`
		Status  string `json:"status"`
		Seq     int64  `json:"seq"`
	} `json:"results"`
}

// storedEvent is an event as GET /events and GET /events/{topic}/{id} show it.
type storedEvent struct {
	Seq        int64           `json:"seq"`
	Topic      string          `json:"topic"`
	EventID    string          `json:"event_id"`
	Source     string          `json:"source"`
	Payload    json.RawMessage `json:"payload"`
	ReceivedAt time.Time       `json:"received_at"`
}

func (e storedEvent) key() key { return key{e.Topic, e.EventID} }

// counters are the event tallies of GET /stats.
type counters struct {
	Received           int64 `json:"received"`
	UniqueProcessed    int64 `json:"unique_processed"`
	DuplicateDropped   int64 `json:"duplicate_dropped"`
	DuplicateConflicts int64 `json:"duplicate_conflicts"`
}

func (c counters) String() string {
	return fmt.Sprintf("received=%d unique_processed=%d duplicate_dropped=%d duplicate_conflicts=%d",
		c.Received, c.UniqueProcessed, c.DuplicateDropped, c.DuplicateConflicts)
}

// stats is the answer of GET /stats: the top-level counters cover the
// process since it started, lifetime covers the store.
type stats struct {
	counters
	Lifetime     counters `json:"lifetime"`
	StoredEvents int64    `json:"stored_events"`
	PerTopic     map[string]struct {
		counters
		StoredEvents int64 `json:"stored_events"`
	} `json:"per_topic"`
}

// api is an HTTP client of one aggregator.
type api struct {
	tb     testing.TB
	base   *url.URL
	client *http.Client
}

func newAPI(tb testing.TB, ctr testcontainers.Container) *api {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	endpoint, err := ctr.PortEndpoint(ctx, apiPort, "http")
	if err != nil {
		tb.Fatalf("container endpoint: %v", err)
	}
	// Docker publishes the port on IPv4; skip the IPv6 attempt on localhost.
	endpoint = strings.Replace(endpoint, "//localhost:", "//127.0.0.1:", 1)
	base, err := url.Parse(endpoint)
	if err != nil {
		tb.Fatal(err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	c := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	tb.Cleanup(transport.CloseIdleConnections)
	return &api{tb: tb, base: base, client: c}
}

// url returns the absolute URL of a path (with query) on the aggregator.
func (a *api) url(path string) string {
	ref, err := url.Parse(path)
	if err != nil {
		a.tb.Fatalf("bad path %q: %v", path, err)
	}
	return a.base.ResolveReference(ref).String()
}

// publish sends body to POST /publish. A 202 is decoded; any other answer
// or a transport failure is an error, which the caller may expect.
func (a *api) publish(ctx context.Context, body []byte) (*publishResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url("/publish"), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return a.doPublish(req)
}

func (a *api) doPublish(req *http.Request) (*publishResult, error) {
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, &statusError{Code: resp.StatusCode, Body: string(b), Header: resp.Header}
	}
	var res publishResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("decode 202 answer: %w: %s", err, b)
	}
	return &res, nil
}

// mustPublish publishes and fails the test unless the answer is 202.
func (a *api) mustPublish(body []byte) *publishResult {
	a.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := a.publish(ctx, body)
	if err != nil {
		a.tb.Fatalf("POST /publish: %v", err)
	}
	return res
}

// statusError is an answer other than the expected status.
type statusError struct {
	Code   int
	Body   string
	Header http.Header
}

func (e *statusError) Error() string { return fmt.Sprintf("answered %d: %s", e.Code, e.Body) }

// get fetches path and decodes a 200 JSON answer into v.
func (a *api) get(path string, v any) http.Header {
	a.tb.Helper()
	status, header, body := a.getRaw(path)
	if status != http.StatusOK {
		a.tb.Fatalf("GET %s answered %d: %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		a.tb.Fatalf("GET %s: %v: %s", path, err, body)
	}
	return header
}

func (a *api) getRaw(path string) (int, http.Header, []byte) {
	a.tb.Helper()
	resp, err := a.client.Get(a.url(path))
	if err != nil {
		a.tb.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		a.tb.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header, body
}

func (a *api) mustStats() stats {
	a.tb.Helper()
	var s stats
	a.get("/stats", &s)
	return s
}

var nextLink = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?next"?`)

// mustListEvents reads every page of GET /events (of one topic unless topic
// is empty) by following the Link rel="next" header, and checks that seq
// increases throughout.
func (a *api) mustListEvents(topic string, limit int) []storedEvent {
	a.tb.Helper()
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	if topic != "" {
		q.Set("topic", topic)
	}
	var all []storedEvent
	path := "/events?" + q.Encode()
	for pages := 0; path != ""; pages++ {
		if pages > 100000 {
			a.tb.Fatal("GET /events: the Link header never ends")
		}
		var page []storedEvent
		header := a.get(path, &page)
		if len(page) > limit {
			a.tb.Fatalf("GET %s returned %d events, more than limit %d", path, len(page), limit)
		}
		for _, e := range page {
			if n := len(all); n > 0 && e.Seq <= all[n-1].Seq {
				a.tb.Fatalf("GET /events: seq %d follows seq %d", e.Seq, all[n-1].Seq)
			}
			if topic != "" && e.Topic != topic {
				a.tb.Fatalf("GET /events?topic=%s returned an event of topic %q", topic, e.Topic)
			}
			all = append(all, e)
		}
		path = ""
		if m := nextLink.FindStringSubmatch(header.Get("Link")); m != nil {
			path = m[1]
		} else if header.Get("Link") != "" {
			a.tb.Fatalf("GET /events: cannot read Link header %q", header.Get("Link"))
		}
		if path != "" && len(page) == 0 {
			a.tb.Fatalf("GET /events: an empty page links to a next one (%s)", path)
		}
	}
	return all
}

// mustGetEvent fetches one event; found is false on 404.
func (a *api) mustGetEvent(k key) (e storedEvent, found bool) {
	a.tb.Helper()
	path := "/events/" + url.PathEscape(k.Topic) + "/" + url.PathEscape(k.EventID)
	status, _, body := a.getRaw(path)
	switch status {
	case http.StatusOK:
		if err := json.Unmarshal(body, &e); err != nil {
			a.tb.Fatalf("GET %s: %v: %s", path, err, body)
		}
		return e, true
	case http.StatusNotFound:
		return e, false
	}
	a.tb.Fatalf("GET %s answered %d: %s", path, status, body)
	return e, false
}

// encode returns the body of POST /publish for events: a single object for
// one event unless asArray, a JSON array otherwise.
func encode(events []event, asArray bool) []byte {
	var v any = events
	if len(events) == 1 && !asArray {
		v = events[0]
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the payloads are the tests' own valid JSON
	}
	return b
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a, b []byte) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return false
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}
