package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestKillLosesNothingAcknowledged SIGKILLs the container while publishers
// send, then starts a new one on the same data: every event answered 202 is
// stored exactly once, and nothing is stored that was never sent.
func TestKillLosesNothingAcknowledged(t *testing.T) {
	requireDocker(t)
	dataDir := newDataDir(t)
	first := mustStartAggregator(t, dataDir)

	l := startLoad(t, first, "kill", 6)
	l.waitAcked(t, 600)
	mustKill(t, first.ctr) // docker kill -s KILL
	l.halt()
	t.Logf("when killed: %d events acknowledged, %d in requests without an answer", len(l.acked), len(l.unanswered))
	if st := mustInspect(t, first.ctr).State; st.Running || st.ExitCode != 137 {
		t.Errorf("killed container: running=%v exit code %d, want stopped with 137 (SIGKILL)", st.Running, st.ExitCode)
	}

	mustKeepAcknowledged(t, mustStartAggregator(t, dataDir), l)
}

// TestGracefulStop stops the container with SIGTERM (docker stop) while
// publishers send and one request is half sent: that request still gets its
// 202, the process exits 0 long before Docker would kill it, everything
// acknowledged is there after a restart on the same data, and nothing is
// stored from a request that got no answer.
func TestGracefulStop(t *testing.T) {
	requireDocker(t)
	const dockerStopTimeout = 10 * time.Second // Docker's default
	dataDir := newDataDir(t)
	first := mustStartAggregator(t, dataDir)

	l := startLoad(t, first, "term", 6)
	l.waitAcked(t, 400)

	// A request whose body is half sent when SIGTERM arrives.
	slow := make([]event, 10)
	for i := range slow {
		slow[i] = event{Topic: "term-slow", EventID: fmt.Sprintf("slow-%02d", i), Source: "e2e-stop",
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	body := encode(slow, true)
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, first.url("/publish"), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	type answer struct {
		res *publishResult
		err error
	}
	slowAnswer := make(chan answer, 1)
	go func() {
		res, err := first.doPublish(req)
		slowAnswer <- answer{res, err}
	}()
	if _, err := pw.Write(body[:len(body)/2]); err != nil {
		t.Fatalf("send the first half: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // let the server start reading it

	stopped := make(chan error, 1)
	stopStart := time.Now()
	go func() {
		timeout := dockerStopTimeout
		stopped <- first.ctr.Stop(context.Background(), &timeout) // docker stop
	}()
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-stopped:
		t.Fatalf("the container stopped (%v) while a request was still being received", err)
	default:
	}
	if _, err := pw.Write(body[len(body)/2:]); err != nil {
		t.Fatalf("send the second half after SIGTERM: %v", err)
	}
	pw.Close()
	a := <-slowAnswer
	if a.err != nil {
		t.Fatalf("the request in flight at SIGTERM got no answer: %v", a.err)
	}
	if a.res.Accepted != len(slow) {
		t.Fatalf("the request in flight at SIGTERM: accepted=%d, want %d", a.res.Accepted, len(slow))
	}
	l.record(slow, a.res, nil)

	if err := <-stopped; err != nil {
		t.Fatalf("docker stop: %v", err)
	}
	stopTook := time.Since(stopStart)
	l.halt()
	t.Logf("docker stop took %v; %d events acknowledged, %d in requests without an answer",
		stopTook.Round(time.Millisecond), len(l.acked), len(l.unanswered))
	st := mustInspect(t, first.ctr).State
	if st.Running || st.ExitCode != 0 || st.OOMKilled {
		t.Errorf("after docker stop: running=%v exit code %d oom=%v, want exit code 0", st.Running, st.ExitCode, st.OOMKilled)
	}
	if stopTook > dockerStopTimeout/2 {
		t.Errorf("docker stop took %v; the process should exit well before Docker's %v kill timeout", stopTook, dockerStopTimeout)
	}
	if len(l.badStatus) > 0 {
		t.Errorf("during shutdown some requests were answered with an error status instead of 202 or a closed connection: %v", l.badStatus)
	}

	// A request the server read was answered: none got stored silently.
	if n := mustKeepAcknowledged(t, mustStartAggregator(t, dataDir), l); n > 0 {
		t.Errorf("%d events are stored although their requests got no answer", n)
	}
}

// load publishes new events from several goroutines, mixing single events,
// batches and resends of acknowledged events, until a request fails or it
// is halted. It records which events were acknowledged.
type load struct {
	agg  *aggregator
	done atomic.Bool
	wg   sync.WaitGroup

	mu         sync.Mutex
	acked      map[key]event // in a 202 answer
	unanswered map[key]event // sent in a request that got no 202, never acknowledged
	badStatus  map[int]int   // answers other than 202, by status
	nAcked     int
}

// startLoad starts the publishers; they are halted when the test ends, before
// the container is removed.
func startLoad(tb testing.TB, agg *aggregator, prefix string, publishers int) *load {
	l := &load{agg: agg, acked: map[key]event{}, unanswered: map[key]event{}, badStatus: map[int]int{}}
	for p := range publishers {
		l.wg.Go(func() { l.publish(prefix, p) })
	}
	tb.Cleanup(l.halt)
	return l
}

func (l *load) publish(prefix string, p int) {
	rng := rand.New(rand.NewPCG(uint64(p), 7))
	var mine []event // this publisher's acknowledged events, to resend
	for seq := 0; !l.done.Load(); {
		n := 1
		if rng.IntN(10) >= 6 {
			n = 2 + rng.IntN(39)
		}
		batch := make([]event, 0, n)
		for range n {
			if len(mine) > 0 && rng.IntN(5) == 0 {
				batch = append(batch, mine[rng.IntN(len(mine))])
				continue
			}
			batch = append(batch, event{
				Topic:   fmt.Sprintf("%s-%d", prefix, p%3),
				EventID: fmt.Sprintf("p%d-%06d", p, seq),
				Source:  "e2e-" + prefix,
				Payload: []byte(fmt.Sprintf(`{"publisher":%d,"seq":%d}`, p, seq)),
			})
			seq++
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := l.agg.publish(ctx, encode(batch, false))
		cancel()
		l.record(batch, res, err)
		if err != nil {
			return // the server is going away
		}
		for i, r := range res.Results {
			if r.Status == "accepted" {
				mine = append(mine, batch[i])
			}
		}
	}
}

// record notes the outcome of publishing batch: res on a 202, else err.
func (l *load) record(batch []event, res *publishResult, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if se := (*statusError)(nil); errors.As(err, &se) {
			l.badStatus[se.Code]++
		}
		for _, e := range batch {
			if _, ok := l.acked[e.key()]; !ok {
				l.unanswered[e.key()] = e
			}
		}
		return
	}
	for _, e := range batch {
		l.acked[e.key()] = e
		delete(l.unanswered, e.key())
	}
	l.nAcked += res.Accepted
}

// waitAcked waits until at least n new events were acknowledged.
func (l *load) waitAcked(tb testing.TB, n int) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		l.mu.Lock()
		got, bad := l.nAcked, len(l.badStatus)+len(l.unanswered)
		l.mu.Unlock()
		switch {
		case bad > 0:
			l.halt()
			tb.Fatalf("publishing failed before the test stopped the server: statuses %v", l.badStatus)
		case got >= n:
			return
		case time.Now().After(deadline):
			l.halt()
			tb.Fatalf("only %d of %d events acknowledged after a minute", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// halt stops the publishers and waits for them.
func (l *load) halt() {
	l.done.Store(true)
	l.wg.Wait()
}

// mustKeepAcknowledged checks a server started on the data of a stopped or
// killed one: every acknowledged event is stored exactly once, nothing is
// stored that was not sent, the counters agree with the store, and
// publishing everything again completes the picture. It returns how many
// events are stored although their requests got no answer.
func mustKeepAcknowledged(t testing.TB, agg *aggregator, l *load) (storedUnanswered int) {
	t.Helper()
	listed := agg.mustListEvents("", 1000)
	stored := map[key]storedEvent{}
	for _, e := range listed {
		if _, twice := stored[e.key()]; twice {
			t.Errorf("%v is stored twice", e.key())
		}
		stored[e.key()] = e
	}
	lost := 0
	for k, e := range l.acked {
		s, ok := stored[k]
		switch {
		case !ok:
			lost++
			if lost <= 10 {
				t.Errorf("%v was acknowledged with 202 but is not stored", k)
			}
		case !sameJSON(s.Payload, e.Payload):
			t.Errorf("%v: stored payload %s, acknowledged %s", k, s.Payload, e.Payload)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged events are lost", lost, len(l.acked))
	}
	for k := range stored {
		_, acked := l.acked[k]
		_, sent := l.unanswered[k]
		if !acked && !sent {
			t.Errorf("%v is stored but was never sent", k)
		}
	}
	t.Logf("after the restart: %d stored = %d acknowledged + %d of %d sent without an answer",
		len(stored), len(l.acked), len(stored)-len(l.acked), len(l.unanswered))

	st := agg.mustStats()
	if st.StoredEvents != int64(len(listed)) || st.Lifetime.UniqueProcessed != int64(len(listed)) {
		t.Errorf("stats: stored_events=%d lifetime.unique_processed=%d, but GET /events lists %d",
			st.StoredEvents, st.Lifetime.UniqueProcessed, len(listed))
	}
	if st.Lifetime.Received != st.Lifetime.UniqueProcessed+st.Lifetime.DuplicateDropped {
		t.Errorf("lifetime stats do not add up: %v", st.Lifetime)
	}
	if st.counters != (counters{}) {
		t.Errorf("the new process's own counters are %v, want zeros", st.counters)
	}

	n := 0
	for k, e := range l.acked {
		if n++; n > 25 {
			break
		}
		if got, found := agg.mustGetEvent(k); !found || got.Seq != stored[k].Seq {
			t.Errorf("GET /events/%s/%s: found=%v seq=%d, want seq %d", k.Topic, k.EventID, found, got.Seq, stored[k].Seq)
		} else if !sameJSON(got.Payload, e.Payload) {
			t.Errorf("GET /events/%s/%s: payload %s, want %s", k.Topic, k.EventID, got.Payload, e.Payload)
		}
	}
	if _, found := agg.mustGetEvent(key{"never-sent", "nothing"}); found {
		t.Error("GET /events/never-sent/nothing found an event")
	}

	// Publishers retry what got no answer; acknowledged events must come
	// back as plain duplicates.
	var all []event
	for _, e := range l.acked {
		all = append(all, e)
	}
	for _, e := range l.unanswered {
		all = append(all, e)
	}
	for len(all) > 0 {
		batch := all[:min(500, len(all))]
		all = all[len(batch):]
		res := agg.mustPublish(encode(batch, true))
		for i, r := range res.Results {
			_, acked := l.acked[batch[i].key()]
			_, wasStored := stored[batch[i].key()]
			want := "accepted"
			if acked || wasStored {
				want = "duplicate"
			}
			if r.Status != want {
				t.Errorf("resending %v: %s, want %s", batch[i].key(), r.Status, want)
			}
		}
	}
	if got, want := agg.mustStats().StoredEvents, int64(len(l.acked)+len(l.unanswered)); got != want {
		t.Errorf("after resending everything: stored_events=%d, want %d", got, want)
	}
	return len(stored) - len(l.acked)
}
