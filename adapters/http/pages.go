package http

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
)

// The dashboard's page and assets, written for this service.
//
//go:embed dashboard
var dashboardFiles embed.FS

// pageCSP allows the pages nothing but their own origin: no CDN, no inline
// code, no framing.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// RegisterPages adds the pages for people to mux: the dashboard at / for
// browsers and Swagger UI at /docs, every asset served from the binary.
func RegisterPages(mux *http.ServeMux) {
	sub, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic(err)
	}
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	mux.Handle("GET /{$}", secure(pageCSP, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !acceptsHTML(r) {
			notFound(w)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(index)
	})))
	mux.Handle("GET /dashboard/", secure(pageCSP, problemOn404(http.StripPrefix("/dashboard/", http.FileServerFS(sub)))))

	docs, csp := newDocs()
	mux.Handle("GET /docs", secure(csp, docs))
	mux.Handle("GET /docs/", secure(csp, problemOn404(docs)))
}

// problemOn404 replaces the text/plain 404 of a file server with a problem.
func problemOn404(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&notFoundWriter{ResponseWriter: w}, r)
	})
}

type notFoundWriter struct {
	http.ResponseWriter
	replaced bool
}

func (w *notFoundWriter) WriteHeader(code int) {
	if code == http.StatusNotFound {
		w.replaced = true
		notFound(w.ResponseWriter)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *notFoundWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *notFoundWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newDocs returns Swagger UI (its assets embedded by the swgui module) and a
// CSP that allows exactly the inline script and style of its page, by hash.
func newDocs() (http.Handler, string) {
	h := v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "uts-aggregator",
		SwaggerJSON: "/openapi.json",
		BasePath:    "/docs/",
		SettingsUI: map[string]string{
			// Show the schemas of request and answer bodies.
			"defaultModelsExpandDepth": "1",
			// Keep a key given to "Authorize" across reloads of the page.
			"persistAuthorization": "true",
		},
	})
	rec := newRecorder()
	h.ServeHTTP(rec, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/docs"}, Header: http.Header{}})
	page := rec.body.Bytes()
	csp := "default-src 'none'; script-src 'self'" + inlineHashes(page, "script") +
		"; style-src 'self'" + inlineHashes(page, "style") +
		"; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return h, csp
}

// inlineHashes returns the CSP source of every inline <tag> element of page.
func inlineHashes(page []byte, tag string) string {
	re := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`)
	var b strings.Builder
	for _, m := range re.FindAllSubmatch(page, -1) {
		if len(bytes.TrimSpace(m[1])) == 0 {
			continue
		}
		sum := sha256.Sum256(m[1])
		b.WriteString(" 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'")
	}
	return b.String()
}

// secure adds the headers every page carries.
func secure(csp string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// acceptsHTML tells a browser's page load from an API client.
func acceptsHTML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
			return true
		}
	}
	return false
}

// Fallback answers what mux has no route for with problem+json instead of
// text/plain: 404 for an unknown path, 405 with Allow for a known path asked
// with another method.
func Fallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// The mux's own answer tells 404 from 405 and lists the methods.
		rec := newRecorder()
		h.ServeHTTP(rec, r)
		switch rec.code {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeProblem(w, http.StatusMethodNotAllowed, "Method Not Allowed",
				r.Method+" is not allowed here; allowed: "+rec.header.Get("Allow"))
		case http.StatusNotFound:
			notFound(w)
		default:
			// A redirect to the canonical path, or anything else the mux does.
			maps.Copy(w.Header(), rec.header)
			w.WriteHeader(rec.code)
			w.Write(rec.body.Bytes())
		}
	})
}

// recorder keeps an answer in memory.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}, code: http.StatusOK} }

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

func notFound(w http.ResponseWriter) {
	writeProblem(w, http.StatusNotFound, "Not Found",
		"no such path; the API is described at /openapi.json and /docs, the dashboard is at / in a browser")
}

func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// RequestID has set the request's ID on the answer already.
	b, _ := json.Marshal(&Problem{ErrorModel: &huma.ErrorModel{Title: title, Status: status, Detail: detail},
		RequestID: w.Header().Get(RequestIDHeader)})
	w.Write(append(b, '\n'))
}
