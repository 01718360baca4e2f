// Package http is the aggregator's HTTP API, built with Huma: it turns
// requests into app calls and app results into JSON, and is the only layer
// that knows status codes. Register adds every route to a huma.API.
package http

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// Service is what the HTTP API needs from the application.
type Service interface {
	Publish(ctx context.Context, events []domain.Event) ([]domain.Outcome, error)
	List(ctx context.Context, q app.ListQuery) (app.Page, error)
	Get(ctx context.Context, key domain.Key) (domain.StoredEvent, error)
	Stats(ctx context.Context) (app.Stats, error)
	Tail(q app.TailQuery) *app.Tail
}

// Options are the API's limits.
type Options struct {
	// MaxBatch is the most events one POST /publish may carry.
	MaxBatch int
	// MaxBodyBytes is the largest accepted request body.
	MaxBodyBytes int64
	// Logger receives unexpected errors.
	Logger *slog.Logger
	// Closing, once closed, ends every event stream with a last message
	// (the server is shutting down). Streams otherwise hold Shutdown up.
	Closing <-chan struct{}
	// KeepAlive is the longest a stream stays silent; DefaultKeepAlive
	// when zero.
	KeepAlive time.Duration
	// MaxStreams bounds the open event streams, each of which may hold up
	// to app.TailMaxBytes for a slow reader; DefaultMaxStreams when zero.
	MaxStreams int
}

// Defaults for Options.
const (
	DefaultMaxBatch     = 1000
	DefaultMaxBodyBytes = 8 << 20
)

// NewConfig returns the Huma configuration of the API: OpenAPI 3.1 at
// /openapi.json and /openapi.yaml (docs: RegisterPages), and response bodies without
// Huma's $schema links so that they stay what the seed service returned.
func NewConfig(version string) huma.Config {
	cfg := huma.DefaultConfig("uts-aggregator", version)
	cfg.Info.Description = "Idempotent, persistent event aggregator: publish events at least once, " +
		"it stores each (topic, event_id) exactly once and reports what it did with every event."
	cfg.CreateHooks = nil
	// RegisterPages serves /docs from embedded assets instead of Huma's
	// page, which loads its viewer from a CDN.
	cfg.DocsPath = ""
	cfg.Transformers = append(cfg.Transformers, addRequestID)
	return cfg
}

// Register adds the aggregator's operations to api.
func Register(api huma.API, svc Service, opts Options) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = DefaultKeepAlive
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultMaxStreams
	}
	h := &handlers{svc: svc, opts: opts, streams: make(chan struct{}, opts.MaxStreams)}
	registerPublish(api, h)
	registerEvents(api, h)
	registerStream(api, h)
	registerStats(api, h)
	registerHealth(api, h)
	documentAuth(api)
	documentRequestID(api)
}

type handlers struct {
	svc     Service
	opts    Options
	streams chan struct{} // one token per open event stream
}

// fail turns an app error into an HTTP error. It is the one place where
// errors become status codes; anything unexpected is logged with its cause
// and answered with a bare 500.
func (h *handlers) fail(ctx context.Context, op string, err error) error {
	var answered huma.StatusError
	switch {
	case errors.As(err, &answered):
		// Already an answer (a problem found while reading the request).
		return err
	case errors.Is(err, app.ErrStopped):
		// Nothing was stored; another replica, or this one once restarted,
		// takes the retry.
		return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("the service is shutting down; retry"),
			http.Header{"Retry-After": {"1"}})
	case errors.Is(err, app.ErrOverloaded):
		return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable(
			"the server is overloaded: too many publishes are waiting for the store; nothing was stored; retry later"),
			http.Header{"Retry-After": {"1"}})
	case errors.Is(err, app.ErrCommitTimeout):
		h.opts.Logger.WarnContext(ctx, "commit not confirmed in time", "operation", op, "err", err)
		return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable(
			"the store did not confirm the commit in time; the events may or may not be stored: "+
				"retrying is safe, those already stored come back as duplicate"),
			http.Header{"Retry-After": {"2"}})
	case app.IsStoreFault(err):
		h.opts.Logger.WarnContext(ctx, "store fault", "operation", op, "err", err)
		return storeFaultError(err)
	case errors.Is(err, app.ErrNotFound):
		return huma.Error404NotFound("no event with this topic and event_id")
	case errors.Is(err, app.ErrPurged):
		return huma.Error410Gone("the event was purged by retention; its key is still remembered")
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		return huma.NewError(499, "client closed request")
	}
	h.opts.Logger.ErrorContext(ctx, "request failed", "operation", op, "err", err)
	return huma.Error500InternalServerError("internal error")
}

// retryAfterFault is the Retry-After of an answer to a store fault: when
// /readyz may turn ready again.
var retryAfterFault = strconv.Itoa(int(app.FaultHold / time.Second))

// storeFaultError answers a store fault: 507 for a disk that is full or
// read-only, 503 for a store that is gone, naming the cause and when to
// retry. Nothing of the request was stored.
func storeFaultError(err error) error {
	status, cause := http.StatusServiceUnavailable, faultCause(err)
	if errors.Is(err, app.ErrStoreFull) || errors.Is(err, app.ErrStoreReadOnly) {
		status = http.StatusInsufficientStorage
	}
	return huma.ErrorWithHeaders(huma.NewError(status, cause+"; nothing was stored, reads still work; retry later"),
		http.Header{"Retry-After": {retryAfterFault}})
}

// faultCause names a store fault without the internals of its error.
func faultCause(err error) string {
	for _, f := range []error{app.ErrStoreFull, app.ErrStoreReadOnly, app.ErrStoreUnavailable} {
		if errors.Is(err, f) {
			return f.Error()
		}
	}
	return "the store is not usable"
}

// invalidEvent reports a broken rule at its place in the body: loc is
// "body" for a single event and "body[i]" for the i-th event of a batch.
func invalidEvent(loc string, v *domain.ValidationError) error {
	status := http.StatusUnprocessableEntity
	if v.TooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	if v.Field != "" {
		loc += "." + v.Field
	}
	return huma.NewError(status, "invalid event: "+loc+" "+v.Reason+"; nothing was stored",
		&huma.ErrorDetail{Location: loc, Message: v.Reason})
}

func ptr[T any](v T) *T { return &v }
