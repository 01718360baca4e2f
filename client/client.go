// Package client is a Go client for the uts-aggregator HTTP API. It depends
// on the standard library only and knows nothing of the server beyond its
// wire format.
//
// # Retries are safe
//
// The aggregator stores each (topic, event_id) once and answers a repeat
// with "duplicate". Publishing is therefore idempotent, and the client
// retries every call that may not have reached the server or that the
// server could not serve: transport errors (refused or reset connections,
// an attempt that ran out of time), 429 and 5xx. It waits with exponential
// backoff and full jitter between attempts, or as long as the server's
// Retry-After says. An attempt whose answer was lost after the server
// committed comes back as "duplicate" on the retry; [Result.Delivered]
// counts it as delivered, because the stored copy is the caller's event.
//
// Bad input (4xx other than 429) is never retried: it returns an [*Error]
// with the problem the server reported, and nothing was stored.
//
// # Batches
//
// [Client.PublishBatch] splits any number of events into requests of at
// most the server's batch limit (1000 events, 8 MiB by default; see
// [WithMaxBatch] and [WithMaxBatchBytes]) and merges the outcomes in order.
// A server configured with smaller limits answers 413; the client then
// halves its requests until they pass and keeps the smaller size.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of the options.
const (
	DefaultMaxBatch       = 1000
	DefaultMaxBatchBytes  = 8 << 20
	DefaultMaxAttempts    = 5
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	DefaultAttemptTimeout = 30 * time.Second
)

// Client calls one aggregator. It is safe for concurrent use.
type Client struct {
	base           *url.URL
	http           *http.Client
	apiKey         string
	maxBatch       int
	maxBatchBytes  int
	learnedBatch   atomic.Int64 // a smaller limit a 413 taught; 0 when none
	retry          Retry
	attemptTimeout time.Duration
	sleep          func(ctx context.Context, d time.Duration) error
}

// Retry is the retry policy.
type Retry struct {
	// MaxAttempts is the most attempts per request, the first included
	// (1 turns retries off).
	MaxAttempts int
	// MinBackoff is the wait before the first retry; each retry doubles it,
	// up to MaxBackoff. The actual wait is drawn at random from [0, d] (full
	// jitter) so that many publishers do not retry in step.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps how long a server's Retry-After may make the client
	// wait (default 1 minute); a longer answer ends the retries.
	MaxRetryAfter time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithAPIKey sends key as a bearer token with every request.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithHTTPClient uses hc for the requests (its Transport, proxies, TLS).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithMaxBatch sets the most events one request carries (the server's
// AGGREGATOR_MAX_BATCH).
func WithMaxBatch(n int) Option { return func(c *Client) { c.maxBatch = n } }

// WithMaxBatchBytes sets the largest request body PublishBatch builds (the
// server's AGGREGATOR_MAX_BODY_BYTES).
func WithMaxBatchBytes(n int) Option { return func(c *Client) { c.maxBatchBytes = n } }

// WithRetry sets the retry policy; zero fields keep their defaults.
func WithRetry(r Retry) Option { return func(c *Client) { c.retry = r } }

// WithAttemptTimeout bounds each attempt; an attempt that runs out of time
// is retried. The context given to a call bounds the call as a whole.
func WithAttemptTimeout(d time.Duration) Option { return func(c *Client) { c.attemptTimeout = d } }

// New returns a client of the aggregator at baseURL, e.g.
// "http://localhost:8080".
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("aggregator url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("aggregator url %q: want http(s)://host[:port]", baseURL)
	}
	u.Path, u.RawPath = strings.TrimSuffix(u.Path, "/"), ""
	c := &Client{base: u, http: http.DefaultClient, sleep: sleep}
	for _, o := range opts {
		o(c)
	}
	if c.maxBatch <= 0 {
		c.maxBatch = DefaultMaxBatch
	}
	if c.maxBatchBytes <= 0 {
		c.maxBatchBytes = DefaultMaxBatchBytes
	}
	if c.attemptTimeout <= 0 {
		c.attemptTimeout = DefaultAttemptTimeout
	}
	r := &c.retry
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.MinBackoff <= 0 {
		r.MinBackoff = DefaultMinBackoff
	}
	if r.MaxBackoff < r.MinBackoff {
		r.MaxBackoff = max(DefaultMaxBackoff, r.MinBackoff)
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = time.Minute
	}
	return c, nil
}

// Event is one event to publish.
type Event struct {
	Topic   string          `json:"topic"`
	EventID string          `json:"event_id"`
	Source  string          `json:"source"`
	Payload json.RawMessage `json:"payload"`
	// Timestamp is when the event happened; the zero time sends none.
	Timestamp time.Time `json:"timestamp,omitzero"`
}

// Status is what the aggregator did with a published event.
type Status string

// The statuses of a published event.
const (
	// Accepted: stored for the first time.
	Accepted Status = "accepted"
	// Duplicate: already stored with the same payload, possibly by an
	// earlier attempt of this very call.
	Duplicate Status = "duplicate"
	// Conflict: already stored with another payload, which is kept.
	Conflict Status = "conflict"
)

// Result is the outcome of one published event.
type Result struct {
	Topic   string `json:"topic"`
	EventID string `json:"event_id"`
	Status  Status `json:"status"`
	// Seq is the sequence number of the stored copy.
	Seq int64 `json:"seq"`
}

// Delivered reports whether the aggregator holds this event as published:
// accepted now, or a duplicate of a copy with the same payload.
func (r Result) Delivered() bool { return r.Status == Accepted || r.Status == Duplicate }

// PublishResult is the outcome of a batch, one Result per event in order.
type PublishResult struct {
	Received   int `json:"received"`
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"` // conflicts included, as the server counts them
	Conflicts  int `json:"conflicts"`
	Results    []Result
	// Requests is how many publish calls the batch took (retries not counted).
	Requests int `json:"-"`
}

type publishBody struct {
	Received   int      `json:"received"`
	Accepted   int      `json:"accepted"`
	Duplicates int      `json:"duplicates"`
	Conflicts  int      `json:"conflicts"`
	Results    []Result `json:"results"`
}

// Publish publishes one event.
func (c *Client) Publish(ctx context.Context, e Event) (Result, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return Result{}, fmt.Errorf("encode event: %w", err)
	}
	res, err := c.post(ctx, body)
	if err != nil {
		return Result{}, err
	}
	if len(res.Results) != 1 {
		return Result{}, fmt.Errorf("publish: the server reported %d results for one event", len(res.Results))
	}
	return res.Results[0], nil
}

// PublishBatch publishes events in as many requests as the batch limits
// need. If the server answers 413 to a request of several events because
// the request is too large (its limits are below the client's), the client
// halves the request, remembers the smaller size for later calls, and goes
// on. On an error the result holds the outcomes of the requests that
// succeeded before it; those events are stored.
func (c *Client) PublishBatch(ctx context.Context, events []Event) (PublishResult, error) {
	enc := make([][]byte, len(events))
	for i, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			return PublishResult{}, fmt.Errorf("encode event %d: %w", i, err)
		}
		enc[i] = b
	}
	total := PublishResult{Results: make([]Result, 0, len(events))}
	var buf bytes.Buffer
	for start := 0; start < len(enc); {
		limit := c.batchLimit()
		buf.Reset()
		buf.WriteByte('[')
		n := 0
		for _, b := range enc[start:] {
			if n > 0 && (n == limit || buf.Len()+len(b)+2 > c.maxBatchBytes) {
				break
			}
			if n > 0 {
				buf.WriteByte(',')
			}
			buf.Write(b)
			n++
		}
		buf.WriteByte(']')
		res, err := c.post(ctx, buf.Bytes())
		if n > 1 && requestTooLarge(err) {
			c.lowerBatchLimit(n / 2)
			continue
		}
		if err != nil {
			return total, err
		}
		total.Requests++
		total.Received += res.Received
		total.Accepted += res.Accepted
		total.Duplicates += res.Duplicates
		total.Conflicts += res.Conflicts
		total.Results = append(total.Results, res.Results...)
		start += n
	}
	return total, nil
}

// batchLimit is the most events per request: the configured limit, or the
// smaller one a 413 taught.
func (c *Client) batchLimit() int {
	if l := int(c.learnedBatch.Load()); l > 0 && l < c.maxBatch {
		return l
	}
	return c.maxBatch
}

func (c *Client) lowerBatchLimit(n int) {
	for {
		cur := c.learnedBatch.Load()
		if cur > 0 && cur <= int64(n) || c.learnedBatch.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

// requestTooLarge reports a 413 about the request as a whole (too many
// events, or too many bytes), not about one event's payload: those name
// the event, as body[i].payload.
func requestTooLarge(err error) bool {
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusRequestEntityTooLarge {
		return false
	}
	for _, d := range apiErr.Errors {
		if strings.HasPrefix(d.Location, "body[") {
			return false
		}
	}
	return true
}

func (c *Client) post(ctx context.Context, body []byte) (publishBody, error) {
	var res publishBody
	err := c.do(ctx, http.MethodPost, c.url("publish"), body, func(r *http.Response) error {
		if r.StatusCode != http.StatusAccepted {
			return fmt.Errorf("publish: unexpected status %s", r.Status)
		}
		return json.NewDecoder(r.Body).Decode(&res)
	})
	return res, err
}

// StoredEvent is an event as the aggregator stored it.
type StoredEvent struct {
	Seq       int64           `json:"seq"`
	Topic     string          `json:"topic"`
	EventID   string          `json:"event_id"`
	Source    string          `json:"source"`
	Payload   json.RawMessage `json:"payload"`
	Timestamp *time.Time      `json:"timestamp"` // nil when the publisher sent none
	// ReceivedAt is when the aggregator first stored it.
	ReceivedAt time.Time `json:"received_at"`
}

// Errors of Event.
var (
	// ErrNotFound: no event with this topic and id was ever stored.
	ErrNotFound = errors.New("event not found")
	// ErrPurged: the event was stored, and the server's retention has
	// removed it since (410 Gone). Its key is remembered: publishing it
	// again answers duplicate.
	ErrPurged = errors.New("event purged by retention")
)

// Event returns one stored event.
func (c *Client) Event(ctx context.Context, topic, eventID string) (StoredEvent, error) {
	var e StoredEvent
	err := c.do(ctx, http.MethodGet, c.url("events", topic, eventID), nil, func(r *http.Response) error {
		return json.NewDecoder(r.Body).Decode(&e)
	})
	var apiErr *Error
	if errors.As(err, &apiErr) {
		switch apiErr.Status {
		case http.StatusNotFound:
			return e, fmt.Errorf("%w: %w", ErrNotFound, apiErr)
		case http.StatusGone:
			return e, fmt.Errorf("%w: %w", ErrPurged, apiErr)
		}
	}
	return e, err
}

// ListQuery selects the events Events yields.
type ListQuery struct {
	Topic string // only this topic; all topics when empty
	After int64  // only events with a greater seq
	Limit int    // events per page (server default 100, at most 1000)
}

// Events yields the stored events in seq order, following the listing's
// Link rel="next" from page to page. An error ends the sequence: it is
// yielded with a zero event. Breaking out of the loop stops the paging.
func (c *Client) Events(ctx context.Context, q ListQuery) iter.Seq2[StoredEvent, error] {
	return func(yield func(StoredEvent, error) bool) {
		v := url.Values{}
		if q.Topic != "" {
			v.Set("topic", q.Topic)
		}
		if q.After > 0 {
			v.Set("after", strconv.FormatInt(q.After, 10))
		}
		if q.Limit > 0 {
			v.Set("limit", strconv.Itoa(q.Limit))
		}
		next := c.url("events")
		next.RawQuery = v.Encode()
		for next != nil {
			var page []StoredEvent
			var link string
			err := c.do(ctx, http.MethodGet, next, nil, func(r *http.Response) error {
				link = r.Header.Get("Link")
				return json.NewDecoder(r.Body).Decode(&page)
			})
			if err != nil {
				yield(StoredEvent{}, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			next, err = nextLink(next, link)
			if err != nil {
				yield(StoredEvent{}, err)
				return
			}
		}
	}
}

// nextLink returns the rel="next" target of an RFC 8288 Link header,
// resolved against the page's URL, or nil when there is none.
func nextLink(page *url.URL, header string) (*url.URL, error) {
	for link := range strings.SplitSeq(header, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
		target = strings.TrimSpace(target)
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if !strings.EqualFold(k, "rel") || !relHasNext(strings.Trim(v, `"`)) {
				continue
			}
			u, err := page.Parse(target[1 : len(target)-1])
			if err != nil {
				return nil, fmt.Errorf("link header %q: %w", header, err)
			}
			return u, nil
		}
	}
	return nil, nil
}

func relHasNext(rel string) bool {
	for r := range strings.FieldsSeq(rel) {
		if strings.EqualFold(r, "next") {
			return true
		}
	}
	return false
}

// Counters is a tally of published events.
type Counters struct {
	Received           int64 `json:"received"`
	UniqueProcessed    int64 `json:"unique_processed"`
	DuplicateDropped   int64 `json:"duplicate_dropped"`
	DuplicateConflicts int64 `json:"duplicate_conflicts"`
}

// TopicCounters is one topic's lifetime tally.
type TopicCounters struct {
	Counters
	StoredEvents int64 `json:"stored_events"`
}

// Stats is the answer of GET /stats. The embedded Counters cover the
// serving process since it started; Lifetime and PerTopic the whole store.
type Stats struct {
	Counters
	Topics        []string                 `json:"topics"`
	UptimeSeconds float64                  `json:"uptime_seconds"`
	StartedAt     time.Time                `json:"started_at"`
	Lifetime      Counters                 `json:"lifetime"`
	StoredEvents  int64                    `json:"stored_events"`
	PerTopic      map[string]TopicCounters `json:"per_topic"`
}

// Stats returns the aggregator's counters.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := c.do(ctx, http.MethodGet, c.url("stats"), nil, func(r *http.Response) error {
		return json.NewDecoder(r.Body).Decode(&s)
	})
	return s, err
}

// Error is a problem the server reported (RFC 9457 problem+json).
type Error struct {
	Status int           `json:"status"`
	Title  string        `json:"title"`
	Detail string        `json:"detail"`
	Errors []ErrorDetail `json:"errors"`
}

// ErrorDetail names what was wrong and where, e.g. Location
// "body[3].event_id".
type ErrorDetail struct {
	Location string `json:"location"`
	Message  string `json:"message"`
	Value    any    `json:"value,omitempty"`
}

func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("aggregator answered %d: %s", e.Status, msg)
}

func (c *Client) url(segments ...string) *url.URL {
	u := *c.base
	raw := c.base.EscapedPath()
	for _, s := range segments {
		u.Path += "/" + s
		raw += "/" + url.PathEscape(s)
	}
	u.RawPath = raw // used only when it differs from Path's own escaping
	return &u
}

// retryable is an attempt's failure that a later attempt may not meet.
type retryable struct {
	err        error
	retryAfter time.Duration // the server's Retry-After, 0 when none
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// do sends the request until an attempt succeeds, fails for good or the
// attempts run out; read decodes a 2xx answer.
func (c *Client) do(ctx context.Context, method string, u *url.URL, body []byte, read func(*http.Response) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = c.attempt(ctx, method, u, body, read)
		var r *retryable
		if err == nil || !errors.As(err, &r) {
			return err
		}
		if attempt >= c.retry.MaxAttempts {
			return fmt.Errorf("%s %s: gave up after %d attempts: %w", method, u.Path, attempt, r.err)
		}
		wait := c.backoff(attempt)
		if r.retryAfter > 0 {
			if r.retryAfter > c.retry.MaxRetryAfter {
				return fmt.Errorf("%s %s: the server asks to retry after %s: %w", method, u.Path, r.retryAfter, r.err)
			}
			wait = r.retryAfter
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%s %s: %w (last attempt: %v)", method, u.Path, serr, r.err)
		}
	}
}

// backoff is the wait after the given failed attempt: a random duration in
// [0, min(MaxBackoff, MinBackoff*2^(attempt-1))].
func (c *Client) backoff(attempt int) time.Duration {
	d := c.retry.MinBackoff
	for i := 1; i < attempt && d < c.retry.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.retry.MaxBackoff)
	return rand.N(d + 1)
}

func (c *Client) attempt(ctx context.Context, method string, u *url.URL, body []byte, read func(*http.Response) error) error {
	actx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", "uts-aggregator-client")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // the caller's context ended: no retry
		}
		return &retryable{err: err}
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := read(resp); err != nil {
			if ctx.Err() == nil && actx.Err() != nil {
				return &retryable{err: err} // the attempt ran out while reading
			}
			return fmt.Errorf("%s %s: read answer: %w", method, u.Path, err)
		}
		return nil
	}
	apiErr := &Error{Status: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(b, apiErr) != nil || apiErr.Status == 0 {
		apiErr.Status = resp.StatusCode
		apiErr.Detail = strings.TrimSpace(string(b))
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return &retryable{err: apiErr, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	return apiErr
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
