package http_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/adapters/humago"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
)

// newSite serves the routes and pages as the server does.
func newSite(t *testing.T) http.Handler {
	t.Helper()
	svc := app.New(memory.New(), app.Options{})
	t.Cleanup(svc.Close)
	mux := http.NewServeMux()
	httpadapter.Register(humago.New(mux, httpadapter.NewConfig("test")), svc, httpadapter.Options{})
	httpadapter.RegisterPages(mux)
	return httpadapter.Fallback(mux)
}

func get(h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) problem {
	t.Helper()
	if rec.Code != status || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %d %q %s, want %d problem+json", rec.Code, rec.Header().Get("Content-Type"), rec.Body, status)
	}
	var p problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != status || p.Detail == "" {
		t.Fatalf("problem body %s (%v)", rec.Body, err)
	}
	return p
}

func TestUnknownRoutesAnswerProblems(t *testing.T) {
	site := newSite(t)
	t.Run("UnknownPath", func(t *testing.T) {
		requireProblem(t, get(site, "GET", "/nope"), http.StatusNotFound)
		requireProblem(t, get(site, "GET", "/events/a/b/c"), http.StatusNotFound)
		requireProblem(t, get(site, "GET", "/docs/nope.js"), http.StatusNotFound)
		requireProblem(t, get(site, "GET", "/dashboard/nope.js"), http.StatusNotFound)
	})
	t.Run("WrongMethod", func(t *testing.T) {
		rec := get(site, "POST", "/stats")
		p := requireProblem(t, rec, http.StatusMethodNotAllowed)
		if allow := rec.Header().Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(p.Detail, "GET") {
			t.Fatalf("Allow %q, detail %q: want the allowed methods", allow, p.Detail)
		}
		requireProblem(t, get(site, "DELETE", "/publish"), http.StatusMethodNotAllowed)
	})
	t.Run("RootForAPIClients", func(t *testing.T) {
		requireProblem(t, get(site, "GET", "/", "Accept", "application/json"), http.StatusNotFound)
		requireProblem(t, get(site, "GET", "/"), http.StatusNotFound)
	})
	t.Run("KnownRoutesUnchanged", func(t *testing.T) {
		if rec := get(site, "GET", "/stats"); rec.Code != http.StatusOK {
			t.Fatalf("/stats: %d", rec.Code)
		}
	})
}

// externalRef finds URLs of another host in src, href or url() of a page.
var externalRef = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//`)

func TestDashboardIsServedToBrowsers(t *testing.T) {
	site := newSite(t)
	rec := get(site, "GET", "/", "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET / from a browser: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows unsafe code", csp)
	}
	page := rec.Body.String()
	if externalRef.MatchString(page) || strings.Contains(page, "<script>") || strings.Contains(page, " style=") {
		t.Fatalf("the page refers to another host or has inline code:\n%s", page)
	}
	for _, asset := range regexp.MustCompile(`(?:src|href)="(/dashboard/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		a := get(site, "GET", asset[1])
		if a.Code != http.StatusOK || a.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %d", asset[1], a.Code)
		}
		if externalRef.MatchString(a.Body.String()) {
			t.Errorf("%s refers to another host", asset[1])
		}
	}
}

func TestDocsAreSelfContained(t *testing.T) {
	site := newSite(t)
	rec := get(site, "GET", "/docs")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "swagger-ui") {
		t.Fatalf("/docs: %d %s", rec.Code, rec.Body)
	}
	page := rec.Body.String()
	if externalRef.MatchString(page) {
		t.Fatalf("/docs refers to another host:\n%s", page)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self' 'sha256-") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "connect-src 'self'") {
		t.Fatalf("CSP %q: want scripts from this origin and the page's own inline script by hash", csp)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/docs/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("/docs loads %d assets of its own, want the Swagger UI bundle, preset and CSS", len(refs))
	}
	for _, ref := range refs {
		a := get(site, "GET", ref[1])
		body, _ := io.ReadAll(a.Body)
		if a.Code != http.StatusOK || len(body) < 100 {
			t.Errorf("%s: %d, %d bytes", ref[1], a.Code, len(body))
		}
	}
	if spec := get(site, "GET", "/openapi.json"); spec.Code != http.StatusOK {
		t.Fatalf("/openapi.json: %d", spec.Code)
	}
}
