package app

import (
	"errors"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

func TestInvalidEvent(t *testing.T) {
	v := &domain.ValidationError{Field: "topic", Reason: "must not be empty"}
	var invalid *InvalidEventError
	if err := invalidEvent(2, v); !errors.As(err, &invalid) || invalid.Index != 2 || invalid.Err != v {
		t.Fatalf("invalidEvent(ValidationError) = %v, want InvalidEventError at index 2", err)
	}
	// An error of another kind must not panic, nor pass for a broken rule.
	other := errors.New("no rule broken")
	err := invalidEvent(2, other)
	if !errors.Is(err, other) || errors.As(err, &invalid) {
		t.Fatalf("invalidEvent(other error) = %v, want it wrapped and not an InvalidEventError", err)
	}
}
