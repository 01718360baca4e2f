package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// newAPI serves the real routes over a memory store.
func newAPI(t *testing.T, opts httpadapter.Options) humatest.TestAPI {
	t.Helper()
	svc := app.New(memory.New(), app.Options{Limits: domain.Limits{MaxPayloadBytes: 64}})
	t.Cleanup(svc.Close)
	_, api := humatest.New(t, httpadapter.NewConfig("test"))
	httpadapter.Register(api, svc, opts)
	return api
}

func event(topic, id string) string {
	return fmt.Sprintf(`{"topic":%q,"event_id":%q,"source":"test","payload":{"n":1}}`, topic, id)
}

func post(api humatest.TestAPI, body string) *httpResponse {
	return record(api.Post("/publish", "Content-Type: application/json", strings.NewReader(body)))
}

type httpResponse struct {
	Code   int
	Header http.Header
	Body   []byte
}

func record(r interface {
	Result() *http.Response
}) *httpResponse {
	res := r.Result()
	b, _ := io.ReadAll(res.Body)
	return &httpResponse{Code: res.StatusCode, Header: res.Header, Body: b}
}

func decode[T any](t *testing.T, r *httpResponse) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return v
}

type problem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func stats(t *testing.T, api humatest.TestAPI) httpadapter.StatsBody {
	t.Helper()
	return decode[httpadapter.StatsBody](t, record(api.Get("/stats")))
}

func TestPublishSeedDemo(t *testing.T) {
	api := newAPI(t, httpadapter.Options{})
	first := post(api, event("pembayaran", "evt_abc_123"))
	again := post(api, event("pembayaran", "evt_abc_123"))
	if first.Code != http.StatusAccepted || again.Code != http.StatusAccepted {
		t.Fatalf("status %d, %d; want 202, 202", first.Code, again.Code)
	}
	r1, r2 := decode[httpadapter.PublishResult](t, first), decode[httpadapter.PublishResult](t, again)
	if r1.Accepted != 1 || r1.Results[0].Status != "accepted" || r2.Duplicates != 1 || r2.Results[0].Status != "duplicate" || r2.Results[0].Seq != r1.Results[0].Seq {
		t.Fatalf("results %+v then %+v", r1, r2)
	}
	s := stats(t, api)
	if s.Received != 2 || s.UniqueProcessed != 1 || s.DuplicateDropped != 1 || fmt.Sprint(s.Topics) != "[pembayaran]" {
		t.Fatalf("stats = %+v, want received 2, unique 1, dropped 1", s)
	}
	if s.PerTopic["pembayaran"].StoredEvents != 1 || s.StoredEvents != 1 {
		t.Fatalf("stored events = %d / %+v", s.StoredEvents, s.PerTopic)
	}
}

func TestPublishBatchReportsEveryEvent(t *testing.T) {
	api := newAPI(t, httpadapter.Options{})
	post(api, event("t", "old"))
	conflict := `{"topic":"t","event_id":"old","source":"test","payload":{"n":2}}`
	r := post(api, "["+strings.Join([]string{event("t", "a"), event("t", "old"), event("t", "a"), conflict}, ",")+"]")
	if r.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.Code, r.Body)
	}
	res := decode[httpadapter.PublishResult](t, r)
	var statuses []string
	for _, e := range res.Results {
		statuses = append(statuses, e.Status)
	}
	if fmt.Sprint(statuses) != "[accepted duplicate duplicate conflict]" ||
		res.Received != 4 || res.Accepted != 1 || res.Duplicates != 3 || res.Conflicts != 1 {
		t.Fatalf("result = %+v", res)
	}
}

func TestPublishRejectsBadInput(t *testing.T) {
	big := `{"topic":"t","event_id":"big","source":"s","payload":{"x":"` + strings.Repeat("x", 100) + `"}}`
	tests := []struct {
		name     string
		body     string
		status   int
		location string
	}{
		{"ErrEmptyBody", "", 400, ""},
		{"ErrMalformedJSON", `{"topic":`, 400, "body"},
		{"ErrNotAnObject", `"hello"`, 422, "body"},
		{"ErrEmptyBatch", `[]`, 422, "body"},
		{"ErrBatchTooLarge", "[" + strings.Repeat(event("t", "x")+",", 3) + event("t", "y") + "]", 413, "body"},
		{"ErrMissingTopic", `{"event_id":"1","source":"s","payload":{}}`, 422, "body.topic"},
		{"ErrWrongType", `{"topic":7,"event_id":"1","source":"s","payload":{}}`, 422, "body.topic"},
		{"ErrPayloadNotObject", `{"topic":"t","event_id":"1","source":"s","payload":[1]}`, 422, "body.payload"},
		{"ErrPayloadNull", `{"topic":"t","event_id":"1","source":"s","payload":null}`, 422, "body.payload"},
		{"ErrPayloadMissing", `{"topic":"t","event_id":"1","source":"s"}`, 422, "body.payload"},
		{"ErrPayloadTooLarge", big, 413, "body.payload"},
		{"ErrBadTimestamp", `{"topic":"t","event_id":"1","source":"s","payload":{},"timestamp":"2025-02-30"}`, 422, "body.timestamp"},
		{"ErrSecondOfBatch", "[" + event("t", "ok") + `,{"topic":"t","event_id":"","source":"s","payload":{}}]`, 422, "body[1].event_id"},
		{"ErrItemNotObject", "[" + event("t", "ok") + `,5]`, 422, "body[1]"},
		{"ErrBodyTooLarge", "[" + strings.Repeat(" ", 3000) + event("t", "ok") + "]", 413, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newAPI(t, httpadapter.Options{MaxBatch: 3, MaxBodyBytes: 2048})
			r := post(api, tt.body)
			if r.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q, want application/problem+json", ct)
			}
			p := decode[problem](t, r)
			if p.Status != tt.status || p.Detail == "" {
				t.Errorf("problem = %+v", p)
			}
			if tt.location != "" && (len(p.Errors) == 0 || p.Errors[0].Location != tt.location || p.Errors[0].Message == "") {
				t.Errorf("errors = %+v, want location %q with a message", p.Errors, tt.location)
			}
			if s := stats(t, api); s.Received != 0 || s.StoredEvents != 0 {
				t.Errorf("stats after a rejected request = %+v, want nothing stored", s)
			}
			// The server keeps serving.
			if ok := post(api, event("t", "after")); ok.Code != http.StatusAccepted {
				t.Errorf("publish after the error: %d", ok.Code)
			}
		})
	}
}

func TestPublishContentType(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		status      int
	}{
		{"OK", "application/json", 202},
		{"OKWithCharset", "application/json; charset=utf-8", 202},
		{"OKPowerShell7", "application/json; charset=UTF-8", 202},
		{"OKPlusJSON", "application/cloudevents+json", 202},
		{"OKUpperCase", "Application/JSON", 202},
		{"ErrMissing", "", 415},
		{"ErrForm", "application/x-www-form-urlencoded", 415},
		{"ErrTextPlain", "text/plain", 415},
		{"ErrTextPlainCharset", "text/plain;charset=UTF-8", 415},
		{"ErrMultipart", "multipart/form-data; boundary=x", 415},
		{"ErrMalformed", "application/json; charset", 415},
		{"ErrLatin1", "application/json; charset=iso-8859-1", 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newAPI(t, httpadapter.Options{})
			var args []any
			if tt.contentType != "" {
				args = append(args, "Content-Type: "+tt.contentType)
			}
			r := record(api.Post("/publish", append(args, strings.NewReader(event("t", "1")))...))
			if r.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.status, r.Body)
			}
			if tt.status == 202 {
				return
			}
			p := decode[problem](t, r)
			if !strings.Contains(p.Detail, "application/json") && !strings.Contains(p.Detail, "UTF-8") {
				t.Errorf("detail %q does not say what to send", p.Detail)
			}
			if len(p.Errors) == 0 || p.Errors[0].Location != "header.Content-Type" {
				t.Errorf("errors = %+v, want location header.Content-Type", p.Errors)
			}
			if s := stats(t, api); s.Received != 0 {
				t.Errorf("stats after a refused request = %+v, want nothing stored", s)
			}
		})
	}
}

// The decoder would replace bytes that are not UTF-8 by U+FFFD and store an
// event that was never sent; the body is refused instead, wherever they are.
func TestPublishRejectsInvalidUTF8(t *testing.T) {
	tests := map[string]string{
		"ErrTopic":        "{\"topic\":\"t\xff\",\"event_id\":\"1\",\"source\":\"s\",\"payload\":{}}",
		"ErrEventID":      "{\"topic\":\"t\",\"event_id\":\"\xc3\x28\",\"source\":\"s\",\"payload\":{}}",
		"ErrPayloadValue": "{\"topic\":\"t\",\"event_id\":\"1\",\"source\":\"s\",\"payload\":{\"a\":\"\xed\xa0\x80\"}}",
		"ErrPayloadKey":   "{\"topic\":\"t\",\"event_id\":\"1\",\"source\":\"s\",\"payload\":{\"\xfe\":1}}",
		"ErrBatch":        "[" + event("t", "ok") + ",{\"topic\":\"t\",\"event_id\":\"2\",\"source\":\"\x80\",\"payload\":{}}]",
		"ErrOutsideJSON":  event("t", "1") + "\xff",
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			api := newAPI(t, httpadapter.Options{})
			r := post(api, body)
			if r.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.Code, r.Body)
			}
			p := decode[problem](t, r)
			if !strings.Contains(p.Detail, "UTF-8") || len(p.Errors) == 0 || !strings.Contains(p.Errors[0].Message, "at byte") {
				t.Errorf("problem = %+v, want it to name the invalid UTF-8 and where", p)
			}
			if s := stats(t, api); s.Received != 0 || len(s.Topics) != 0 {
				t.Errorf("stats after a refused request = %+v, want nothing stored", s)
			}
		})
	}
	// Non-ASCII that is valid UTF-8 is stored exactly as sent.
	api := newAPI(t, httpadapter.Options{})
	sent := `{"topic":"pembayaran-Ω","event_id":"é1","source":"s","payload":{"nama":"Budi 😀"}}`
	if r := post(api, sent); r.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.Code, r.Body)
	}
	got := decode[httpadapter.StoredEventBody](t, record(api.Get("/events/pembayaran-%CE%A9/%C3%A91")))
	if got.Topic != "pembayaran-Ω" || string(got.Payload) != `{"nama":"Budi 😀"}` {
		t.Errorf("stored %+v", got)
	}
}

func TestEventsPagesWithLinkHeader(t *testing.T) {
	api := newAPI(t, httpadapter.Options{})
	var batch []string
	for i := range 5 {
		batch = append(batch, event("a", fmt.Sprint(i)), event("b", fmt.Sprint(i)))
	}
	if r := post(api, "["+strings.Join(batch, ",")+"]"); r.Code != http.StatusAccepted {
		t.Fatalf("publish: %d %s", r.Code, r.Body)
	}
	var ids []string
	path := "/events?topic=a&limit=2"
	for pages := 1; ; pages++ {
		r := record(api.Get(path))
		if r.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.Code, r.Body)
		}
		for _, e := range decode[[]httpadapter.StoredEventBody](t, r) {
			if e.Topic != "a" || e.Timestamp != nil || string(e.Payload) != `{"n":1}` {
				t.Fatalf("event %+v", e)
			}
			ids = append(ids, e.EventID)
		}
		link := r.Header.Get("Link")
		if link == "" {
			if pages != 3 {
				t.Fatalf("%d pages, want 3", pages)
			}
			break
		}
		if !strings.HasSuffix(link, `>; rel="next"`) || !strings.HasPrefix(link, "</events?") {
			t.Fatalf("Link = %q", link)
		}
		path = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
	}
	if fmt.Sprint(ids) != "[0 1 2 3 4]" {
		t.Fatalf("ids = %v", ids)
	}
	if r := record(api.Get("/events?limit=0")); r.Code != http.StatusUnprocessableEntity {
		t.Fatalf("limit=0: %d", r.Code)
	}
}

func TestGetEvent(t *testing.T) {
	api := newAPI(t, httpadapter.Options{})
	post(api, `{"topic":"t/x","event_id":"id 1","source":"s","payload":{ "k" : "v" },"timestamp":"2025-01-02T03:04:05+07:00"}`)
	r := record(api.Get("/events/t%2Fx/id%201"))
	if r.Code != http.StatusOK {
		t.Fatalf("status %d: %s", r.Code, r.Body)
	}
	e := decode[httpadapter.StoredEventBody](t, r)
	if e.Topic != "t/x" || e.EventID != "id 1" || string(e.Payload) != `{"k":"v"}` || e.Timestamp == nil ||
		e.Timestamp.Format("2006-01-02T15:04:05Z07:00") != "2025-01-02T03:04:05+07:00" {
		t.Fatalf("event = %+v (payload %s)", e, e.Payload)
	}
	if r := record(api.Get("/events/t/missing")); r.Code != http.StatusNotFound {
		t.Fatalf("missing event: %d", r.Code)
	}
}

// brokenService fails every call with an error that names internals.
type brokenService struct{}

var errSecret = errors.New("disk I/O error at /var/lib/secret/aggregator.db: SELECT * FROM events")

func (brokenService) Publish(context.Context, []domain.Event) ([]domain.Outcome, error) {
	return nil, errSecret
}
func (brokenService) List(context.Context, app.ListQuery) (app.Page, error) {
	return app.Page{}, errSecret
}
func (brokenService) Get(context.Context, domain.Key) (domain.StoredEvent, error) {
	return domain.StoredEvent{}, errSecret
}
func (brokenService) Stats(context.Context) (app.Stats, error) { return app.Stats{}, errSecret }
func (brokenService) Tail(q app.TailQuery) *app.Tail {
	return app.New(brokenRepo{}, app.Options{}).Tail(q)
}

// brokenRepo fails every call like brokenService.
type brokenRepo struct{}

func (brokenRepo) Append(context.Context, []domain.Event, time.Time) ([]domain.Outcome, error) {
	return nil, errSecret
}
func (brokenRepo) List(context.Context, app.ListQuery) ([]domain.StoredEvent, error) {
	return nil, errSecret
}
func (brokenRepo) Get(context.Context, domain.Key) (domain.StoredEvent, error) {
	return domain.StoredEvent{}, errSecret
}
func (brokenRepo) Stats(context.Context) ([]app.TopicStats, error) { return nil, errSecret }

func TestUnexpectedErrorsHideInternals(t *testing.T) {
	var logs bytes.Buffer
	_, api := humatest.New(t, httpadapter.NewConfig("test"))
	httpadapter.Register(api, brokenService{}, httpadapter.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, r := range []*httpResponse{
		post(api, event("t", "1")),
		record(api.Get("/events")),
		record(api.Get("/events/t/1")),
		record(api.Get("/stats")),
	} {
		if r.Code != http.StatusInternalServerError {
			t.Fatalf("status %d, want 500", r.Code)
		}
		if bytes.Contains(r.Body, []byte("secret")) || bytes.Contains(r.Body, []byte("SELECT")) {
			t.Fatalf("500 body leaks internals: %s", r.Body)
		}
	}
	if !strings.Contains(logs.String(), "secret") {
		t.Fatalf("the cause was not logged: %s", logs.String())
	}
	// A stream has answered 200 before its replay fails: it ends with a
	// last message that hides the cause too.
	if r := record(api.Get("/events/stream?after=0")); !bytes.Contains(r.Body, []byte("event: end\ndata: {\"reason\":\"error\"")) ||
		bytes.Contains(r.Body, []byte("secret")) {
		t.Fatalf("stream on a broken store: %d %s", r.Code, r.Body)
	}
	if r := record(api.Get("/readyz")); r.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz on a broken store: %d", r.Code)
	}
	if r := record(api.Get("/healthz")); r.Code != http.StatusOK {
		t.Fatalf("healthz: %d", r.Code)
	}
}

// stoppedService is a service that is shutting down.
type stoppedService struct{ brokenService }

func (stoppedService) Publish(_ context.Context, events []domain.Event) ([]domain.Outcome, error) {
	return nil, fmt.Errorf("publish %d events: %w", len(events), app.ErrStopped)
}

func TestPublishDuringShutdownAnswers503WithRetryAfter(t *testing.T) {
	var logs bytes.Buffer
	_, api := humatest.New(t, httpadapter.NewConfig("test"))
	httpadapter.Register(api, stoppedService{}, httpadapter.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r := post(api, event("t", "1"))
	if r.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", r.Code, r.Body)
	}
	if got := r.Header.Get("Retry-After"); got == "" {
		t.Fatal("503 without Retry-After")
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("content type %q, want problem+json", r.Header.Get("Content-Type"))
	}
	if logs.Len() != 0 {
		t.Fatalf("a refused publish during shutdown was logged as a failure: %s", logs.String())
	}
}

func TestRecoverAnswersPanicsWithBare500(t *testing.T) {
	h := httpadapter.Recover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret state") }), slog.New(slog.DiscardHandler))
	rec := &responseRecorder{header: http.Header{}}
	h.ServeHTTP(rec, &http.Request{Method: "GET", URL: mustURL("/x")})
	if rec.code != 500 || strings.Contains(rec.body.String(), "secret") || rec.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %d %q %v", rec.code, rec.body.String(), rec.header)
	}
}

func TestOpenAPIDescribesTheAPI(t *testing.T) {
	api := newAPI(t, httpadapter.Options{})
	r := record(api.Get("/openapi.json"))
	if r.Code != http.StatusOK {
		t.Fatalf("openapi.json: %d", r.Code)
	}
	var spec struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string `json:"operationId"`
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				OneOf []struct {
					Ref string `json:"$ref"`
				} `json:"oneOf"`
				Items struct {
					Ref string `json:"$ref"`
				} `json:"items"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.Body, &spec); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.1") {
		t.Errorf("openapi version %q", spec.OpenAPI)
	}
	for path, op := range map[string]string{"/publish": "post", "/events": "get", "/events/{topic}/{event_id}": "get", "/stats": "get", "/healthz": "get", "/readyz": "get"} {
		if _, ok := spec.Paths[path][op]; !ok {
			t.Errorf("%s %s missing from the spec", op, path)
		}
	}
	publish := spec.Paths["/publish"]["post"]
	// The body is a named union referenced by $ref, so that generated
	// clients get the union's JSON methods (an inline oneOf loses them).
	if publish.OperationID != "publish-event" || publish.RequestBody.Content["application/json"].Schema.Ref != "#/components/schemas/PublishRequest" {
		t.Errorf("publish operation = %+v", publish)
	}
	union := spec.Components.Schemas["PublishRequest"].OneOf
	if len(union) != 2 || union[0].Ref != "#/components/schemas/EventBody" || union[1].Ref != "#/components/schemas/EventBatch" ||
		spec.Components.Schemas["EventBatch"].Items.Ref != "#/components/schemas/EventBody" {
		t.Errorf("PublishRequest is %+v, EventBatch items %+v; want a oneOf of $refs to EventBody and EventBatch", union, spec.Components.Schemas["EventBatch"].Items)
	}
	for _, code := range []string{"202", "400", "413", "422", "500"} {
		if _, ok := publish.Responses[code]; !ok {
			t.Errorf("publish does not document %s", code)
		}
	}
}

func TestOpenAPIFieldsHaveDescriptionsAndExamples(t *testing.T) {
	api := newAPI(t, httpadapter.Options{})
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(record(api.Get("/openapi.json")).Body, &spec); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for name, schema := range spec.Components.Schemas {
		if strings.HasPrefix(name, "Error") { // Huma's problem+json model
			continue
		}
		for field, prop := range schema.Properties {
			_, hasDoc := prop["description"]
			_, hasExamples := prop["examples"]
			_, hasExample := prop["example"]
			if !hasDoc || !(hasExamples || hasExample) {
				t.Errorf("%s.%s: description %v, example %v", name, field, hasDoc, hasExamples || hasExample)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d fields", checked)
	}
}

// An unpaired surrogate escape in an identity field would be stored as
// U+FFFD, not as sent: it is refused, naming the field. Pairs, a real U+FFFD
// and anything in the payload (stored byte for byte) are fine.
func TestPublishRejectsLoneSurrogates(t *testing.T) {
	ev := func(topic, id, source string) string {
		return `{"topic":"` + topic + `","event_id":"` + id + `","source":"` + source + `","payload":{"s":"\ud800"}}`
	}
	for _, tt := range []struct {
		name, body, location string
	}{
		{"ErrHighAlone", ev(`\ud800`, "1", "s"), "body.topic"},
		{"ErrLowAlone", ev("t", `a\udc00`, "s"), "body.event_id"},
		{"ErrHighThenText", ev("t", "1", `\uD83Dx`), "body.source"},
		{"ErrHighThenHigh", ev(`\ud83d\ud83d`, "1", "s"), "body.topic"},
		{"ErrInBatch", "[" + ev("t", "ok", "s") + "," + ev("t", "2", `\udfff`) + "]", "body[1].source"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := newAPI(t, httpadapter.Options{})
			r := post(api, tt.body)
			if r.Code != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", r.Code, r.Body)
			}
			if p := decode[problem](t, r); len(p.Errors) == 0 || p.Errors[0].Location != tt.location || !strings.Contains(p.Errors[0].Message, "surrogate") {
				t.Fatalf("problem %+v, want location %s", p, tt.location)
			}
			if s := stats(t, api); s.Received != 0 {
				t.Errorf("stats after a refused request = %+v", s)
			}
		})
	}
	api := newAPI(t, httpadapter.Options{})
	for _, tt := range []struct{ sent, topic string }{
		{`\ud83d\ude00`, "😀"},
		{`\ufffd`, "\uFFFD"},
		{"\uFFFD-literal", "\uFFFD-literal"},
		{`a\\ud800`, `a\ud800`}, // an escaped backslash, then text
	} {
		if r := post(api, ev(tt.sent, "1", "s")); r.Code != http.StatusAccepted {
			t.Fatalf("topic %s: status %d: %s", tt.sent, r.Code, r.Body)
		}
		if s := stats(t, api); s.PerTopic[tt.topic].StoredEvents != 1 {
			t.Errorf("topic %s not stored as %q: %v", tt.sent, tt.topic, s.Topics)
		}
	}
}
