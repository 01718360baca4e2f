package app

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// ErrStopped is returned to publishers that arrive after Close: the service
// is shutting down and stores nothing more. A retry against another replica,
// or this one once it is back, is safe.
var ErrStopped = errors.New("service is shutting down")

// ErrOverloaded is returned when a publish cannot be queued because the
// queue is full, or was still queued when it had waited MaxWait. Nothing
// of it was stored; a retry later is safe.
var ErrOverloaded = errors.New("too many publishes waiting for the store")

// ErrCommitTimeout is returned when the commit holding a publish was still
// running after MaxWait. Its events may be stored or not: a retry is safe and
// reports those that were as duplicates.
var ErrCommitTimeout = errors.New("the store did not confirm the commit in time")

// committer implements group commit: publishes that arrive while a commit is
// running wait together and go to the repository as one Append, so one
// durable transaction (one fsync) covers many requests. A single committer
// also makes it the store's only writer, which is what SQLite wants.
type committer struct {
	repo     EventRepository
	now      func() time.Time
	maxGroup int
	maxWait  time.Duration
	// committed is told about each durable commit, after its publishers
	// have been released: the events, their outcomes, their receive time, how many publishes
	// shared the commit and how long the store took.
	committed func(events []domain.Event, outcomes []domain.Outcome, at time.Time, publishes int, took time.Duration)
	// counted tallies every committed outcome before the publishers are
	// released, so that a publisher who reads the counters next sees its own.
	counted counters
	// fault is the store fault of the last commit, nil once one succeeds.
	fault atomic.Pointer[storeFault]
	// live is handed each durable commit before its publishers are
	// released, so that every tail open at a 202 holds its events.
	live func(events []domain.Event, outcomes []domain.Outcome, at time.Time)

	queue    chan *pending
	mu       sync.RWMutex // guards closed against sends on a closed queue
	closed   bool
	finished chan struct{}
}

type pending struct {
	// state is queued, then taken by the committer or abandoned by a
	// publisher that waited too long, whichever comes first.
	state    atomic.Int32
	events   []domain.Event
	outcomes []domain.Outcome
	err      error
	done     chan struct{}
}

const (
	queued int32 = iota
	taken
	abandoned
)

func startCommitter(repo EventRepository, now func() time.Time, maxGroup, maxQueue int, maxWait time.Duration,
	live func([]domain.Event, []domain.Outcome, time.Time),
	committed func([]domain.Event, []domain.Outcome, time.Time, int, time.Duration)) *committer {
	c := &committer{
		repo: repo, now: now, maxGroup: maxGroup, maxWait: maxWait, live: live, committed: committed,
		queue:    make(chan *pending, maxQueue),
		finished: make(chan struct{}),
	}
	go c.run()
	return c
}

// commit queues events and waits until they are durably committed. Once
// queued, the events are committed even if ctx ends: the caller then just
// stops waiting, and a retry sees them as duplicates. The wait is bounded:
// a full queue answers ErrOverloaded at once; after maxWait a publish still
// queued is withdrawn (ErrOverloaded), one being committed answers
// ErrCommitTimeout.
func (c *committer) commit(ctx context.Context, events []domain.Event) ([]domain.Outcome, error) {
	p := &pending{events: events, done: make(chan struct{})}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return nil, ErrStopped
	}
	select {
	case c.queue <- p:
		c.mu.RUnlock()
	default:
		c.mu.RUnlock()
		return nil, ErrOverloaded
	}
	timer := time.NewTimer(c.maxWait)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.outcomes, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		if p.state.CompareAndSwap(queued, abandoned) {
			return nil, ErrOverloaded
		}
		// Taken: the commit may have finished just now.
		select {
		case <-p.done:
			return p.outcomes, p.err
		default:
			return nil, ErrCommitTimeout
		}
	}
}

// stop lets queued commits finish, then ends the committer.
func (c *committer) stop() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.mu.Unlock()
	<-c.finished
}

func (c *committer) run() {
	defer close(c.finished)
	var (
		group  []*pending
		events []domain.Event
	)
	for first := range c.queue {
		if !first.state.CompareAndSwap(queued, taken) {
			continue // its publisher gave up waiting
		}
		group, events = append(group[:0], first), append(events[:0], first.events...)
	drain:
		for len(events) < c.maxGroup {
			select {
			case p, ok := <-c.queue:
				if !ok {
					break drain
				}
				if !p.state.CompareAndSwap(queued, taken) {
					continue
				}
				group = append(group, p)
				events = append(events, p.events...)
			default:
				break drain
			}
		}
		c.flush(group, events)
		// The slices are reused: drop what they point to, or up to a
		// group of payloads would stay reachable until overwritten.
		clear(group)
		clear(events)
	}
}

func (c *committer) flush(group []*pending, events []domain.Event) {
	// The commit must not depend on any one publisher's context: the group
	// shares the transaction.
	start, at := time.Now(), c.now()
	outcomes, err := c.repo.Append(context.Background(), events, at)
	took := time.Since(start)
	switch {
	case err == nil:
		c.counted.add(outcomes)
		c.fault.Store(nil)
		c.live(events, outcomes, at)
	case IsStoreFault(err):
		c.fault.Store(&storeFault{err: err, at: time.Now()})
	}
	off := 0
	for _, p := range group {
		n := len(p.events)
		if err != nil {
			p.err = err
		} else {
			p.outcomes = outcomes[off : off+n : off+n]
		}
		off += n
		close(p.done)
	}
	// Publishers do not wait for the observer or the log lines.
	if err == nil {
		c.committed(events, outcomes, at, len(group), took)
	}
}

// storeFault is a commit that failed for a store fault, and when.
type storeFault struct {
	err error
	at  time.Time
}

// counters is a tally that is safe to read while the committer adds to it.
type counters struct {
	received, accepted, dropped, conflicts atomic.Int64
}

func (t *counters) add(outcomes []domain.Outcome) {
	var c domain.Counters
	for _, o := range outcomes {
		c.Count(o.Status)
	}
	t.received.Add(c.Received)
	t.accepted.Add(c.Accepted)
	t.dropped.Add(c.Dropped)
	t.conflicts.Add(c.Conflicts)
}

func (t *counters) load() domain.Counters {
	return domain.Counters{Received: t.received.Load(), Accepted: t.accepted.Load(),
		Dropped: t.dropped.Load(), Conflicts: t.conflicts.Load()}
}
