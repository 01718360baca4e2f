// Package app holds the aggregator's use cases: publish, list, get and stats.
// It orchestrates the domain rules over an EventRepository and knows nothing of
// HTTP or SQL.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

// Options tunes a Service. The zero value of each field picks its default.
type Options struct {
	Limits domain.Limits
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// Logger receives one line per dropped event; slog.Default() by default.
	Logger *slog.Logger
	// LogDuplicates is how dropped duplicates are logged: LogDuplicatesSummary
	// (the default), LogDuplicatesEach or LogDuplicatesOff. Conflicts are
	// always logged.
	LogDuplicates DuplicateLogging
	// DuplicateSummaryEvery is the interval of LogDuplicatesSummary: at most
	// one line per interval (one second by default).
	DuplicateSummaryEvery time.Duration
	// MaxGroupEvents caps how many events one group commit may hold.
	MaxGroupEvents int
	// MaxQueue is how many publishes may wait for a commit (4096 by
	// default); one more answers ErrOverloaded.
	MaxQueue int
	// MaxWait is the longest a publish waits for its commit (10 s by
	// default): then ErrOverloaded or ErrCommitTimeout.
	MaxWait time.Duration
	// Observer, if set, is told about every group commit.
	Observer CommitObserver
	// Lifecycle, if set, runs retention in the background; the repository
	// must then be a Purger.
	Lifecycle Lifecycle
}

// Defaults of Options.
const (
	DefaultMaxQueue = 4096
	DefaultMaxWait  = 10 * time.Second
)

// CommitObserver is told about every durable group commit, for example to
// export metrics. It is called from the committer, so it must be quick.
type CommitObserver interface {
	// Committed reports one commit: the tally of its outcomes, how many
	// publish calls shared it, and how long the store took.
	Committed(c domain.Counters, publishes int, took time.Duration)
}

// Service runs the aggregator's use cases. Create it with New and stop it with
// Close once no more calls are in flight.
type Service struct {
	repo       EventRepository
	opts       Options
	startedAt  time.Time
	committer  *committer
	feed       *feed
	duplicates *duplicateLog
	sweeper    *sweeper
}

// New returns a Service that stores through repo.
func New(repo EventRepository, opts Options) *Service {
	if opts.Limits == (domain.Limits{}) {
		opts.Limits = domain.DefaultLimits()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxGroupEvents <= 0 {
		opts.MaxGroupEvents = 10_000
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = DefaultMaxQueue
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.Lifecycle.Step <= 0 {
		opts.Lifecycle.Step = 200
	}
	s := &Service{repo: repo, opts: opts, startedAt: opts.Now(), feed: newFeed(),
		duplicates: newDuplicateLog(opts.LogDuplicates, opts.DuplicateSummaryEvery, opts.Logger)}
	s.committer = startCommitter(repo, opts.Now, opts.MaxGroupEvents, opts.MaxQueue, opts.MaxWait, s.handToTails, s.committed)
	s.sweeper = s.startSweeper()
	return s
}

// Close stops the lifecycle sweep, waits for pending commits, stops the
// group committer and ends every Tail. The repository stays open; its owner
// closes it.
func (s *Service) Close() {
	s.sweeper.stop()
	s.committer.stop()
	s.feed.close()
	s.duplicates.stop()
}

// InvalidEventError says which event of a published batch broke a rule.
type InvalidEventError struct {
	Index int
	Err   *domain.ValidationError
}

func (e *InvalidEventError) Error() string { return fmt.Sprintf("event %d: %v", e.Index, e.Err) }

func (e *InvalidEventError) Unwrap() error { return e.Err }

// invalidEvent reports why the i-th event failed validation: an
// *InvalidEventError for a broken rule, any other error wrapped as it is.
func invalidEvent(i int, err error) error {
	var v *domain.ValidationError
	if errors.As(err, &v) {
		return &InvalidEventError{Index: i, Err: v}
	}
	return fmt.Errorf("validate event %d: %w", i, err)
}

// Publish validates all events and stores those not stored yet. Nothing is
// stored unless every event is valid; the first invalid one is reported as an
// *InvalidEventError. When Publish returns nil the outcomes are durable.
func (s *Service) Publish(ctx context.Context, events []domain.Event) ([]domain.Outcome, error) {
	for i, e := range events {
		if err := e.Validate(s.opts.Limits); err != nil {
			return nil, invalidEvent(i, err)
		}
	}
	outcomes, err := s.committer.commit(ctx, events)
	if err != nil {
		return nil, fmt.Errorf("publish %d events: %w", len(events), err)
	}
	return outcomes, nil
}

// handToTails gives the new events of a commit to the live tails. The
// committer calls it before releasing the publishers.
func (s *Service) handToTails(events []domain.Event, outcomes []domain.Outcome, at time.Time) {
	if s.feed.active.Load() == 0 {
		return
	}
	var stored []domain.StoredEvent
	for i, o := range outcomes {
		if o.Status == domain.Accepted {
			stored = append(stored, domain.StoredEvent{Event: events[i], Seq: o.Seq, ReceivedAt: at.UTC()})
		}
	}
	if len(stored) > 0 {
		s.feed.publish(stored)
	}
}

// committed logs the dropped events of a commit and tells the observer. The
// committer calls it once per group, after releasing the publishers.
func (s *Service) committed(events []domain.Event, outcomes []domain.Outcome, at time.Time, publishes int, took time.Duration) {
	var c domain.Counters
	for i, o := range outcomes {
		c.Count(o.Status)
		switch o.Status {
		case domain.Duplicate:
			s.duplicates.dropped(events[i].Topic, events[i].EventID, o.Seq)
		case domain.Conflict:
			s.opts.Logger.Warn("conflicting duplicate dropped: payload differs from the stored event",
				"topic", events[i].Topic, "event_id", events[i].EventID, "seq", o.Seq)
		}
	}
	if s.opts.Observer != nil {
		s.opts.Observer.Committed(c, publishes, took)
	}
}

// Page is one page of stored events and the cursor of the next one.
type Page struct {
	Events []domain.StoredEvent
	// Next is the After cursor of the following page, or 0 on the last page.
	Next int64
}

// MaxPageSize bounds ListQuery.Limit.
const MaxPageSize = 1000

// List returns a page of stored events in processing order.
func (s *Service) List(ctx context.Context, q ListQuery) (Page, error) {
	q.Limit = min(max(q.Limit, 1), MaxPageSize)
	want := q.Limit
	q.Limit++ // one extra row tells whether another page follows
	events, err := s.repo.List(ctx, q)
	if err != nil {
		return Page{}, fmt.Errorf("list events: %w", err)
	}
	var p Page
	if len(events) > want {
		events = events[:want]
		p.Next = events[want-1].Seq
	}
	p.Events = events
	return p, nil
}

// Get returns one stored event, or an error wrapping ErrNotFound.
func (s *Service) Get(ctx context.Context, key domain.Key) (domain.StoredEvent, error) {
	e, err := s.repo.Get(ctx, key)
	if err != nil {
		return domain.StoredEvent{}, fmt.Errorf("get event %s/%s: %w", key.Topic, key.EventID, err)
	}
	return e, nil
}

// Stats is the service's view of its counters.
type Stats struct {
	// SinceStart counts what this process handled since it started.
	SinceStart domain.Counters
	// Lifetime counts everything the store ever handled, across restarts and,
	// on a shared store, across replicas.
	Lifetime domain.Counters
	// Purged counts the events retention removed over the store's life;
	// Stored is how many are stored now (Lifetime.Accepted - Purged).
	Purged, Stored int64
	Topics         []TopicStats
	StartedAt      time.Time
	Uptime         time.Duration
}

// FaultHold is how long Ready reports a store fault after a commit hit it:
// the Retry-After of a publish that failed that way.
const FaultHold = 5 * time.Second

// WriteChecker is implemented by a store that can tell, without storing
// anything, whether it would take a write now.
type WriteChecker interface {
	// CheckWrite returns an error if a write would fail now.
	CheckWrite(ctx context.Context) error
}

// Ready reports whether the service can do its work: the store answers a
// read and, if it is a WriteChecker, would take a write.
//
// After a commit failed for a store fault (a full or read-only disk, a
// database gone), it is not ready for FaultHold, unless a commit succeeds
// meanwhile; then it lets publishes try again, so that it recovers by itself
// once the fault is gone.
func (s *Service) Ready(ctx context.Context) error {
	if f := s.committer.fault.Load(); f != nil && time.Since(f.at) < FaultHold {
		return fmt.Errorf("the last commit failed: %w", f.err)
	}
	if _, err := s.repo.Stats(ctx); err != nil {
		return fmt.Errorf("read stats: %w", err)
	}
	if wc, ok := s.repo.(WriteChecker); ok {
		if err := wc.CheckWrite(ctx); err != nil {
			return fmt.Errorf("store cannot write: %w", err)
		}
	}
	return nil
}

// Stats returns the counters; it fails when the store cannot be read.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	topics, err := s.repo.Stats(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("read stats: %w", err)
	}
	st := Stats{
		SinceStart: s.committer.counted.load(),
		Topics:     topics,
		StartedAt:  s.startedAt,
		Uptime:     s.opts.Now().Sub(s.startedAt),
	}
	for _, t := range topics {
		st.Lifetime = st.Lifetime.Add(t.Counters)
		st.Purged += t.Purged
	}
	st.Stored = st.Lifetime.Accepted - st.Purged
	return st, nil
}

// Queued reports how many publishes wait for the next group commit.
func (s *Service) Queued() int { return len(s.committer.queue) }
