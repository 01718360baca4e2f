package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/client"
)

// waits records the client's waits between attempts instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

func newClient(t *testing.T, a *aggregator, opts ...client.Option) (*client.Client, *waits) {
	t.Helper()
	w := &waits{}
	c, err := client.New(a.URL, append([]client.Option{client.WithSleep(w.sleep)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

func ev(id string) client.Event {
	return client.Event{Topic: "pembayaran", EventID: id, Source: "client_test", Payload: json.RawMessage(`{"amount":50000}`)}
}

func stats(t *testing.T, c *client.Client) client.Stats {
	t.Helper()
	s, err := c.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPublishTheSameEventTwice(t *testing.T) {
	a := startAggregator(t, 0)
	c, _ := newClient(t, a)
	ctx := context.Background()
	first, err := c.Publish(ctx, ev("evt-1"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Publish(ctx, ev("evt-1"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != client.Accepted || second.Status != client.Duplicate || first.Seq != second.Seq || !second.Delivered() {
		t.Errorf("got %+v then %+v, want accepted then a delivered duplicate of the same seq", first, second)
	}
	changed := ev("evt-1")
	changed.Payload = json.RawMessage(`{"amount":1}`)
	third, err := c.Publish(ctx, changed)
	if err != nil {
		t.Fatal(err)
	}
	if third.Status != client.Conflict || third.Delivered() {
		t.Errorf("other payload: got %+v (delivered %v), want an undelivered conflict", third, third.Delivered())
	}
	s := stats(t, c)
	if s.Received != 3 || s.UniqueProcessed != 1 || s.DuplicateDropped != 2 || s.DuplicateConflicts != 1 || s.PerTopic["pembayaran"].StoredEvents != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestPublishBatchSplitsAtTheServersLimit(t *testing.T) {
	a := startAggregator(t, 3)
	c, _ := newClient(t, a, client.WithMaxBatch(3))
	var events []client.Event
	for i := range 7 {
		events = append(events, ev(fmt.Sprintf("evt-%d", i%6))) // the 7th repeats the 1st
	}
	res, err := c.PublishBatch(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 3 || a.requestCount() != 3 {
		t.Errorf("took %d requests (server saw %d), want 3 of at most 3 events", res.Requests, a.requestCount())
	}
	if res.Received != 7 || res.Accepted != 6 || res.Duplicates != 1 || len(res.Results) != 7 {
		t.Fatalf("result %+v", res)
	}
	for i, r := range res.Results {
		if r.EventID != events[i].EventID {
			t.Errorf("result %d is for %s, want %s: results must keep the input order", i, r.EventID, events[i].EventID)
		}
	}
	if res.Results[6].Status != client.Duplicate || res.Results[6].Seq != res.Results[0].Seq {
		t.Errorf("repeat: %+v, first: %+v", res.Results[6], res.Results[0])
	}
}

func TestPublishBatchSplitsAtTheBodyLimit(t *testing.T) {
	a := startAggregator(t, 0)
	one, _ := json.Marshal(ev("evt-00"))
	// Room for two events and the brackets, not three.
	c, _ := newClient(t, a, client.WithMaxBatchBytes(2*len(one)+3))
	var events []client.Event
	for i := range 5 {
		events = append(events, ev(fmt.Sprintf("evt-%02d", i)))
	}
	res, err := c.PublishBatch(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 3 || res.Accepted != 5 {
		t.Errorf("got %d requests, %d accepted; want 3 requests of at most 2 events, 5 accepted", res.Requests, res.Accepted)
	}
}

func TestRetryAfterALostAnswerReportsDelivered(t *testing.T) {
	a := startAggregator(t, 0)
	c, w := newClient(t, a, client.WithAttemptTimeout(200*time.Millisecond))
	a.inject(commitThenHang)
	res, err := c.Publish(context.Background(), ev("evt-lost"))
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if res.Status != client.Duplicate || !res.Delivered() {
		t.Errorf("got %+v, want the retry's duplicate, reported as delivered", res)
	}
	if a.requestCount() != 2 || len(w.all()) != 1 {
		t.Errorf("%d requests, waits %v; want one retry", a.requestCount(), w.all())
	}
	if s := stats(t, c); s.UniqueProcessed != 1 || s.DuplicateDropped != 1 {
		t.Errorf("stats %+v: the event must be stored once", s.Counters)
	}
}

func TestRetriesTransportErrorsAndServerErrors(t *testing.T) {
	a := startAggregator(t, 0)
	c, w := newClient(t, a, client.WithRetry(client.Retry{MinBackoff: 10 * time.Millisecond, MaxBackoff: time.Second}))
	a.inject(dropConnection, status(http.StatusServiceUnavailable, ""), status(http.StatusTooManyRequests, ""))
	res, err := c.Publish(context.Background(), ev("evt-1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != client.Accepted || a.requestCount() != 4 {
		t.Errorf("got %+v after %d requests, want accepted on the 4th", res, a.requestCount())
	}
	got := w.all()
	if len(got) != 3 {
		t.Fatalf("waits %v, want 3", got)
	}
	for i, d := range got {
		if ceiling := 10 * time.Millisecond << i; d < 0 || d > ceiling {
			t.Errorf("wait %d is %v, want within [0, %v]", i, d, ceiling)
		}
	}
}

func TestHonoursRetryAfter(t *testing.T) {
	a := startAggregator(t, 0)
	c, w := newClient(t, a)
	a.inject(status(http.StatusTooManyRequests, "7"))
	if _, err := c.Publish(context.Background(), ev("evt-1")); err != nil {
		t.Fatal(err)
	}
	if got := w.all(); len(got) != 1 || got[0] != 7*time.Second {
		t.Errorf("waits %v, want the server's 7s", got)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	a := startAggregator(t, 0)
	c, _ := newClient(t, a, client.WithRetry(client.Retry{MaxAttempts: 3}))
	a.inject(status(500, ""), status(502, ""), status(503, ""), status(504, ""))
	_, err := c.Publish(context.Background(), ev("evt-1"))
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 503 || a.requestCount() != 3 {
		t.Errorf("err %v after %d requests, want the 3rd attempt's 503", err, a.requestCount())
	}
}

func TestDoesNotRetryBadInput(t *testing.T) {
	a := startAggregator(t, 0)
	c, w := newClient(t, a)
	bad := ev("evt-ok")
	bad2 := ev("")
	res, err := c.PublishBatch(context.Background(), []client.Event{bad, bad2})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity {
		t.Fatalf("err %v, want a 422 *client.Error", err)
	}
	if len(apiErr.Errors) != 1 || apiErr.Errors[0].Location != "body[1].event_id" {
		t.Errorf("details %+v, want body[1].event_id named", apiErr.Errors)
	}
	if a.requestCount() != 1 || len(w.all()) != 0 || len(res.Results) != 0 {
		t.Errorf("%d requests, waits %v, results %v: bad input must not be retried", a.requestCount(), w.all(), res.Results)
	}
	if s := stats(t, c); s.StoredEvents != 0 {
		t.Errorf("stored %d events, want none", s.StoredEvents)
	}
}

func TestContextEndsTheRetries(t *testing.T) {
	a := startAggregator(t, 0)
	c, err := client.New(a.URL, client.WithRetry(client.Retry{MinBackoff: time.Hour, MaxBackoff: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	a.inject(status(503, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Publish(ctx, ev("evt-1"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("err %v after %v, want the context's deadline", err, time.Since(start))
	}
}

func TestEventsFollowsTheLinkHeader(t *testing.T) {
	a := startAggregator(t, 0)
	c, _ := newClient(t, a)
	ctx := context.Background()
	var events []client.Event
	for i := range 25 {
		e := ev(fmt.Sprintf("evt-%02d", i))
		if i%5 == 0 {
			e.Topic = "other"
		}
		events = append(events, e)
	}
	if _, err := c.PublishBatch(ctx, events); err != nil {
		t.Fatal(err)
	}
	before := a.requestCount()
	var seqs []int64
	for e, err := range c.Events(ctx, client.ListQuery{Topic: "pembayaran", Limit: 7}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Topic != "pembayaran" {
			t.Errorf("event of topic %q in a pembayaran listing", e.Topic)
		}
		seqs = append(seqs, e.Seq)
	}
	if len(seqs) != 20 || a.requestCount()-before != 3 {
		t.Errorf("got %d events in %d requests, want 20 in 3 pages of 7", len(seqs), a.requestCount()-before)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Errorf("seqs out of order: %v", seqs)
			break
		}
	}
	before = a.requestCount()
	n := 0
	for range c.Events(ctx, client.ListQuery{Limit: 7}) {
		if n++; n == 3 {
			break
		}
	}
	if a.requestCount()-before != 1 {
		t.Errorf("breaking early made %d requests, want 1", a.requestCount()-before)
	}
}

func TestEventsYieldsTheError(t *testing.T) {
	a := startAggregator(t, 0)
	c, _ := newClient(t, a)
	var got []error
	for _, err := range c.Events(context.Background(), client.ListQuery{Limit: 5000}) {
		got = append(got, err)
	}
	var apiErr *client.Error
	if len(got) != 1 || !errors.As(got[0], &apiErr) || apiErr.Status != http.StatusUnprocessableEntity {
		t.Errorf("got %v, want one 422 error", got)
	}
}

func TestEvent(t *testing.T) {
	a := startAggregator(t, 0)
	c, _ := newClient(t, a)
	ctx := context.Background()
	e := ev("evt/with space")
	e.Timestamp = time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)
	if _, err := c.Publish(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := c.Event(ctx, e.Topic, e.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if got.EventID != e.EventID || string(got.Payload) != string(e.Payload) || got.Timestamp == nil || !got.Timestamp.Equal(e.Timestamp) {
		t.Errorf("got %+v", got)
	}
	if _, err := c.Event(ctx, "pembayaran", "missing"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("missing event: err %v, want ErrNotFound", err)
	}
	a.inject(status(http.StatusGone, ""))
	if _, err := c.Event(ctx, e.Topic, e.EventID); !errors.Is(err, client.ErrPurged) || errors.Is(err, client.ErrNotFound) {
		t.Errorf("purged event: err %v, want ErrPurged", err)
	}
}

func TestAPIKeyIsSentAsBearer(t *testing.T) {
	a := startAggregator(t, 0)
	c, _ := newClient(t, a, client.WithAPIKey("s3cret"))
	var got string
	a.inject(func(w http.ResponseWriter, r *http.Request, api http.Handler) {
		got = r.Header.Get("Authorization")
		api.ServeHTTP(w, r)
	})
	stats(t, c)
	if got != "Bearer s3cret" {
		t.Errorf("Authorization %q", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"3", 3 * time.Second}, {"-1", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := client.ParseRetryAfter(c.in, now); got != c.want {
			t.Errorf("%q: %v, want %v", c.in, got, c.want)
		}
	}
}

func TestBackoffGrowsWithJitterUpToTheCap(t *testing.T) {
	c, err := client.New("http://localhost", client.WithRetry(client.Retry{MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	for attempt, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 9: 400 * time.Millisecond} {
		distinct := map[time.Duration]bool{}
		var top time.Duration
		for range 200 {
			d := c.Backoff(attempt)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: wait %v outside [0, %v]", attempt, d, ceiling)
			}
			distinct[d] = true
			top = max(top, d)
		}
		if len(distinct) < 50 || top < ceiling/2 {
			t.Errorf("attempt %d: %d distinct waits, largest %v: want jitter across [0, %v]", attempt, len(distinct), top, ceiling)
		}
	}
}

func TestNewRejectsABadURL(t *testing.T) {
	for _, u := range []string{"", "localhost:8080", "ftp://host", "http://"} {
		if _, err := client.New(u); err == nil || !strings.Contains(err.Error(), "url") {
			t.Errorf("New(%q): err %v", u, err)
		}
	}
}

func TestPublishBatchLearnsASmallerServerLimit(t *testing.T) {
	a := startAggregator(t, 3) // the client does not know: it assumes 1000
	c, _ := newClient(t, a)
	ctx := context.Background()
	var events []client.Event
	for i := range 7 {
		events = append(events, ev(fmt.Sprintf("evt-%d", i)))
	}
	res, err := c.PublishBatch(ctx, events)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 7 || len(res.Results) != 7 || res.Results[6].EventID != "evt-6" {
		t.Fatalf("result %+v", res)
	}
	// 7 answered 413, then 3, 3 and 1.
	if res.Requests != 3 || a.requestCount() != 4 {
		t.Errorf("%d requests that succeeded, %d in all; want 3 of 4", res.Requests, a.requestCount())
	}
	before := a.requestCount()
	if _, err := c.PublishBatch(ctx, events[:3]); err != nil || a.requestCount()-before != 1 {
		t.Errorf("a later batch of 3 took %d requests (err %v); the limit should be remembered", a.requestCount()-before, err)
	}
}

func TestPublishBatchDoesNotSplitForAnOversizedPayload(t *testing.T) {
	a := startAggregator(t, 0)
	c, _ := newClient(t, a)
	big := ev("evt-big")
	big.Payload = json.RawMessage(`{"blob":"` + strings.Repeat("x", 70<<10) + `"}`)
	_, err := c.PublishBatch(context.Background(), []client.Event{ev("evt-small"), big})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusRequestEntityTooLarge || a.requestCount() != 1 {
		t.Errorf("err %v after %d requests; want the 413 naming the payload, without splitting", err, a.requestCount())
	}
	if s := stats(t, c); s.StoredEvents != 0 {
		t.Errorf("stored %d events, want none", s.StoredEvents)
	}
}
