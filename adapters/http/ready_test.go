package http_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
)

// readOnlyStore reads like memory but would refuse any write.
type readOnlyStore struct{ *memory.Repository }

func (readOnlyStore) CheckWrite(context.Context) error {
	return errors.New("attempt to write a readonly database")
}

// /readyz is not ready while the store can be read but not written: a
// publish would fail with 500.
func TestReadyzNeedsAWritableStore(t *testing.T) {
	for name, c := range map[string]struct {
		repo app.EventRepository
		want int
	}{
		"Writable": {memory.New(), http.StatusOK},
		"ReadOnly": {readOnlyStore{memory.New()}, http.StatusServiceUnavailable},
	} {
		t.Run(name, func(t *testing.T) {
			svc := app.New(c.repo, app.Options{})
			t.Cleanup(svc.Close)
			_, api := humatest.New(t, httpadapter.NewConfig("test"))
			httpadapter.Register(api, svc, httpadapter.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if r := record(api.Get("/readyz")); r.Code != c.want {
				t.Fatalf("readyz: %d %s, want %d", r.Code, r.Body, c.want)
			}
		})
	}
}
