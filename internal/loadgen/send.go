package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// histogram records request latencies in microseconds in log-linear buckets
// (32 per power of two, so within about 3%), keeping memory constant however
// many requests a run makes.
type histogram struct {
	counts [64 * 32]int64
	n      int64
	max    time.Duration
}

func bucketOf(us uint64) int {
	if us < 64 {
		return int(us)
	}
	shift := bits.Len64(us) - 6
	return shift*32 + int(us>>shift)
}

// bucketMid returns the middle of bucket i, in microseconds.
func bucketMid(i int) float64 {
	if i < 64 {
		return float64(i)
	}
	shift := i/32 - 1
	m := uint64(i - shift*32)
	lo, hi := m<<shift, (m+1)<<shift
	return float64(lo+hi-1) / 2
}

func (h *histogram) record(d time.Duration) {
	h.counts[min(bucketOf(uint64(d/time.Microsecond)), len(h.counts)-1)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a share q of the requests fell.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(int64(q*float64(h.n)+0.999999), 1)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketMid(i)*float64(time.Microsecond)), h.max)
		}
	}
	return h.max
}

// publishCounts are the counters of a 202 answer from the aggregator.
type publishCounts struct {
	Received   *int64 `json:"received"`
	Accepted   *int64 `json:"accepted"`
	Duplicates *int64 `json:"duplicates"`
	Conflicts  *int64 `json:"conflicts"`
}

// tally is what the workers saw, summed over the run.
type tally struct {
	hist     histogram
	requests int64
	events   int64
	// The sums of the 202 bodies' counters; withCounts is how many bodies
	// carried them.
	withCounts                          int64
	received, accepted, dups, conflicts int64
	failures                            []string
	failed                              int64
}

func (t *tally) merge(o *tally) {
	t.hist.merge(&o.hist)
	t.requests += o.requests
	t.events += o.events
	t.withCounts += o.withCounts
	t.received += o.received
	t.accepted += o.accepted
	t.dups += o.dups
	t.conflicts += o.conflicts
	t.failed += o.failed
	for _, f := range o.failures {
		if len(t.failures) < maxReported {
			t.failures = append(t.failures, f)
		}
	}
}

// maxReported bounds how many examples of one kind of problem are printed.
const maxReported = 10

// sender posts planned requests with a fixed number of workers.
type sender struct {
	client  *http.Client
	url     string
	w       *workload
	batch   int
	timeout time.Duration
	// sent counts events whose request was answered, for progress reports.
	sent atomic.Int64
}

// run plans every request with p and sends them; it stops early, cancelling
// what is in flight, after the first failed request.
func (s *sender) run(ctx context.Context, p *planner, concurrency int) *tally {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reqs := make(chan []int64, 2*concurrency)
	free := make(chan []int64, 4*concurrency)
	go func() {
		defer close(reqs)
		for {
			var buf []int64
			select {
			case buf = <-free:
			default:
				buf = make([]int64, 0, s.batch)
			}
			ks := p.plan(buf)
			if len(ks) == 0 {
				return
			}
			select {
			case reqs <- ks:
			case <-ctx.Done():
				return
			}
		}
	}()

	tallies := make([]tally, concurrency)
	var wg sync.WaitGroup
	for i := range tallies {
		wg.Go(func() {
			t := &tallies[i]
			var body, answer bytes.Buffer
			for ks := range reqs {
				if ctx.Err() != nil {
					continue // drain so that the planner can finish
				}
				if err := s.post(ctx, ks, &body, &answer, t); err != nil {
					t.failed++
					if ctx.Err() == nil {
						t.failures = append(t.failures, err.Error())
					}
					cancel()
				}
				select {
				case free <- ks:
				default:
				}
			}
		})
	}
	wg.Wait()
	var total tally
	for i := range tallies {
		total.merge(&tallies[i])
	}
	return &total
}

func (s *sender) post(ctx context.Context, ks []int64, body, answer *bytes.Buffer, t *tally) error {
	body.Reset()
	buf := body.AvailableBuffer()
	if s.batch > 1 {
		buf = append(buf, '[')
	}
	for i, k := range ks {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = s.w.appendEvent(buf, k)
	}
	if s.batch > 1 {
		buf = append(buf, ']')
	}
	body.Write(buf)

	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.url+"/publish", bytes.NewReader(body.Bytes()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST /publish with %d events: %w", len(ks), err)
	}
	answer.Reset()
	_, err = answer.ReadFrom(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(began)
	if err != nil {
		return fmt.Errorf("POST /publish with %d events: reading the answer: %w", len(ks), err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST /publish with %d events answered %s: %s", len(ks), resp.Status, snippet(answer.Bytes()))
	}
	t.hist.record(elapsed)
	t.requests++
	t.events += int64(len(ks))
	s.sent.Add(int64(len(ks)))

	var c publishCounts
	if json.Unmarshal(answer.Bytes(), &c) != nil || c.Received == nil || c.Accepted == nil || c.Duplicates == nil {
		return nil // not the aggregator's answer; the caller decides whether that matters
	}
	if *c.Received != int64(len(ks)) {
		return fmt.Errorf("POST /publish with %d events: the 202 answer says received=%d", len(ks), *c.Received)
	}
	t.withCounts++
	t.received += *c.Received
	t.accepted += *c.Accepted
	t.dups += *c.Duplicates
	if c.Conflicts != nil {
		t.conflicts += *c.Conflicts
	}
	return nil
}

// snippet shortens an answer body for an error message.
func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// get fetches url and returns the status, the Link header and the body.
func get(ctx context.Context, client *http.Client, url string, timeout time.Duration) (int, string, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return resp.StatusCode, resp.Header.Get("Link"), b, nil
}
