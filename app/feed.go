package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// Errors that end a Tail.
var (
	// ErrTailBehind means the reader fell so far behind the live events that
	// keeping them for it would hold more than its bound. It can resume from
	// the last seq it read, which replays the rest from the store.
	ErrTailBehind = errors.New("tail reader fell too far behind the live events")
	// ErrTailClosed means the service is shutting down.
	ErrTailClosed = errors.New("service is shutting down")
)

// Bounds of what one live tail holds for its reader, and the page size of
// its replay from the store.
const (
	TailMaxEvents  = 4096
	TailMaxBytes   = 8 << 20
	tailReplayPage = 1000
)

// feed hands the events of every commit to the live tails. The committer
// calls publish after the commit, so a tail only ever sees durable events.
type feed struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
	active atomic.Int32 // len(subs), read without the lock on the commit path
}

func newFeed() *feed { return &feed{subs: map[*subscriber]struct{}{}} }

type subscriber struct {
	topic string
	wake  chan struct{} // capacity 1: "something changed"

	mu       sync.Mutex
	first    int64 // seq of the first event pushed, 0 before any
	buf      []domain.StoredEvent
	bytes    int
	overflow bool
	closed   bool
}

func (f *feed) subscribe(topic string) *subscriber {
	s := &subscriber{topic: topic, wake: make(chan struct{}, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		s.closed = true
		return s
	}
	f.subs[s] = struct{}{}
	f.active.Store(int32(len(f.subs)))
	return s
}

func (f *feed) unsubscribe(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, s)
	f.active.Store(int32(len(f.subs)))
}

// publish hands committed events, in seq order, to every tail. It never
// blocks on a reader: a tail that cannot take more is marked overflowed.
func (f *feed) publish(events []domain.StoredEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.push(events)
	}
}

// close ends every tail, now and later.
func (f *feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for s := range f.subs {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.signal()
	}
}

func (s *subscriber) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) push(events []domain.StoredEvent) {
	s.mu.Lock()
	added := false
	for _, e := range events {
		if s.overflow || s.closed {
			break
		}
		if s.topic != "" && e.Topic != s.topic {
			continue
		}
		if s.first == 0 {
			s.first = e.Seq
		}
		s.buf = append(s.buf, e)
		s.bytes += eventSize(e)
		added = true
		if len(s.buf) > TailMaxEvents || s.bytes > TailMaxBytes {
			s.overflow, s.buf, s.bytes = true, nil, 0
		}
	}
	s.mu.Unlock()
	if added {
		s.signal()
	}
}

// take returns the buffered events and empties the buffer, and the seq of
// the first event ever pushed.
func (s *subscriber) take() (events []domain.StoredEvent, first int64, overflow, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	events, s.buf, s.bytes = s.buf, nil, 0
	return events, s.first, s.overflow, s.closed
}

// reset forgets an overflow and what is buffered; the caller reads the store
// instead.
func (s *subscriber) reset() {
	s.mu.Lock()
	s.overflow, s.buf, s.bytes = false, nil, 0
	s.mu.Unlock()
}

// eventSize approximates the memory one buffered event holds.
func eventSize(e domain.StoredEvent) int {
	return 128 + len(e.Topic) + len(e.EventID) + len(e.Source) + len(e.Payload)
}

// TailQuery selects what a Tail follows.
type TailQuery struct {
	// Topic limits the tail to one topic; empty follows every topic.
	Topic string
	// Replay first sends the stored events with seq greater than After.
	// Without it the tail starts with the events committed from now on.
	Replay bool
	After  int64
}

// Tail follows the stored events as they are committed, in seq order, each
// once. Create it with Service.Tail, read it with Next from one goroutine, and
// Close it when done.
type Tail struct {
	repo   EventRepository
	feed   *feed
	sub    *subscriber
	topic  string
	cursor int64 // the last seq handed out
	live   bool  // the replay is over: events come from sub alone
	replay bool
}

// Tail starts following stored events. It subscribes to the live events
// before it reads the store, and hands out only seqs above the last one it
// handed out, so the switch from replay to live has no gap and no repeat.
func (s *Service) Tail(q TailQuery) *Tail {
	t := &Tail{repo: s.repo, feed: s.feed, topic: q.Topic, live: !q.Replay, replay: q.Replay}
	t.sub = s.feed.subscribe(q.Topic)
	if q.Replay {
		t.cursor = q.After
	}
	return t
}

// Next waits for the next events and returns them in seq order. It returns
// ErrTailBehind when the reader fell too far behind, ErrTailClosed when the
// service shuts down, or ctx's error when ctx ends first.
func (t *Tail) Next(ctx context.Context) ([]domain.StoredEvent, error) {
	for {
		if !t.live {
			// While replaying, the store has every event the live buffer
			// could lose: an overflow only means reading the store longer.
			// Resetting before the read keeps every later commit buffered.
			t.sub.reset()
			events, err := t.repo.List(ctx, ListQuery{Topic: t.topic, After: t.cursor, Limit: tailReplayPage})
			if err != nil {
				return nil, fmt.Errorf("tail: replay after seq %d: %w", t.cursor, err)
			}
			if len(events) < tailReplayPage {
				t.live = true
			}
			if len(events) > 0 {
				t.cursor = events[len(events)-1].Seq
				return events, nil
			}
			continue
		}
		events, first, overflow, closed := t.sub.take()
		if overflow {
			if !t.replay && t.cursor == 0 && first > 0 {
				t.cursor = first - 1 // nothing handed out yet: resume before the first lost event
			}
			return nil, ErrTailBehind
		}
		i := 0
		for i < len(events) && events[i].Seq <= t.cursor {
			i++ // committed before the replay's last read: already handed out
		}
		if events = events[i:]; len(events) > 0 {
			t.cursor = events[len(events)-1].Seq
			return events, nil
		}
		if closed {
			return nil, ErrTailClosed
		}
		select {
		case <-t.sub.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Last returns the seq to resume from with TailQuery.After: the last one
// handed out (or, for a tail that started now and lost its first events, the
// one before them). It is 0 when nothing is known.
func (t *Tail) Last() int64 { return t.cursor }

// Close stops following. It is safe to call more than once.
func (t *Tail) Close() { t.feed.unsubscribe(t.sub) }
