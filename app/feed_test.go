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

func mustPublish(tb testing.TB, svc *app.Service, events ...domain.Event) {
	tb.Helper()
	if _, err := svc.Publish(context.Background(), events); err != nil {
		tb.Fatal(err)
	}
}

func publishRange(tb testing.TB, svc *app.Service, topic string, from, to int) {
	tb.Helper()
	var batch []domain.Event
	for i := from; i < to; i++ {
		batch = append(batch, apptest.NewEvent(topic, fmt.Sprint(i), 1))
		if len(batch) == 100 || i == to-1 {
			mustPublish(tb, svc, batch...)
			batch = nil
		}
	}
}

// readSeqs reads the tail until it has handed out n events.
func readSeqs(tb testing.TB, tail *app.Tail, n int) []domain.StoredEvent {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []domain.StoredEvent
	for len(got) < n {
		events, err := tail.Next(ctx)
		if err != nil {
			tb.Fatalf("after %d of %d events: %v", len(got), n, err)
		}
		got = append(got, events...)
	}
	return got
}

func requireSeqs(tb testing.TB, got []domain.StoredEvent, first, last int64) {
	tb.Helper()
	if int64(len(got)) != last-first+1 {
		tb.Fatalf("got %d events, want seqs %d..%d", len(got), first, last)
	}
	for i, e := range got {
		if e.Seq != first+int64(i) {
			tb.Fatalf("event %d has seq %d, want %d (gap or repeat)", i, e.Seq, first+int64(i))
		}
	}
}

func TestTailFromNowSendsEachNewEventOnce(t *testing.T) {
	svc := newService(t, memory.New())
	mustPublish(t, svc, apptest.NewEvent("t", "before", 1))
	tail := svc.Tail(app.TailQuery{})
	defer tail.Close()
	a := apptest.NewEvent("t", "a", 1)
	mustPublish(t, svc, a, a, apptest.NewEvent("t", "b", 1))
	mustPublish(t, svc, a, apptest.NewEvent("t", "b", 2)) // a duplicate and a conflict: nothing new
	mustPublish(t, svc, apptest.NewEvent("t", "c", 1))
	got := readSeqs(t, tail, 3)
	requireSeqs(t, got, 2, 4)
	if got[0].EventID != "a" || got[1].EventID != "b" || got[2].EventID != "c" {
		t.Fatalf("events = %+v", got)
	}
	if !got[0].ReceivedAt.Equal(apptest.ReceiveTime) || string(got[0].Payload) != string(a.Payload) || got[0].Source != a.Source {
		t.Fatalf("event a = %+v, want it as stored", got[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if extra, err := tail.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after the last event Next = %v, %v; want it to wait", extra, err)
	}
}

func TestTailReplaysThenGoesLiveWithoutGapOrRepeat(t *testing.T) {
	svc := newService(t, memory.New())
	publishRange(t, svc, "t", 0, 2500)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				topic := fmt.Sprintf("w%d", w)
				mustPublish(t, svc, apptest.NewEvent(topic, fmt.Sprint(i), 1), apptest.NewEvent(topic, fmt.Sprint(i), 1))
			}
		}()
	}
	tail := svc.Tail(app.TailQuery{Replay: true, After: 100})
	defer tail.Close()
	got := readSeqs(t, tail, 2400+200)
	wg.Wait()
	requireSeqs(t, got, 101, 2700)
}

func TestTailReplayOutlastsLiveOverflow(t *testing.T) {
	svc := newService(t, memory.New())
	publishRange(t, svc, "t", 0, 1500)
	tail := svc.Tail(app.TailQuery{Replay: true})
	defer tail.Close()
	// More than the live buffer holds, committed before the replay is read.
	publishRange(t, svc, "t", 1500, 1500+app.TailMaxEvents+500)
	got := readSeqs(t, tail, 1500+app.TailMaxEvents+500)
	requireSeqs(t, got, 1, int64(1500+app.TailMaxEvents+500))
	mustPublish(t, svc, apptest.NewEvent("t", "live", 1))
	requireSeqs(t, readSeqs(t, tail, 1), int64(1500+app.TailMaxEvents+501), int64(1500+app.TailMaxEvents+501))
}

func TestTailFiltersByTopic(t *testing.T) {
	svc := newService(t, memory.New())
	mustPublish(t, svc, apptest.NewEvent("a", "1", 1), apptest.NewEvent("b", "1", 1))
	tail := svc.Tail(app.TailQuery{Topic: "b", Replay: true})
	defer tail.Close()
	mustPublish(t, svc, apptest.NewEvent("a", "2", 1), apptest.NewEvent("b", "2", 1))
	got := readSeqs(t, tail, 2)
	if len(got) != 2 || got[0].Seq != 2 || got[1].Seq != 4 || got[0].Topic != "b" || got[1].Topic != "b" {
		t.Fatalf("events = %+v, want seqs 2 and 4 of topic b", got)
	}
}

func TestTailCutsOffAReaderThatFallsBehind(t *testing.T) {
	svc := newService(t, memory.New())
	tail := svc.Tail(app.TailQuery{})
	defer tail.Close()
	// One commit, so that the reader cannot take part of it before the
	// rest arrives: the tail is handed the events after their publisher.
	many := make([]domain.Event, app.TailMaxEvents+1)
	for i := range many {
		many[i] = apptest.NewEvent("t", fmt.Sprint(i), 1)
	}
	mustPublish(t, svc, many...)
	if events, err := tail.Next(context.Background()); !errors.Is(err, app.ErrTailBehind) {
		t.Fatalf("Next = %d events, %v; want ErrTailBehind", len(events), err)
	}
	if tail.Last() != 0 {
		t.Fatalf("Last = %d, want 0: resuming after it loses nothing", tail.Last())
	}

	big := apptest.NewEvent("big", "1", 1)
	big.Payload = fmt.Appendf(nil, `{"s":"%0*d"}`, 60<<10, 0)
	tail2 := svc.Tail(app.TailQuery{})
	defer tail2.Close()
	bigs := make([]domain.Event, app.TailMaxBytes/(60<<10)+1)
	for i := range bigs {
		bigs[i] = big
		bigs[i].EventID = fmt.Sprint(i)
	}
	mustPublish(t, svc, bigs...)
	if events, err := tail2.Next(context.Background()); !errors.Is(err, app.ErrTailBehind) {
		t.Fatalf("Next = %d events, %v; want ErrTailBehind once over the byte bound", len(events), err)
	}
	if want := int64(app.TailMaxEvents + 1); tail2.Last() != want {
		t.Fatalf("Last = %d, want %d, the seq before the first lost event", tail2.Last(), want)
	}
}

func TestTailEndsWhenTheServiceCloses(t *testing.T) {
	svc := app.New(memory.New(), app.Options{})
	tail := svc.Tail(app.TailQuery{})
	defer tail.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := tail.Next(context.Background())
		errc <- err
	}()
	svc.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, app.ErrTailClosed) {
			t.Fatalf("Next = %v, want ErrTailClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next still waits after Close")
	}
	late := svc.Tail(app.TailQuery{})
	defer late.Close()
	if _, err := late.Next(context.Background()); !errors.Is(err, app.ErrTailClosed) {
		t.Fatalf("a tail after Close: %v", err)
	}
}

// slowObserver takes its time, as a busy log or metrics sink may.
type slowObserver struct{}

func (slowObserver) Committed(domain.Counters, int, time.Duration) { time.Sleep(5 * time.Millisecond) }

func TestTailHoldsAnEventOnceItsPublishReturns(t *testing.T) {
	svc := app.New(memory.New(), app.Options{Observer: slowObserver{}})
	t.Cleanup(svc.Close)
	tail := svc.Tail(app.TailQuery{})
	defer tail.Close()
	done, cancel := context.WithCancel(context.Background())
	cancel() // Next must not wait: the event is there already
	for i := range 20 {
		mustPublish(t, svc, apptest.NewEvent("t", fmt.Sprint(i), 1))
		events, err := tail.Next(done)
		if err != nil || len(events) != 1 || events[0].Seq != int64(i+1) {
			t.Fatalf("publish %d returned, the tail has %d events, %v", i, len(events), err)
		}
	}
}
