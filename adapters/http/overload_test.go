package http_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// publishFails answers every publish with err.
type publishFails struct {
	brokenService
	err error
}

func (p publishFails) Publish(_ context.Context, events []domain.Event) ([]domain.Outcome, error) {
	return nil, fmt.Errorf("publish %d events: %w", len(events), p.err)
}

func TestOverloadAnswers503WithRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		says string
	}{
		{"ErrOverloaded", app.ErrOverloaded, "nothing was stored"},
		{"ErrCommitTimeout", app.ErrCommitTimeout, "retrying is safe"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, api := humatest.New(t, httpadapter.NewConfig("test"))
			httpadapter.Register(api, publishFails{err: tt.err}, httpadapter.Options{})
			r := post(api, event("t", "1"))
			if r.Code != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
				t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After: %s", r.Code, r.Header.Get("Retry-After"), r.Body)
			}
			if p := decode[problem](t, r); !strings.Contains(p.Detail, tt.says) {
				t.Errorf("detail %q, want it to say %q", p.Detail, tt.says)
			}
		})
	}
}

func TestStoreFaultsAnswerWithTheirCause(t *testing.T) {
	for _, tt := range []struct {
		name   string
		err    error
		status int
		says   string
	}{
		{"ErrStoreFull", app.ErrStoreFull, 507, "disk is full"},
		{"ErrStoreReadOnly", app.ErrStoreReadOnly, 507, "read-only"},
		{"ErrStoreUnavailable", app.ErrStoreUnavailable, 503, "unavailable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, api := humatest.New(t, httpadapter.NewConfig("test"))
			// The cause wraps internals that must not be shown.
			err := fmt.Errorf("%w: /secret/path: sqlite error 13", tt.err)
			httpadapter.Register(api, publishFails{err: err}, httpadapter.Options{})
			r := post(api, event("t", "1"))
			if r.Code != tt.status || r.Header.Get("Retry-After") == "" {
				t.Fatalf("status %d, Retry-After %q; want %d with Retry-After: %s", r.Code, r.Header.Get("Retry-After"), tt.status, r.Body)
			}
			p := decode[problem](t, r)
			if !strings.Contains(p.Detail, tt.says) || !strings.Contains(p.Detail, "nothing was stored") || strings.Contains(string(r.Body), "secret") {
				t.Errorf("detail %q, want it to say %q and nothing of the internals", p.Detail, tt.says)
			}
		})
	}
}
