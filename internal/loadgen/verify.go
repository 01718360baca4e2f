package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// topicCounters is one per_topic entry of GET /stats.
type topicCounters struct {
	Received           int64 `json:"received"`
	UniqueProcessed    int64 `json:"unique_processed"`
	DuplicateDropped   int64 `json:"duplicate_dropped"`
	DuplicateConflicts int64 `json:"duplicate_conflicts"`
}

func (c topicCounters) sub(o topicCounters) topicCounters {
	return topicCounters{c.Received - o.Received, c.UniqueProcessed - o.UniqueProcessed,
		c.DuplicateDropped - o.DuplicateDropped, c.DuplicateConflicts - o.DuplicateConflicts}
}

func (c topicCounters) String() string {
	return fmt.Sprintf("received=%d unique_processed=%d duplicate_dropped=%d duplicate_conflicts=%d",
		c.Received, c.UniqueProcessed, c.DuplicateDropped, c.DuplicateConflicts)
}

// stats is the part of GET /stats the checks read.
type stats struct {
	PerTopic map[string]topicCounters `json:"per_topic"`
}

// errNoStats means the server has no GET /stats, as with -serve-empty.
var errNoStats = errors.New("the server has no GET /stats")

func fetchStats(ctx context.Context, client *http.Client, base string, timeout time.Duration) (*stats, error) {
	status, _, body, err := get(ctx, client, base+"/stats", timeout)
	if err != nil {
		return nil, fmt.Errorf("GET /stats: %w", err)
	}
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		return nil, errNoStats
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET /stats answered %d: %s", status, snippet(body))
	}
	var s stats
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("GET /stats: %w", err)
	}
	if s.PerTopic == nil {
		return nil, errNoStats
	}
	return &s, nil
}

// checkStats compares the change of each run topic's counters with what the
// run sent.
func checkStats(w *workload, dupsInTopic []int64, before, after *stats) []string {
	var problems []string
	for t, name := range w.topics {
		unique, dups := w.uniqueInTopic(t), dupsInTopic[t]
		want := topicCounters{Received: unique + dups, UniqueProcessed: unique, DuplicateDropped: dups}
		got := after.PerTopic[name].sub(before.PerTopic[name])
		if got != want {
			problems = append(problems, fmt.Sprintf("stats of topic %s changed by %v; want %v", name, got, want))
		}
	}
	return problems
}

// listedEvent is the part of a GET /events item the checks read.
type listedEvent struct {
	Seq     int64           `json:"seq"`
	Topic   string          `json:"topic"`
	EventID string          `json:"event_id"`
	Payload json.RawMessage `json:"payload"`
}

// eventChecker pages through GET /events of every run topic and checks that
// the unique events are listed, each once, with their payload. It marks
// seen events in a bitset: one bit per unique event.
type eventChecker struct {
	client  *http.Client
	base    *url.URL
	w       *workload
	timeout time.Duration
	// existed names topics that held events before the run; events of
	// other runs there are tolerated.
	existed map[string]bool

	seen     []atomic.Uint64
	mu       sync.Mutex
	problems []string
	foreign  atomic.Int64
}

func (c *eventChecker) report(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) < maxReported {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	} else if len(c.problems) == maxReported {
		c.problems = append(c.problems, "(more problems not shown)")
	}
}

// check reads the topics with up to parallel requests at a time.
func (c *eventChecker) check(ctx context.Context, parallel int) []string {
	c.seen = make([]atomic.Uint64, (c.w.unique+63)/64)
	topics := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, len(c.w.topics)) {
		wg.Go(func() {
			for t := range topics {
				if err := c.checkTopic(ctx, t); err != nil {
					c.report("listing topic %s: %v", c.w.topics[t], err)
				}
			}
		})
	}
	for t := range c.w.topics {
		topics <- t
	}
	close(topics)
	wg.Wait()

	var missing []string
	var nMissing int64
	for k := range c.w.unique {
		if c.seen[k/64].Load()&(1<<(k%64)) == 0 {
			nMissing++
			if len(missing) < maxReported {
				missing = append(missing, c.w.topics[c.w.topicOf(k)]+"/"+c.w.id(k).String())
			}
		}
	}
	if nMissing > 0 {
		c.report("%d of %d unique events are not listed, e.g. %s", nMissing, c.w.unique, strings.Join(missing, ", "))
	}
	return c.problems
}

func (c *eventChecker) checkTopic(ctx context.Context, t int) error {
	name := c.w.topics[t]
	next := c.base.ResolveReference(&url.URL{Path: "/events", RawQuery: url.Values{"topic": {name}, "limit": {"1000"}}.Encode()})
	var lastSeq int64
	var payload []byte
	for next != nil {
		status, link, body, err := get(ctx, c.client, next.String(), c.timeout)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("GET %s answered %d: %s", next.RequestURI(), status, snippet(body))
		}
		var page []listedEvent
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("GET %s: %w", next.RequestURI(), err)
		}
		for _, e := range page {
			if e.Seq <= lastSeq {
				return fmt.Errorf("seq %d follows seq %d: pages are not in seq order", e.Seq, lastSeq)
			}
			lastSeq = e.Seq
			c.checkEvent(t, e, &payload)
		}
		if next, err = nextLink(next, link); err != nil {
			return err
		}
		if next != nil && len(page) == 0 {
			return fmt.Errorf("an empty page links to another")
		}
	}
	return nil
}

func (c *eventChecker) checkEvent(t int, e listedEvent, payload *[]byte) {
	name := c.w.topics[t]
	if e.Topic != name {
		c.report("GET /events?topic=%s listed an event of topic %q", name, e.Topic)
		return
	}
	id, err := uuid.Parse(e.EventID)
	k, ours := c.w.indexOf(id)
	if err != nil || !ours || c.w.topicOf(k) != t {
		if c.existed[name] {
			c.foreign.Add(1)
		} else {
			c.report("topic %s lists event %q, which this run did not send", name, e.EventID)
		}
		return
	}
	bit := uint64(1) << (k % 64)
	if c.seen[k/64].Or(bit)&bit != 0 {
		c.report("event %s/%s is listed more than once", name, e.EventID)
	}
	*payload = c.w.appendPayload((*payload)[:0], k)
	if string(e.Payload) != string(*payload) {
		c.report("event %s/%s is listed with payload %s; it was sent with %s", name, e.EventID, snippet(e.Payload), *payload)
	}
}

// nextLink returns the target of the rel="next" link in an RFC 8288 Link
// header, resolved against the current page, or nil when there is none.
func nextLink(current *url.URL, header string) (*url.URL, error) {
	for part := range strings.SplitSeq(header, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			if k, v, _ := strings.Cut(strings.TrimSpace(p), "="); k == "rel" && strings.Trim(v, `"`) == "next" {
				u, err := current.Parse(target[1 : len(target)-1])
				if err != nil {
					return nil, fmt.Errorf("link header %q: %w", header, err)
				}
				return u, nil
			}
		}
	}
	return nil, nil
}
