package http_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
)

const keysFile = `# name  scopes        key
ingest    publish       ingest-0123456789abcdef
reporting read          # no key: rejected below
`

const goodKeys = `# name  scopes        key
ingest    publish       ingest-0123456789abcdef
reporting read          reporting-0123456789abcdef   # a trailing comment
admin     publish,read  admin-0123456789abcdef
`

func writeKeys(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newGuarded serves the real routes behind Authenticate with goodKeys.
func newGuarded(t *testing.T) (http.Handler, *httpadapter.APIKeys, string, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	logger := slog.New(httpadapter.LogHandler(slog.NewJSONHandler(&logs, nil)))
	path := writeKeys(t, goodKeys)
	keys, err := httpadapter.LoadAPIKeys(path, logger)
	if err != nil {
		t.Fatal(err)
	}
	svc := app.New(memory.New(), app.Options{})
	t.Cleanup(svc.Close)
	mux, api := humatest.New(t, httpadapter.NewConfig("test"))
	httpadapter.Register(api, svc, httpadapter.Options{Logger: logger})
	return httpadapter.RequestID(httpadapter.Authenticate(mux, keys)), keys, path, &logs
}

func TestAPIKeys(t *testing.T) {
	h, _, _, logs := newGuarded(t)
	tests := []struct {
		name, method, path, auth string
		status                   int
		challenge                string
	}{
		{"ErrPublishWithoutKey", "POST", "/publish", "", 401, `Bearer realm="uts-aggregator"`},
		{"ErrPublishUnknownKey", "POST", "/publish", "Bearer nope-0123456789abcdef", 401, `error="invalid_token"`},
		{"ErrPublishBasicAuth", "POST", "/publish", "Basic aW5nZXN0OmluZ2VzdA==", 401, "Bearer"},
		{"ErrPublishWithReadKey", "POST", "/publish", "Bearer reporting-0123456789abcdef", 403, `error="insufficient_scope", scope="publish"`},
		{"OKPublish", "POST", "/publish", "Bearer ingest-0123456789abcdef", 202, ""},
		{"OKPublishLowerCaseScheme", "POST", "/publish", "bearer admin-0123456789abcdef", 202, ""},
		{"ErrEventsWithoutKey", "GET", "/events", "", 401, "Bearer"},
		{"ErrEventWithPublishKey", "GET", "/events/t/1", "Bearer ingest-0123456789abcdef", 403, `scope="read"`},
		{"ErrStreamWithoutKey", "GET", "/events/stream", "", 401, "Bearer"},
		{"ErrStatsWithoutKey", "GET", "/stats", "", 401, "Bearer"},
		{"ErrMetricsWithoutKey", "GET", "/metrics", "", 401, "Bearer"},
		{"OKStats", "GET", "/stats", "Bearer reporting-0123456789abcdef", 200, ""},
		{"OKEvents", "GET", "/events", "Bearer admin-0123456789abcdef", 200, ""},
		{"OKHealthzOpen", "GET", "/healthz", "", 200, ""},
		{"OKReadyzOpen", "GET", "/readyz", "", 200, ""},
		{"OKOpenAPIOpen", "GET", "/openapi.json", "", 200, ""},
		{"OKOpenAPIYAMLOpen", "GET", "/openapi.yaml", "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := serveHTTP(h, tt.method, tt.path, event("t", "1"), "Content-Type", "application/json", "Authorization", tt.auth)
			if r.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.status, r.Body)
			}
			if got := r.Header().Get("WWW-Authenticate"); !strings.Contains(got, tt.challenge) || (tt.challenge == "") != (got == "") {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", got, tt.challenge)
			}
			if tt.status >= 400 {
				if ct := r.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("content type %q", ct)
				}
				if strings.Contains(r.Body.String(), "0123456789abcdef") {
					t.Errorf("the answer shows a key: %s", r.Body)
				}
			}
		})
	}
	if strings.Contains(logs.String(), "0123456789abcdef") {
		t.Errorf("a key was logged:\n%s", logs)
	}
	if !strings.Contains(logs.String(), `"api_key":"reporting"`) {
		t.Errorf("the refused key is not named in the log:\n%s", logs)
	}
}

func TestAPIKeysReload(t *testing.T) {
	h, keys, path, _ := newGuarded(t)
	publish := func(key string) int {
		return serveHTTP(h, "POST", "/publish", event("t", key), "Content-Type", "application/json", "Authorization", "Bearer "+key).Code
	}
	if code := publish("ingest-0123456789abcdef"); code != 202 {
		t.Fatalf("before rotation: %d", code)
	}
	// Rotate: the new key replaces the old one.
	os.WriteFile(path, []byte("ingest publish ingest-fedcba9876543210\n"), 0o600)
	if err := keys.Reload(); err != nil {
		t.Fatal(err)
	}
	if old, new := publish("ingest-0123456789abcdef"), publish("ingest-fedcba9876543210"); old != 401 || new != 202 {
		t.Fatalf("after rotation: old key %d, new key %d; want 401, 202", old, new)
	}
	// A broken file keeps the keys in use.
	os.WriteFile(path, []byte("ingest publish\n"), 0o600)
	if err := keys.Reload(); err == nil {
		t.Fatal("a broken file reloaded")
	}
	if code := publish("ingest-fedcba9876543210"); code != 202 {
		t.Fatalf("after a failed reload: %d", code)
	}
}

func TestParseAPIKeysRejectsBrokenFiles(t *testing.T) {
	for name, content := range map[string]string{
		"ErrMissingKey":   keysFile,
		"ErrUnknownScope": "a write a-0123456789abcdef\n",
		"ErrEmptyScope":   "a publish, a-0123456789abcdef\n",
		"ErrShortKey":     "a publish short\n",
		"ErrSameName":     "a publish a-0123456789abcdef\na read b-0123456789abcdef\n",
		"ErrSameKey":      "a publish a-0123456789abcdef\nb read a-0123456789abcdef\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := httpadapter.ParseAPIKeys(strings.NewReader(content))
			if err == nil || !strings.Contains(err.Error(), "line ") {
				t.Fatalf("err = %v, want one naming the line", err)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("the error shows a key: %v", err)
			}
		})
	}
	keys, err := httpadapter.ParseAPIKeys(strings.NewReader(goodKeys))
	if err != nil || len(keys) != 3 || keys[2].Name != "admin" || len(keys[2].Scopes) != 2 {
		t.Fatalf("keys %+v, err %v", keys, err)
	}
}

func TestOpenAPIDeclaresTheBearerScheme(t *testing.T) {
	api := newAPI(t, httpadapter.Options{})
	var spec struct {
		Paths map[string]map[string]struct {
			Security  []map[string][]string      `json:"security"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
		Components struct {
			SecuritySchemes map[string]struct {
				Type   string `json:"type"`
				Scheme string `json:"scheme"`
			} `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(record(api.Get("/openapi.json")).Body, &spec); err != nil {
		t.Fatal(err)
	}
	if s := spec.Components.SecuritySchemes["bearer"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("bearer scheme = %+v", s)
	}
	for path, want := range map[string]string{"/publish": "publish", "/events": "read", "/stats": "read", "/healthz": ""} {
		for method, op := range spec.Paths[path] {
			got := ""
			if len(op.Security) == 1 && len(op.Security[0]["bearer"]) == 1 {
				got = op.Security[0]["bearer"][0]
			}
			if got != want {
				t.Errorf("%s %s needs scope %q, want %q", method, path, got, want)
			}
			if _, ok := op.Responses["401"]; ok != (want != "") {
				t.Errorf("%s %s: 401 documented %v", method, path, ok)
			}
		}
	}
}

// At debug level every request gets a line naming its request ID, status
// and the key's name, never the key.
func TestAccessLogNamesTheKey(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(httpadapter.LogHandler(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	keys, err := httpadapter.LoadAPIKeys(writeKeys(t, goodKeys), logger)
	if err != nil {
		t.Fatal(err)
	}
	svc := app.New(memory.New(), app.Options{})
	t.Cleanup(svc.Close)
	mux, api := humatest.New(t, httpadapter.NewConfig("test"))
	httpadapter.Register(api, svc, httpadapter.Options{Logger: logger})
	h := httpadapter.RequestID(httpadapter.Authenticate(httpadapter.AccessLog(mux, logger), keys))
	r := serveHTTP(h, "POST", "/publish", event("t", "1"), "Content-Type", "application/json",
		"Authorization", "Bearer ingest-0123456789abcdef", "X-Request-ID", "acc-1")
	if r.Code != 202 {
		t.Fatalf("status %d: %s", r.Code, r.Body)
	}
	var line struct {
		Msg       string `json:"msg"`
		Status    int    `json:"status"`
		RequestID string `json:"request_id"`
		APIKey    string `json:"api_key"`
	}
	for l := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "request" {
			break
		}
	}
	if line.Msg != "request" || line.Status != 202 || line.RequestID != "acc-1" || line.APIKey != "ingest" {
		t.Fatalf("access log %+v in:\n%s", line, logs.String())
	}
	if strings.Contains(logs.String(), "0123456789abcdef") {
		t.Fatalf("a key was logged:\n%s", logs.String())
	}
}
