package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
)

// newServer serves the real routes over svc the way the server does: behind
// RequestID and Recover, logging into the returned buffer.
func newServer(t *testing.T, svc httpadapter.Service, opts httpadapter.Options) (http.Handler, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	logger := slog.New(httpadapter.LogHandler(slog.NewJSONHandler(&logs, nil)))
	opts.Logger = logger
	mux, api := humatest.New(t, httpadapter.NewConfig("test"))
	httpadapter.Register(api, svc, opts)
	return httpadapter.RequestID(httpadapter.Recover(mux, logger)), &logs
}

func serveHTTP(h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRequestID(t *testing.T) {
	svc := app.New(memory.New(), app.Options{})
	t.Cleanup(svc.Close)
	h, _ := newServer(t, svc, httpadapter.Options{})

	t.Run("OKGeneratedWhenAbsent", func(t *testing.T) {
		a := serveHTTP(h, "GET", "/healthz", "")
		b := serveHTTP(h, "GET", "/healthz", "")
		ida, idb := a.Header().Get("X-Request-ID"), b.Header().Get("X-Request-ID")
		if ida == "" || idb == "" || ida == idb {
			t.Fatalf("generated IDs %q, %q: want two different non-empty IDs", ida, idb)
		}
	})
	t.Run("OKTakenFromRequest", func(t *testing.T) {
		r := serveHTTP(h, "POST", "/publish", event("t", "1"), "Content-Type", "application/json", "X-Request-ID", "abc-123")
		if r.Code != 202 || r.Header().Get("X-Request-ID") != "abc-123" {
			t.Fatalf("status %d, X-Request-ID %q; want 202, abc-123", r.Code, r.Header().Get("X-Request-ID"))
		}
	})
	for name, bad := range map[string]string{
		"ErrTooLong":  strings.Repeat("a", 129),
		"ErrSpace":    "a b",
		"ErrQuote":    `a"b`,
		"ErrNonASCII": "é",
		"ErrControl":  "a\x01b",
	} {
		t.Run(name, func(t *testing.T) {
			r := serveHTTP(h, "GET", "/healthz", "", "X-Request-ID", bad)
			if got := r.Header().Get("X-Request-ID"); got == bad || got == "" {
				t.Fatalf("X-Request-ID %q for a sent %q: want a new one", got, bad)
			}
		})
	}
}

func TestProblemsAndLogsCarryTheRequestID(t *testing.T) {
	svc := app.New(memory.New(), app.Options{})
	t.Cleanup(svc.Close)
	h, logs := newServer(t, &failingService{svc, errors.New("disk on fire")}, httpadapter.Options{})
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"BadInput", "POST", "/publish", `{"topic":`, 400},
		{"Validation", "GET", "/events?limit=0", "", 422},
		{"NotFound", "GET", "/events/t/nope", "", 404},
		{"Internal", "GET", "/stats", "", 500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := "req-" + tt.name
			r := serveHTTP(h, tt.method, tt.path, tt.body, "Content-Type", "application/json", "X-Request-ID", id)
			if r.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.status, r.Body)
			}
			var p struct {
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal(r.Body.Bytes(), &p); err != nil || p.RequestID != id {
				t.Errorf("problem %s: want request_id %q", r.Body, id)
			}
		})
	}
	// The 500's log line names the request.
	if !strings.Contains(logs.String(), `"request_id":"req-Internal"`) || !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("logs do not name the request of the failure:\n%s", logs)
	}
}

func TestPanicAnswerCarriesTheRequestID(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(httpadapter.LogHandler(slog.NewJSONHandler(&logs, nil)))
	h := httpadapter.RequestID(httpadapter.Recover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), logger))
	r := serveHTTP(h, "GET", "/x", "", "X-Request-ID", "p-1")
	if r.Code != 500 || r.Header().Get("X-Request-ID") != "p-1" || !strings.Contains(r.Body.String(), `"request_id":"p-1"`) {
		t.Fatalf("got %d %v %s", r.Code, r.Header(), r.Body)
	}
	if !strings.Contains(logs.String(), `"request_id":"p-1"`) {
		t.Errorf("panic log without the request ID: %s", logs.String())
	}
}

// failingService fails Stats with err; the rest is the real service.
type failingService struct {
	*app.Service
	err error
}

func (f *failingService) Stats(context.Context) (app.Stats, error) { return app.Stats{}, f.err }

func TestOpenAPIDocumentsTheRequestID(t *testing.T) {
	api := newAPI(t, httpadapter.Options{})
	var spec struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Headers map[string]json.RawMessage `json:"headers"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(record(api.Get("/openapi.json")).Body, &spec); err != nil {
		t.Fatal(err)
	}
	if _, ok := spec.Components.Schemas["ErrorModel"].Properties["request_id"]; !ok {
		t.Error("ErrorModel does not declare request_id")
	}
	for code, resp := range spec.Paths["/publish"]["post"].Responses {
		if _, ok := resp.Headers["X-Request-ID"]; !ok {
			t.Errorf("publish %s does not declare X-Request-ID", code)
		}
	}
}

// Answers written outside Huma, such as an unknown path, carry the ID too.
func TestUnknownPathProblemCarriesTheRequestID(t *testing.T) {
	mux := http.NewServeMux()
	httpadapter.RegisterPages(mux)
	h := httpadapter.RequestID(httpadapter.Fallback(mux))
	r := serveHTTP(h, "GET", "/nope", "", "X-Request-ID", "n-1")
	if r.Code != 404 || !strings.Contains(r.Body.String(), `"request_id":"n-1"`) {
		t.Fatalf("got %d %s", r.Code, r.Body)
	}
}
