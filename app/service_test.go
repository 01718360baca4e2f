package app_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

func newService(tb testing.TB, repo app.EventRepository) *app.Service {
	tb.Helper()
	clock := apptest.ReceiveTime
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
	if _, err := repo.Append(ctx, []domain.Event{apptest.NewEvent("t", "old", 1)}, apptest.ReceiveTime); err != nil {
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
	repo := &gatedRepo{Repository: memory.New(), entered: make(chan struct{}), release: make(chan struct{})}
	svc := app.New(repo, app.Options{})

	type result struct {
		out []domain.Outcome
		err error
	}
	publish := func(id string) chan result {
		ch := make(chan result, 1)
		go func() {
			out, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", id, 1)})
			ch <- result{out, err}
		}()
		return ch
	}
	inFlight := publish("in-flight")
	<-repo.entered // its commit is running
	queued := publish("queued")
	deadline := time.Now().Add(5 * time.Second)
	for svc.Queued() < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if svc.Queued() != 1 {
		t.Fatal("the second publish never queued")
	}

	closed := make(chan struct{})
	go func() { svc.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a commit was in flight and another queued")
	case <-time.After(50 * time.Millisecond):
	}
	close(repo.release)
	<-closed

	for name, ch := range map[string]chan result{"in-flight": inFlight, "queued": queued} {
		r := <-ch
		if r.err != nil {
			t.Errorf("%s publish: %v, want it committed before Close returned", name, r.err)
			continue
		}
		if len(r.out) != 1 || r.out[0].Status != domain.Accepted {
			t.Errorf("%s publish: outcomes %+v, want one accepted", name, r.out)
		}
		if _, err := repo.Get(ctx, domain.Key{Topic: "t", EventID: name}); err != nil {
			t.Errorf("%s event not stored: %v", name, err)
		}
	}

	if _, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "late", 1)}); !errors.Is(err, app.ErrStopped) {
		t.Fatalf("Publish after Close: %v, want ErrStopped", err)
	}
	if _, err := repo.Get(ctx, domain.Key{Topic: "t", EventID: "late"}); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("event published after Close was stored (err %v)", err)
	}
}

// blockingObserver holds the committer inside Committed until released.
type blockingObserver struct {
	entered chan struct{}
	release chan struct{}
}

func (o blockingObserver) Committed(domain.Counters, int, time.Duration) {
	o.entered <- struct{}{}
	<-o.release
}

func TestPublishersDoNotWaitForTheObserver(t *testing.T) {
	ctx := context.Background()
	obs := blockingObserver{entered: make(chan struct{}, 1), release: make(chan struct{})}
	svc := app.New(memory.New(), app.Options{Observer: obs})
	defer svc.Close()
	defer close(obs.release)

	done := make(chan error, 1)
	go func() {
		_, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "a", 1)})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Publish still waiting while the commit observer runs: waiters must be released first")
	}
	<-obs.entered // the observer is still told about the commit
	st, err := svc.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (domain.Counters{Received: 1, Accepted: 1}); st.SinceStart != want {
		t.Fatalf("since start = %+v right after Publish returned, want %+v", st.SinceStart, want)
	}
}

// A group's events must not stay reachable from the committer once their
// commit is done: a later, smaller group used to leave them in the reused
// slices, up to MaxGroupEvents payloads of 64 KiB.
func TestCommittedPayloadsAreNotRetained(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New())
	big := publishBig(t, svc)
	if _, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "small", 1)}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		runtime.GC()
	}
	if big.Value() != nil {
		t.Fatal("the payload of a committed event is still reachable from the service")
	}
}

// publishBig publishes two events in one request and returns a weak pointer
// to the second one's payload, which only the service may still hold.
func publishBig(t *testing.T, svc *app.Service) weak.Pointer[byte] {
	t.Helper()
	payload := make([]byte, 64<<10)
	copy(payload, `{"pad":"`)
	for i := 8; i < len(payload)-2; i++ {
		payload[i] = 'x'
	}
	copy(payload[len(payload)-2:], `"}`)
	events := []domain.Event{apptest.NewEvent("t", "first", 1), {Topic: "t", EventID: "big", Source: "test", Payload: payload}}
	if _, err := svc.Publish(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	return weak.Make(&payload[0])
}
