package app

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrPurged is returned for an event that was stored and has been purged by
// retention while the store still remembers its key.
var ErrPurged = errors.New("event purged")

// Purger is the store port of the data lifecycle. Each call is one short
// transaction, so that publishes never wait long behind it.
type Purger interface {
	// PurgeEvents deletes up to limit of the oldest stored events received
	// before t and returns how many it deleted. Their keys stay: a later
	// publish of a purged event is still a duplicate, and Get answers
	// ErrPurged.
	PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error)
	// ForgetKeys forgets up to limit of the oldest keys first accepted before
	// t and returns how many it forgot. Their events go too if they are still
	// stored (counted as purged). A later publish of a forgotten key is
	// accepted as new.
	ForgetKeys(ctx context.Context, before time.Time, limit int) (int, error)
}

// Lifecycle says how long a store keeps events and their keys. The zero
// value keeps everything.
type Lifecycle struct {
	// Retention is how long an event stays stored after it was received; 0
	// keeps events for ever.
	Retention time.Duration
	// DedupWindow is how long a key is remembered after its first
	// acceptance; 0 remembers keys for ever. When set, it must not be
	// shorter than Retention: forgetting a key also deletes its event.
	DedupWindow time.Duration
	// Step is how many events or keys one store call removes (200 by
	// default): small enough that a publish waits a few milliseconds at most.
	Step int
}

// Validate reports a lifecycle that cannot work.
func (l Lifecycle) Validate() error {
	switch {
	case l.Retention < 0:
		return fmt.Errorf("retention %v is negative", l.Retention)
	case l.DedupWindow < 0:
		return fmt.Errorf("dedup window %v is negative", l.DedupWindow)
	case l.DedupWindow > 0 && l.Retention > 0 && l.DedupWindow < l.Retention:
		return fmt.Errorf("dedup window %v is shorter than the retention %v: forgetting a key deletes its event", l.DedupWindow, l.Retention)
	}
	return nil
}

func (l Lifecycle) enabled() bool { return l.Retention > 0 || l.DedupWindow > 0 }

// Period is how often the background sweep runs: a tenth of the shortest
// duration set, at most a minute.
func (l Lifecycle) Period() time.Duration {
	p := time.Minute
	for _, d := range []time.Duration{l.Retention, l.DedupWindow} {
		if d > 0 {
			p = min(p, d/10)
		}
	}
	return max(p, 10*time.Millisecond)
}

// SweepResult counts what one sweep removed.
type SweepResult struct {
	Purged    int // events deleted by retention
	Forgotten int // keys forgotten by the dedup window
}

// Sweep applies the lifecycle once, now: it purges the events older than
// the retention and forgets the keys older than the dedup window, in steps
// of Lifecycle.Step, until nothing is left to remove. The background task
// calls it every Lifecycle.Period.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	l := s.opts.Lifecycle
	if !l.enabled() {
		return res, nil
	}
	p, ok := s.repo.(Purger)
	if !ok {
		return res, errors.New("the store cannot purge")
	}
	now := s.opts.Now()
	steps := []struct {
		keep time.Duration
		do   func(context.Context, time.Time, int) (int, error)
		n    *int
		what string
	}{
		{l.DedupWindow, p.ForgetKeys, &res.Forgotten, "forget keys"},
		{l.Retention, p.PurgeEvents, &res.Purged, "purge events"},
	}
	for _, st := range steps {
		if st.keep <= 0 {
			continue
		}
		before := now.Add(-st.keep)
		for {
			n, err := st.do(ctx, before, l.Step)
			*st.n += n
			if err != nil {
				return res, fmt.Errorf("%s: %w", st.what, err)
			}
			if n < l.Step || ctx.Err() != nil {
				break
			}
		}
	}
	return res, nil
}

// sweeper runs Sweep every Lifecycle.Period until stopped.
type sweeper struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (s *Service) startSweeper() *sweeper {
	if !s.opts.Lifecycle.enabled() {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &sweeper{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(s.opts.Lifecycle.Period())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			res, err := s.Sweep(ctx)
			if err != nil && ctx.Err() == nil {
				s.opts.Logger.Error("lifecycle sweep failed", "err", err)
			}
			if res.Purged > 0 || res.Forgotten > 0 {
				s.opts.Logger.Debug("lifecycle sweep", "purged_events", res.Purged, "forgotten_keys", res.Forgotten)
			}
		}
	}()
	return w
}

func (w *sweeper) stop() {
	if w != nil {
		w.cancel()
		<-w.done
	}
}
