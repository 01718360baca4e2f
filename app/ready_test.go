package app_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
)

// readOnlyRepo answers reads but reports that it cannot write.
type readOnlyRepo struct{ *memory.Repository }

var errReadOnly = errors.New("attempt to write a readonly database")

func (readOnlyRepo) CheckWrite(context.Context) error { return errReadOnly }

func TestReadyNeedsAStoreThatTakesWrites(t *testing.T) {
	if err := newService(t, memory.New()).Ready(context.Background()); err != nil {
		t.Fatalf("Ready on a writable store: %v", err)
	}
	err := newService(t, readOnlyRepo{memory.New()}).Ready(context.Background())
	if !errors.Is(err, errReadOnly) {
		t.Fatalf("Ready on a read-only store = %v, want the store's error", err)
	}
}
