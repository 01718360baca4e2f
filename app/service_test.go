package app_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

func newService(tb testing.TB, repo app.EventRepository) *app.Service {
	tb.Helper()
	clock := apptest.T0
	svc := app.New(repo, app.Options{Now: func() time.Time { return clock }})
	tb.Cleanup(svc.Close)
	return svc
}

func TestPublishRejectsWholeBatchOnOneInvalidEvent(t *testing.T) {
	repo := memory.New()
	svc := newService(t, repo)
	bad := apptest.NewEvent("t", "", 2)
	_, err := svc.Publish(context.Background(), []domain.Event{apptest.NewEvent("t", "a", 1), bad})
	var invalid *app.InvalidEventError
	if !errors.As(err, &invalid) || invalid.Index != 1 || invalid.Err.Field != "event_id" {
		t.Fatalf("Publish error = %v, want InvalidEventError at index 1 on event_id", err)
	}
	if stats, _ := repo.Stats(context.Background()); len(stats) != 0 {
		t.Fatalf("store has %v after a rejected batch, want nothing", stats)
	}
}

func TestPublishCountsSinceStartAndLifetime(t *testing.T) {
	ctx := context.Background()
	repo := memory.New()
	// Events stored before this service started count in the lifetime only.
	if _, err := repo.Append(ctx, []domain.Event{apptest.NewEvent("t", "old", 1)}, apptest.T0); err != nil {
		t.Fatal(err)
	}
	svc := newService(t, repo)
	out, err := svc.Publish(ctx, []domain.Event{
		apptest.NewEvent("t", "old", 1), apptest.NewEvent("t", "new", 1), apptest.NewEvent("t", "new", 2),
	})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Status != domain.Duplicate || out[1].Status != domain.Accepted || out[2].Status != domain.Conflict {
		t.Fatalf("outcomes = %+v", out)
	}
	st, err := svc.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (domain.Counters{Received: 3, Accepted: 1, Dropped: 2, Conflicts: 1}); st.SinceStart != want {
		t.Errorf("since start = %+v, want %+v", st.SinceStart, want)
	}
	if want := (domain.Counters{Received: 4, Accepted: 2, Dropped: 2, Conflicts: 1}); st.Lifetime != want {
		t.Errorf("lifetime = %+v, want %+v", st.Lifetime, want)
	}
	if len(st.Topics) != 1 || st.Topics[0].Topic != "t" {
		t.Errorf("topics = %+v", st.Topics)
	}
}

func TestListPagesWithCursor(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New())
	var events []domain.Event
	for i := range 7 {
		events = append(events, apptest.NewEvent("t", fmt.Sprint(i), i))
	}
	if _, err := svc.Publish(ctx, events); err != nil {
		t.Fatal(err)
	}
	var got []string
	q := app.ListQuery{Topic: "t", Limit: 3}
	for pages := 0; ; pages++ {
		page, err := svc.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			got = append(got, e.EventID)
		}
		if page.Next == 0 {
			if pages != 2 {
				t.Fatalf("%d pages, want 3", pages+1)
			}
			break
		}
		q.After = page.Next
	}
	if fmt.Sprint(got) != "[0 1 2 3 4 5 6]" {
		t.Fatalf("listed %v", got)
	}
}

func TestGetMissingWrapsErrNotFound(t *testing.T) {
	svc := newService(t, memory.New())
	if _, err := svc.Get(context.Background(), domain.Key{Topic: "t", EventID: "x"}); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("Get error = %v, want ErrNotFound", err)
	}
}

// gatedRepo blocks the first Append until released, so that the publishes
// arriving meanwhile must share the next commit.
type gatedRepo struct {
	*memory.Repository
	once    sync.Once
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	calls   []int // events per Append
}

func (g *gatedRepo) Append(ctx context.Context, events []domain.Event, at time.Time) ([]domain.Outcome, error) {
	g.once.Do(func() { close(g.entered); <-g.release })
	g.mu.Lock()
	g.calls = append(g.calls, len(events))
	g.mu.Unlock()
	return g.Repository.Append(ctx, events, at)
}

func TestConcurrentPublishesShareOneCommit(t *testing.T) {
	ctx := context.Background()
	repo := &gatedRepo{Repository: memory.New(), entered: make(chan struct{}), release: make(chan struct{})}
	svc := newService(t, repo)

	first := make(chan error, 1)
	go func() {
		_, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "first", 0)})
		first <- err
	}()
	<-repo.entered // the committer is busy with the first publish

	const waiting = 20
	var wg sync.WaitGroup
	results := make([][]domain.Outcome, waiting)
	for i := range waiting {
		wg.Go(func() {
			out, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", fmt.Sprint(i), i), apptest.NewEvent("t", "shared", 0)})
			if err != nil {
				t.Error(err)
			}
			results[i] = out
		})
	}
	// Let every publisher queue up before the first commit finishes.
	deadline := time.Now().Add(5 * time.Second)
	for svc.Queued() < waiting && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(repo.release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}

	if len(repo.calls) != 2 || repo.calls[1] != 2*waiting {
		t.Fatalf("Append calls carried %v events, want [1 %d]: the waiting publishes must share one commit", repo.calls, 2*waiting)
	}
	accepted := 0
	for _, out := range results {
		if out[0].Status != domain.Accepted {
			t.Errorf("own event: %v, want accepted", out[0].Status)
		}
		if out[1].Status == domain.Accepted {
			accepted++
		}
	}
	if accepted != 1 {
		t.Fatalf("shared event accepted %d times, want once", accepted)
	}
}

func TestCloseFinishesQueuedCommitsThenRefuses(t *testing.T) {
	ctx := context.Background()
	repo := memory.New()
	svc := app.New(repo, app.Options{})
	if _, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "a", 1)}); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	if _, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "b", 1)}); err == nil {
		t.Fatal("Publish after Close succeeded, want an error")
	}
	if _, err := repo.Get(ctx, domain.Key{Topic: "t", EventID: "b"}); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("event published after Close was stored (err %v)", err)
	}
}
