package http

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// RequestIDHeader carries the request ID, both ways.
const RequestIDHeader = "X-Request-ID"

// maxRequestIDLen bounds an ID taken from a client, so that a client cannot
// make every log line about its requests arbitrarily long.
const maxRequestIDLen = 128

type requestIDKey struct{}

// RequestID gives every request an ID: the client's X-Request-ID when it is
// 1 to 128 printable ASCII characters without spaces or quotes, a new random
// one otherwise. The ID is set on the response before anything else is
// written and travels in the request context, where RequestIDFrom finds it
// and the LogHandler adds it to log lines.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		// Printable ASCII, minus the characters that would need quoting in
		// a log line or a JSON string.
		if c := id[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// RequestIDFrom returns the ID RequestID gave the request of ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// LogHandler wraps h so that every record logged with the context of a
// request (logger.InfoContext(ctx, ...)) carries its request_id and, when
// it used one, the name of its API key as api_key.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFrom(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if name := KeyNameFrom(ctx); name != "" {
		r.AddAttrs(slog.String("api_key", name))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(attrs)}
}

func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }

// Problem is the problem+json body of every error the API answers: RFC 9457
// fields plus the request's ID, to quote when reporting it.
type Problem struct {
	*huma.ErrorModel
	RequestID string `json:"request_id,omitempty" doc:"The request's X-Request-ID." example:"01JH2ZQ4W3X1Q9V8Y6T5R4E3D2"`
}

// addRequestID is a huma.Transformer: it puts the request ID into every
// problem body Huma writes.
func addRequestID(ctx huma.Context, _ string, v any) (any, error) {
	if em, ok := v.(*huma.ErrorModel); ok {
		return &Problem{ErrorModel: em, RequestID: RequestIDFrom(ctx.Context())}, nil
	}
	return v, nil
}

// operations lists the operations a path of the OpenAPI document has.
func operations(item *huma.PathItem) []*huma.Operation {
	var ops []*huma.Operation
	for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
		if op != nil {
			ops = append(ops, op)
		}
	}
	return ops
}

// documentRequestID declares request_id in the error schema of the OpenAPI
// document and X-Request-ID on every response.
func documentRequestID(api huma.API) {
	if s := api.OpenAPI().Components.Schemas.Map()["ErrorModel"]; s != nil && s.Properties["request_id"] == nil {
		s.Properties["request_id"] = &huma.Schema{Type: huma.TypeString,
			Description: "The request's X-Request-ID, to quote when reporting the problem.",
			Examples:    []any{"01JH2ZQ4W3X1Q9V8Y6T5R4E3D2"}}
	}
	for _, item := range api.OpenAPI().Paths {
		for _, op := range operations(item) {
			for _, resp := range op.Responses {
				if resp.Headers == nil {
					resp.Headers = map[string]*huma.Param{}
				}
				resp.Headers[RequestIDHeader] = &huma.Param{
					Description: "The request's ID: the client's X-Request-ID when it sent a usable one, otherwise a new one.",
					Schema:      &huma.Schema{Type: huma.TypeString},
				}
			}
		}
	}
}
