package domain_test

import (
	"maps"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

func TestCountByTopic(t *testing.T) {
	events := []domain.Event{{Topic: "a"}, {Topic: "b"}, {Topic: "a"}, {Topic: "a"}, {Topic: "b"}}
	outcomes := []domain.Outcome{
		{Status: domain.Accepted}, {Status: domain.Accepted}, {Status: domain.Duplicate},
		{Status: domain.Conflict}, {Status: domain.Duplicate},
	}
	got := domain.CountByTopic(events, outcomes)
	want := map[string]domain.Counters{
		"a": {Received: 3, Accepted: 1, Dropped: 2, Conflicts: 1},
		"b": {Received: 2, Accepted: 1, Dropped: 1},
	}
	if !maps.Equal(got, want) {
		t.Fatalf("CountByTopic = %v, want %v", got, want)
	}
	if got := domain.CountByTopic(nil, nil); len(got) != 0 {
		t.Fatalf("CountByTopic of nothing = %v, want empty", got)
	}
}
