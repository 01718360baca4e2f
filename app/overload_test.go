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

// With the store stuck, waiting is bounded: a full queue refuses at once,
// a queued publish is withdrawn after MaxWait, and the publish whose commit
// is running gets ErrCommitTimeout. Nothing withdrawn is ever stored.
func TestPublishWaitIsBounded(t *testing.T) {
	ctx := context.Background()
	repo := &gatedRepo{Repository: memory.New(), entered: make(chan struct{}), release: make(chan struct{})}
	svc := app.New(repo, app.Options{MaxQueue: 2, MaxWait: 200 * time.Millisecond})
	defer svc.Close()
	publish := func(id string) chan error {
		ch := make(chan error, 1)
		go func() {
			_, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", id, 1)})
			ch <- err
		}()
		return ch
	}
	running := publish("running")
	<-repo.entered // the store holds this commit
	queued := []chan error{publish("queued-1"), publish("queued-2")}
	deadline := time.Now().Add(5 * time.Second)
	for svc.Queued() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}

	start := time.Now()
	if _, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "full", 1)}); !errors.Is(err, app.ErrOverloaded) {
		t.Fatalf("publish into a full queue: %v, want ErrOverloaded", err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("a full queue took %v to refuse, want at once", took)
	}
	for i, ch := range queued {
		if err := <-ch; !errors.Is(err, app.ErrOverloaded) {
			t.Errorf("queued publish %d: %v, want ErrOverloaded after MaxWait", i, err)
		}
	}
	if err := <-running; !errors.Is(err, app.ErrCommitTimeout) {
		t.Errorf("publish whose commit is stuck: %v, want ErrCommitTimeout", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("waited %v, want about MaxWait (200ms)", took)
	}

	close(repo.release)
	// The store recovers: new publishes go through, the withdrawn ones
	// were never stored, the running one was.
	// (The withdrawn publishes hold their queue slots until the committer
	// passes them, just after the release.)
	for deadline := time.Now().Add(5 * time.Second); ; {
		_, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "after", 1)})
		if err == nil {
			break
		}
		if !errors.Is(err, app.ErrOverloaded) || time.Now().After(deadline) {
			t.Fatalf("publish after the store recovered: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, id := range []string{"queued-1", "queued-2", "full"} {
		if _, err := repo.Get(ctx, domain.Key{Topic: "t", EventID: id}); !errors.Is(err, app.ErrNotFound) {
			t.Errorf("withdrawn publish %s: Get = %v, want not stored", id, err)
		}
	}
	if _, err := repo.Get(ctx, domain.Key{Topic: "t", EventID: "running"}); err != nil {
		t.Errorf("the commit that timed out for its publisher was not stored: %v", err)
	}
}

// faultyRepo fails every Append with err while it is set.
type faultyRepo struct {
	*memory.Repository
	err atomic.Pointer[error]
}

func (f *faultyRepo) Append(ctx context.Context, events []domain.Event, at time.Time) ([]domain.Outcome, error) {
	if err := f.err.Load(); err != nil {
		return nil, *err
	}
	return f.Repository.Append(ctx, events, at)
}

// After a commit hits a store fault the service reports not ready, naming
// it, until a commit succeeds; a failure that is not a store fault does not
// change readiness.
func TestReadyReportsTheLastStoreFault(t *testing.T) {
	ctx := context.Background()
	repo := &faultyRepo{Repository: memory.New()}
	svc := app.New(repo, app.Options{})
	defer svc.Close()
	if err := svc.Ready(ctx); err != nil {
		t.Fatalf("Ready before any fault: %v", err)
	}
	bug := errors.New("bug")
	repo.err.Store(&bug)
	svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "1", 1)})
	if err := svc.Ready(ctx); err != nil {
		t.Fatalf("Ready after an error that is no store fault: %v", err)
	}
	full := fmt.Errorf("%w: write", app.ErrStoreFull)
	repo.err.Store(&full)
	if _, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "2", 1)}); !errors.Is(err, app.ErrStoreFull) {
		t.Fatalf("Publish = %v, want ErrStoreFull", err)
	}
	if err := svc.Ready(ctx); !errors.Is(err, app.ErrStoreFull) {
		t.Fatalf("Ready after a full disk = %v, want ErrStoreFull", err)
	}
	repo.err.Store(nil)
	if _, err := svc.Publish(ctx, []domain.Event{apptest.NewEvent("t", "3", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Ready(ctx); err != nil {
		t.Fatalf("Ready after a commit succeeded: %v", err)
	}
}
