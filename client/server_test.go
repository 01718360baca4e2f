package client_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/danielgtaylor/huma/v2/adapters/humago"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
)

// aggregator is the real HTTP API over a memory store, behind a fault
// injector: each request first passes through the next queued fault, if any.
type aggregator struct {
	*httptest.Server
	mu       sync.Mutex
	faults   []fault
	requests []*http.Request
	api      http.Handler
}

// fault handles one request in place of, or around, the real API.
type fault func(w http.ResponseWriter, r *http.Request, api http.Handler)

func startAggregator(tb testing.TB, maxBatch int) *aggregator {
	tb.Helper()
	a, stop := newAggregator(maxBatch)
	tb.Cleanup(stop)
	return a
}

// newAggregator starts the server; stop closes it and its service.
func newAggregator(maxBatch int) (a *aggregator, stop func()) {
	svc := app.New(memory.New(), app.Options{})
	mux := http.NewServeMux()
	api := humago.New(mux, httpadapter.NewConfig("test"))
	httpadapter.Register(api, svc, httpadapter.Options{MaxBatch: maxBatch})
	a = &aggregator{api: mux}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	return a, func() {
		a.Server.Close()
		svc.Close()
	}
}

func (a *aggregator) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.requests = append(a.requests, r.Clone(r.Context()))
	var f fault
	if len(a.faults) > 0 {
		f, a.faults = a.faults[0], a.faults[1:]
	}
	a.mu.Unlock()
	if f == nil {
		a.api.ServeHTTP(w, r)
		return
	}
	f(w, r, a.api)
}

// inject queues faults for the next requests, in order.
func (a *aggregator) inject(f ...fault) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults = append(a.faults, f...)
}

func (a *aggregator) requestCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.requests)
}

// commitThenHang lets the API commit the request, then withholds the answer
// until the client gives up on the attempt.
func commitThenHang(w http.ResponseWriter, r *http.Request, api http.Handler) {
	api.ServeHTTP(httptest.NewRecorder(), r)
	<-r.Context().Done()
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter, r *http.Request, _ http.Handler) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// status answers code with the given Retry-After, storing nothing.
func status(code int, retryAfter string) fault {
	return func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"status":%d,"title":%q}`, code, http.StatusText(code))
	}
}
