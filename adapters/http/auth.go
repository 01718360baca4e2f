package http

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/danielgtaylor/huma/v2"
)

// Scopes an API key can hold.
const (
	ScopePublish = "publish"
	ScopeRead    = "read"
)

// minKeyLen keeps guessable keys out of the file.
const minKeyLen = 16

// APIKey is one line of the keys file: a name for logs, what the key may do
// and a digest of the secret (the secret itself is not kept).
type APIKey struct {
	Name   string
	Scopes []string
	digest [sha256.Size]byte
}

// ParseAPIKeys reads lines of `NAME SCOPES KEY`, SCOPES being a
// comma-separated subset of publish and read. `#` starts a comment; blank
// lines are skipped. Errors name the line, never the key.
func ParseAPIKeys(r io.Reader) ([]APIKey, error) {
	var (
		keys  []APIKey
		names = map[string]bool{}
		seen  = map[[sha256.Size]byte]bool{}
	)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: want NAME SCOPES KEY, got %d fields", n, len(fields))
		}
		k := APIKey{Name: fields[0], digest: sha256.Sum256([]byte(fields[2]))}
		for s := range strings.SplitSeq(fields[1], ",") {
			if s != ScopePublish && s != ScopeRead {
				return nil, fmt.Errorf("line %d (%s): scope %q is not publish or read", n, k.Name, s)
			}
			if !slices.Contains(k.Scopes, s) {
				k.Scopes = append(k.Scopes, s)
			}
		}
		switch {
		case names[k.Name]:
			return nil, fmt.Errorf("line %d: the name %s is used twice", n, k.Name)
		case len(fields[2]) < minKeyLen:
			return nil, fmt.Errorf("line %d (%s): the key is shorter than %d characters", n, k.Name, minKeyLen)
		case seen[k.digest]:
			return nil, fmt.Errorf("line %d (%s): the key is used by an earlier line too", n, k.Name)
		}
		names[k.Name], seen[k.digest] = true, true
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return keys, nil
}

// APIKeys guards the API with the keys of a file: POST /publish needs the
// publish scope; /events, /stats and /metrics need read; the rest
// (health probes, /docs, /openapi.*, the dashboard page) stays open. Its
// keys can be replaced while it serves.
type APIKeys struct {
	path   string
	keys   atomic.Pointer[[]APIKey]
	logger *slog.Logger
}

// LoadAPIKeys reads the keys file at path.
func LoadAPIKeys(path string, logger *slog.Logger) (*APIKeys, error) {
	a := &APIKeys{path: path, logger: logger}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload reads the file again. On an error the keys in use stay.
func (a *APIKeys) Reload() error {
	f, err := os.Open(a.path)
	if err != nil {
		return fmt.Errorf("API keys: %w", err)
	}
	defer f.Close()
	keys, err := ParseAPIKeys(f)
	if err != nil {
		return fmt.Errorf("API keys file %s: %w", a.path, err)
	}
	a.keys.Store(&keys)
	return nil
}

// Names lists the names of the keys in use.
func (a *APIKeys) Names() []string {
	var names []string
	for _, k := range *a.keys.Load() {
		names = append(names, k.Name)
	}
	return names
}

// lookup finds the key with this secret. Every key is compared, each in
// constant time, so the time taken says nothing about which bytes matched.
func (a *APIKeys) lookup(secret string) (APIKey, bool) {
	d := sha256.Sum256([]byte(secret))
	var (
		found APIKey
		ok    int
	)
	for _, k := range *a.keys.Load() {
		if subtle.ConstantTimeCompare(d[:], k.digest[:]) == 1 {
			found, ok = k, 1
		}
	}
	return found, ok == 1
}

// requiredScope is the scope a request needs, or "" when it is open.
func requiredScope(path string) string {
	switch {
	case path == "/publish":
		return ScopePublish
	case path == "/events", strings.HasPrefix(path, "/events/"), path == "/stats", path == "/metrics":
		return ScopeRead
	}
	return ""
}

type keyNameKey struct{}

// KeyNameFrom returns the name of the API key the request of ctx used, or "".
func KeyNameFrom(ctx context.Context) string {
	name, _ := ctx.Value(keyNameKey{}).(string)
	return name
}

// Authenticate answers 401 to a request for a guarded path without a known
// `Authorization: Bearer KEY`, and 403 when the key lacks the scope. A nil
// a leaves everything open.
func Authenticate(next http.Handler, a *APIKeys) http.Handler {
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope := requiredScope(r.URL.Path)
		if scope == "" {
			next.ServeHTTP(w, r)
			return
		}
		secret, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="uts-aggregator"`)
			writeProblem(w, http.StatusUnauthorized, "Unauthorized",
				"this path needs an API key with the "+scope+" scope: send Authorization: Bearer KEY")
			return
		}
		key, ok := a.lookup(secret)
		if !ok {
			a.logger.WarnContext(r.Context(), "unknown API key", "method", r.Method, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="uts-aggregator", error="invalid_token"`)
			writeProblem(w, http.StatusUnauthorized, "Unauthorized", "the API key is not known; it may have been rotated")
			return
		}
		ctx := context.WithValue(r.Context(), keyNameKey{}, key.Name)
		if !slices.Contains(key.Scopes, scope) {
			a.logger.WarnContext(ctx, "API key lacks the scope", "method", r.Method, "path", r.URL.Path, "scope", scope)
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="uts-aggregator", error="insufficient_scope", scope=%q`, scope))
			writeProblem(w, http.StatusForbidden, "Forbidden",
				fmt.Sprintf("the API key %s does not have the %s scope this path needs", key.Name, scope))
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// bearer takes the token out of an Authorization header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// documentAuth declares the bearer scheme in the OpenAPI document and which
// operations need which scope, so that /docs can send a key.
func documentAuth(api huma.API) {
	oapi := api.OpenAPI()
	if oapi.Components.SecuritySchemes == nil {
		oapi.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	oapi.Components.SecuritySchemes["bearer"] = &huma.SecurityScheme{
		Type: "http", Scheme: "bearer",
		Description: "An API key from the server's AGGREGATOR_API_KEYS_FILE, with the scope the operation names. " +
			"Without that file the server needs no key.",
	}
	problem := &huma.Schema{Ref: "#/components/schemas/ErrorModel"}
	for path, item := range oapi.Paths {
		scope := requiredScope(path)
		if scope == "" {
			continue
		}
		for _, op := range operations(item) {
			op.Security = []map[string][]string{{"bearer": {scope}}}
			for code, desc := range map[string]string{"401": "Unauthorized: no API key, or an unknown one",
				"403": "Forbidden: the API key lacks the " + scope + " scope"} {
				if op.Responses[code] == nil {
					op.Responses[code] = &huma.Response{Description: desc,
						Content: map[string]*huma.MediaType{"application/problem+json": {Schema: problem}}}
				}
			}
		}
	}
}
