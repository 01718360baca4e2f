package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// The fuzz targets below drive the real routes over a memory store with
// arbitrary input. Their seed corpus, real and broken bodies, is in
// testdata/fuzz/<FuzzName>; scripts/test.sh runs each for a bounded time.
// Properties: never a panic, never a 5xx; an accepted event is stored exactly
// as sent; a rejected request is a problem that names where it went wrong.

type fuzzAPI struct {
	// h is the handler itself: humatest's TestAPI calls f.Helper, which a
	// fuzz function must not.
	h    http.Handler
	repo *memory.Repository
}

func (a *fuzzAPI) do(method, path string, body []byte) *httpResponse {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return record(rec)
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	repo := memory.New()
	svc := app.New(repo, app.Options{Limits: domain.Limits{MaxPayloadBytes: 4096}, LogDuplicates: app.LogDuplicatesOff})
	f.Cleanup(svc.Close)
	h, api := humatest.New(f, httpadapter.NewConfig("fuzz"))
	httpadapter.Register(api, svc, httpadapter.Options{MaxBatch: 50, MaxBodyBytes: 64 << 10})
	return &fuzzAPI{h: h, repo: repo}
}

// checkPublish posts body and checks the answer against what the body says.
func (a *fuzzAPI) checkPublish(t *testing.T, body []byte) {
	r := a.do("POST", "/publish", body)
	if r.Code >= 500 {
		t.Fatalf("status %d for %q: %s", r.Code, body, r.Body)
	}
	if r.Code != http.StatusAccepted {
		checkProblem(t, r, "body")
		return
	}
	// Accepted: what the body holds, decoded the way a client reads it,
	// must be what is stored for every event reported as accepted.
	var sent []httpadapter.EventBody
	trimmed := bytes.TrimSpace(body)
	if trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &sent); err != nil {
			t.Fatalf("202 for a body that is not a JSON array of events: %q", body)
		}
	} else {
		sent = make([]httpadapter.EventBody, 1)
		if err := json.Unmarshal(trimmed, &sent[0]); err != nil {
			t.Fatalf("202 for a body that is not a JSON event: %q", body)
		}
	}
	res := decode[httpadapter.PublishResult](t, r)
	if res.Received != len(sent) || len(res.Results) != len(sent) {
		t.Fatalf("received %d, %d results, for %d events", res.Received, len(res.Results), len(sent))
	}
	for i, s := range sent {
		got := res.Results[i]
		if got.Topic != s.Topic || got.EventID != s.EventID {
			t.Fatalf("result %d is %s/%s, sent %s/%s", i, got.Topic, got.EventID, s.Topic, s.EventID)
		}
		if got.Status != "accepted" {
			continue
		}
		stored, err := a.repo.Get(context.Background(), domain.Key{Topic: s.Topic, EventID: s.EventID})
		if err != nil {
			t.Fatalf("accepted event %d not stored: %v", i, err)
		}
		if stored.Source != s.Source || !bytes.Equal(stored.Payload, s.Payload) {
			t.Fatalf("event %d stored as %q/%q, sent %q/%q", i, stored.Source, stored.Payload, s.Source, s.Payload)
		}
	}
}

// checkProblem asserts a problem+json answer that names a place under loc.
func checkProblem(t *testing.T, r *httpResponse, loc string) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d with content type %q: %s", r.Code, ct, r.Body)
	}
	p := decode[problem](t, r)
	if p.Status != r.Code || p.Detail == "" {
		t.Fatalf("problem %+v for status %d", p, r.Code)
	}
	// A body too large for the server is refused before it is read, and an
	// empty body has no place to name.
	if r.Code == http.StatusRequestEntityTooLarge && len(p.Errors) == 0 ||
		strings.Contains(p.Detail, "empty") || strings.Contains(p.Detail, "body is required") {
		return
	}
	if len(p.Errors) == 0 || !strings.HasPrefix(p.Errors[0].Location, loc) || p.Errors[0].Message == "" {
		t.Fatalf("problem %+v does not name a place under %q", p, loc)
	}
}

func FuzzPublishSingle(f *testing.F) {
	for _, s := range []string{
		`{"topic":"pembayaran","event_id":"evt_abc_123","source":"powershell_test","payload":{"amount":50000,"user_id":"u_001"}}`,
		`{"topic":"t","event_id":"1","source":"s","payload":{},"timestamp":"2025-01-02T15:04:05+07:00"}`,
		`{"topic":"t","event_id":"1","source":"s","payload":{"a": [1, 2.5e3, null, "\u00e9"]}}`,
		`{"topic":"","event_id":"1","source":"s","payload":{}}`,
		`{"topic":"t","event_id":"1","source":"s","payload":[]}`,
		`{"topic":"t","event_id":"1","source":"s","payload":{},"timestamp":"yesterday"}`,
		"{\"topic\":\"t\xff\",\"event_id\":\"1\",\"source\":\"s\",\"payload\":{}}",
		`{"topic":"t","event_id":"1"`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(bytes.TrimSpace(body)) > 0 && bytes.TrimSpace(body)[0] == '[' {
			return // FuzzPublishBatch's input
		}
		a.checkPublish(t, body)
	})
}

func FuzzPublishBatch(f *testing.F) {
	for _, s := range []string{
		`[{"topic":"a","event_id":"1","source":"s","payload":{"n":1}},{"topic":"a","event_id":"1","source":"s","payload":{"n":1}}]`,
		`[{"topic":"a","event_id":"2","source":"s","payload":{"n":1}},{"topic":"a","event_id":"2","source":"s","payload":{"n":2}}]`,
		`[]`,
		`[{"topic":"a","event_id":"3","source":"s","payload":{}},5]`,
		`[{"topic":"a","event_id":"4","source":"s","payload":{}},{"topic":7}]`,
		`[[]]`,
	} {
		f.Add([]byte(s))
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		a.checkPublish(t, append([]byte("["), body[min(len(body), 1):]...))
	})
}

func FuzzListEvents(f *testing.F) {
	f.Add("pembayaran", "2", "0", "", "")
	f.Add("", "1000", "3", "2025-01-02T15:00:00Z", "2099-01-01T00:00:00Z")
	f.Add("a", "0", "-1", "2025-01-02", "tomorrow")
	f.Add("\xff", "1e3", "9223372036854775808", "2025-01-02T15:00:00+07:00", "2025-01-02T15:00:00+07:00")
	a := newFuzzAPI(f)
	for i := range 5 {
		body := `[` + event("a", string(rune('0'+i))) + `,` + event("b", string(rune('0'+i))) + `]`
		if r := a.do("POST", "/publish", []byte(body)); r.Code != http.StatusAccepted {
			f.Fatalf("seed publish: %d %s", r.Code, r.Body)
		}
	}
	f.Fuzz(func(t *testing.T, topic, limit, after, since, until string) {
		q := url.Values{}
		for k, v := range map[string]string{"topic": topic, "limit": limit, "after": after, "since": since, "until": until} {
			if v != "" {
				q.Set(k, v)
			}
		}
		path := "/events?" + q.Encode()
		for pages := 0; path != "" && pages < 20; pages++ {
			r := a.do("GET", path, nil)
			if r.Code >= 500 {
				t.Fatalf("GET %s: %d %s", path, r.Code, r.Body)
			}
			if r.Code != http.StatusOK {
				checkProblem(t, r, "query")
				return
			}
			var events []httpadapter.StoredEventBody
			if err := json.Unmarshal(r.Body, &events); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			for _, e := range events {
				if topic != "" && e.Topic != topic {
					t.Fatalf("GET %s listed topic %q", path, e.Topic)
				}
			}
			// Follow the cursor the server handed out: it must work.
			path = ""
			if link := r.Header.Get("Link"); link != "" {
				start, end := strings.Index(link, "<"), strings.Index(link, ">")
				if start < 0 || end < start {
					t.Fatalf("Link %q", link)
				}
				path = link[start+1 : end]
			}
		}
	})
}
