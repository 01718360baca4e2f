package app_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

func TestLifecycleValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		l    app.Lifecycle
		ok   bool
	}{
		{"KeepAll", app.Lifecycle{}, true},
		{"RetentionOnly", app.Lifecycle{Retention: time.Hour}, true},
		{"WindowOnly", app.Lifecycle{DedupWindow: time.Hour}, true},
		{"WindowLonger", app.Lifecycle{Retention: time.Hour, DedupWindow: 2 * time.Hour}, true},
		{"ErrWindowShorter", app.Lifecycle{Retention: 2 * time.Hour, DedupWindow: time.Hour}, false},
		{"ErrNegative", app.Lifecycle{Retention: -time.Second}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.l.Validate(); (err == nil) != c.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, c.ok)
			}
		})
	}
}

func TestLifecyclePeriod(t *testing.T) {
	for _, c := range []struct {
		l    app.Lifecycle
		want time.Duration
	}{
		{app.Lifecycle{Retention: 720 * time.Hour}, time.Minute},
		{app.Lifecycle{Retention: 2 * time.Second}, 200 * time.Millisecond},
		{app.Lifecycle{Retention: time.Hour, DedupWindow: 5 * time.Second}, 500 * time.Millisecond},
	} {
		if got := c.l.Period(); got != c.want {
			t.Errorf("Period of %+v = %v, want %v", c.l, got, c.want)
		}
	}
}

// TestSweepPurgesThenForgets drives the sweep with a pinned clock: retention
// purges the payload and keeps the key; the dedup window later forgets the
// key, and the same event is then accepted as new.
func TestSweepPurgesThenForgets(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	now.Store(apptest.ReceiveTime.UnixNano())
	svc := app.New(memory.New(), app.Options{
		Now:       func() time.Time { return time.Unix(0, now.Load()) },
		Lifecycle: app.Lifecycle{Retention: time.Hour, DedupWindow: 24 * time.Hour, Step: 3},
	})
	t.Cleanup(svc.Close)
	var events []domain.Event
	for i := range 10 {
		events = append(events, apptest.NewEvent("t", fmt.Sprintf("e%d", i), i))
	}
	if _, err := svc.Publish(ctx, events); err != nil {
		t.Fatal(err)
	}
	advance := func(d time.Duration) { now.Add(int64(d)) }

	advance(59 * time.Minute)
	if res, err := svc.Sweep(ctx); err != nil || res != (app.SweepResult{}) {
		t.Fatalf("sweep before the retention = %+v, %v; want nothing removed", res, err)
	}
	advance(2 * time.Minute)
	if res, err := svc.Sweep(ctx); err != nil || res != (app.SweepResult{Purged: 10}) {
		t.Fatalf("sweep after the retention = %+v, %v; want 10 purged in steps of 3", res, err)
	}
	if _, err := svc.Get(ctx, events[0].Key()); !errors.Is(err, app.ErrPurged) {
		t.Fatalf("Get of a purged event: %v, want ErrPurged", err)
	}
	out, err := svc.Publish(ctx, events[:1])
	if err != nil || out[0].Status != domain.Duplicate {
		t.Fatalf("late retry of a purged event = %+v, %v; want duplicate", out, err)
	}
	st, err := svc.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Purged != 10 || st.Stored != 0 || st.Lifetime.Accepted != 10 {
		t.Fatalf("stats purged %d stored %d accepted %d, want 10, 0, 10", st.Purged, st.Stored, st.Lifetime.Accepted)
	}

	advance(24 * time.Hour)
	if res, err := svc.Sweep(ctx); err != nil || res != (app.SweepResult{Forgotten: 10}) {
		t.Fatalf("sweep after the window = %+v, %v; want 10 keys forgotten", res, err)
	}
	out, err = svc.Publish(ctx, events[:1])
	if err != nil || out[0].Status != domain.Accepted {
		t.Fatalf("resend after the window = %+v, %v; want accepted", out, err)
	}
	st, _ = svc.Stats(ctx)
	if st.Purged != 10 || st.Stored != 1 || st.Lifetime.Accepted != 11 {
		t.Fatalf("stats purged %d stored %d accepted %d, want 10, 1, 11", st.Purged, st.Stored, st.Lifetime.Accepted)
	}
}

// TestSweeperRunsInBackground checks that the task started by New purges
// without anyone calling Sweep, within a few periods.
func TestSweeperRunsInBackground(t *testing.T) {
	ctx := context.Background()
	repo := memory.New()
	svc := app.New(repo, app.Options{Lifecycle: app.Lifecycle{Retention: 200 * time.Millisecond}})
	t.Cleanup(svc.Close)
	if _, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "a", 1)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := svc.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Purged == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("event not purged 5 s after a 200 ms retention: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
