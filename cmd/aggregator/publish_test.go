package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/danielgtaylor/huma/v2/adapters/humago"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
)

// publishTarget is the real API on a memory store. The first failFirst
// requests are answered 503; every request's Authorization is kept.
type publishTarget struct {
	*httptest.Server
	requests  atomic.Int32
	failFirst int32
	auth      atomic.Value
}

func newPublishTarget(t *testing.T) *publishTarget {
	t.Helper()
	svc := app.New(memory.New(), app.Options{})
	mux := http.NewServeMux()
	httpadapter.Register(humago.New(mux, httpadapter.NewConfig("test")), svc, httpadapter.Options{})
	p := &publishTarget{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.auth.Store(r.Header.Get("Authorization"))
		if n := p.requests.Add(1); n <= p.failFirst {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { p.Close(); svc.Close() })
	return p
}

func runPublishCLI(t *testing.T, vars map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := env{func(k string) string { return vars[k] }, strings.NewReader(stdin), &out, &errOut}
	code = run(context.Background(), append([]string{"publish"}, args...), e)
	return code, out.String(), errOut.String()
}

func TestPublishOneEventTwice(t *testing.T) {
	p := newPublishTarget(t)
	vars := map[string]string{"AGGREGATOR_URL": p.URL}
	args := []string{"-topic", "pembayaran", "-id", "evt_abc_123", "-source", "cli", "-payload", `{"amount":50000}`}
	for _, want := range []string{"accepted pembayaran/evt_abc_123 seq 1\n", "duplicate pembayaran/evt_abc_123 seq 1\n"} {
		code, out, errOut := runPublishCLI(t, vars, "", args...)
		if code != 0 || out != want {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", code, out, errOut, want)
		}
	}
	args[len(args)-1] = `{"amount":1}`
	code, out, errOut := runPublishCLI(t, vars, "", args...)
	if code != 1 || !strings.HasPrefix(out, "conflict ") || !strings.Contains(errOut, "another payload") {
		t.Errorf("conflict: exit %d, stdout %q, stderr %q; want 1 and the conflict named", code, out, errOut)
	}
}

func TestPublishRetriesAndSendsTheKey(t *testing.T) {
	p := newPublishTarget(t)
	p.failFirst = 2
	vars := map[string]string{"AGGREGATOR_URL": p.URL, "AGGREGATOR_API_KEY": "k3y"}
	code, out, errOut := runPublishCLI(t, vars, "", "-topic", "t", "-id", "1", "-source", "cli")
	if code != 0 || !strings.HasPrefix(out, "accepted") || p.requests.Load() != 3 {
		t.Errorf("exit %d, stdout %q, stderr %q after %d requests; want accepted on the 3rd", code, out, errOut, p.requests.Load())
	}
	if got := p.auth.Load(); got != "Bearer k3y" {
		t.Errorf("Authorization %q", got)
	}
}

func TestPublishNDJSONInBatches(t *testing.T) {
	p := newPublishTarget(t)
	input := `{"event_id":"a","payload":{"n":1}}
{"event_id":"b","payload":{"n":2}}

{"topic":"other","event_id":"a","source":"s2","payload":{"n":3}}
{"event_id":"a","payload":{"n":1}}
{"event_id":"c","payload":{"n":4},"timestamp":"2025-01-02T15:04:05Z"}
`
	code, out, errOut := runPublishCLI(t, nil, input, "-url", p.URL, "-ndjson", "-batch", "2", "-topic", "pembayaran", "-source", "cli")
	want := "received 5, accepted 4, duplicates 1, conflicts 0 (3 requests)\n"
	if code != 0 || out != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", code, out, errOut, want)
	}

	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runPublishCLI(t, nil, "", "-url", p.URL, "-ndjson", "-topic", "pembayaran", "-source", "cli", file)
	if want := "received 5, accepted 0, duplicates 5, conflicts 0 (1 requests)\n"; code != 0 || out != want {
		t.Errorf("from a file: exit %d, stdout %q; want %q", code, out, want)
	}
}

func TestPublishNDJSONRejections(t *testing.T) {
	p := newPublishTarget(t)
	code, out, errOut := runPublishCLI(t, nil, "{\"topic\":\"t\",\"event_id\":\"1\",\"source\":\"s\",\"payload\":{}}\n{\"topic\":\"t\",\"event_id\":\"\",\"source\":\"s\",\"payload\":{}}\n",
		"-url", p.URL, "-ndjson")
	if code != 1 || !strings.Contains(errOut, "stdin:2 event_id") || !strings.Contains(out, "received 0, accepted 0") {
		t.Errorf("invalid event: exit %d, stdout %q, stderr %q; want 1, stdin:2 event_id named, nothing stored", code, out, errOut)
	}

	code, out, errOut = runPublishCLI(t, nil, "{\"topic\":\"t\",\"event_id\":\"1\",\"source\":\"s\",\"payload\":{\"v\":2}}\n", "-url", p.URL, "-ndjson")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, out, errOut = runPublishCLI(t, nil, "{\"topic\":\"t\",\"event_id\":\"1\",\"source\":\"s\",\"payload\":{\"v\":3}}\n", "-url", p.URL, "-ndjson")
	if code != 1 || !strings.Contains(out, "conflicts 1") || !strings.Contains(errOut, "stdin:1: conflict: t/1") {
		t.Errorf("conflict: exit %d, stdout %q, stderr %q; want 1 and the line named", code, out, errOut)
	}

	code, _, errOut = runPublishCLI(t, nil, "{\"topic\":\"t\",\"event_id\":\"2\",\"source\":\"s\",\"payload\":{}}\nnot json\n", "-url", p.URL, "-ndjson")
	if code != 1 || !strings.Contains(errOut, "stdin:2: not an event") {
		t.Errorf("bad line: exit %d, stderr %q", code, errOut)
	}
}

func TestPublishUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-topic", "t", "-source", "s"}, // no id
		{"-topic", "t", "-id", "1", "-source", "s", "-payload", "{"},
		{"-ndjson", "-id", "1"},
		{"-url", "localhost:8080", "-topic", "t", "-id", "1", "-source", "s"},
		{"-topic", "t", "-id", "1", "-source", "s", "stray"},
	} {
		if code, _, errOut := runPublishCLI(t, nil, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr %q", args, code, exitUsage, errOut)
		}
	}
	code, _, errOut := runPublishCLI(t, nil, "", "-h")
	if code != 0 || !strings.Contains(errOut, "-ndjson") || !strings.Contains(errOut, "AGGREGATOR_URL") {
		t.Errorf("-h: exit %d, stderr %q", code, errOut)
	}
}
