package http

import (
	"errors"
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

func TestEventError(t *testing.T) {
	var status huma.StatusError
	err := eventError("body[1]", &domain.ValidationError{Field: "timestamp", Reason: "is not a date"})
	if !errors.As(err, &status) || status.GetStatus() != http.StatusUnprocessableEntity {
		t.Fatalf("eventError(ValidationError) = %v, want a 422", err)
	}
	// An error of another kind must not vanish (the event would be stored
	// empty) nor pass for a broken rule.
	other := errors.New("not a rule")
	err = eventError("body[1]", other)
	if err == nil || !errors.Is(err, other) || errors.As(err, &status) {
		t.Fatalf("eventError(other error) = %v, want it kept for a 500", err)
	}
}
