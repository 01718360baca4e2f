package http

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// HealthOutput is the answer of the health probes.
type HealthOutput struct {
	Body struct {
		Status string `json:"status" doc:"ok when the probe passes." example:"ok"`
	}
}

// readinessChecker is a Service that can also tell whether its store takes
// writes (app.Service does); other services are ready when Stats answers.
type readinessChecker interface {
	Ready(ctx context.Context) error
}

func (h *handlers) ready(ctx context.Context) error {
	if rc, ok := h.svc.(readinessChecker); ok {
		return rc.Ready(ctx)
	}
	_, err := h.svc.Stats(ctx)
	return err
}

func healthy() *HealthOutput {
	out := &HealthOutput{}
	out.Body.Status = "ok"
	return out
}

func registerHealth(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "get-health",
		Method:      http.MethodGet,
		Path:        "/healthz",
		Summary:     "Liveness: the process is serving",
		Tags:        []string{"Health"},
	}, func(context.Context, *struct{}) (*HealthOutput, error) {
		return healthy(), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-readiness",
		Method:      http.MethodGet,
		Path:        "/readyz",
		Summary:     "Readiness: the store answers and would take a write",
		Tags:        []string{"Health"},
		Errors:      []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*HealthOutput, error) {
		if err := h.ready(ctx); err != nil {
			h.opts.Logger.WarnContext(ctx, "not ready", "err", err)
			return nil, huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("not ready: "+faultCause(err)),
				http.Header{"Retry-After": {retryAfterFault}})
		}
		return healthy(), nil
	})
}
