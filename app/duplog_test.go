package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// syncBuffer is a log destination the summary timer may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(msg string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		if strings.Contains(l, `msg="`+msg+`"`) {
			out = append(out, l)
		}
	}
	return out
}

// publishDuplicates stores one event, then sends it again n times.
func publishDuplicates(t *testing.T, svc *app.Service, n int) {
	t.Helper()
	ev := apptest.NewEvent("t", "dup", 1)
	for range n + 1 {
		if _, err := svc.Publish(context.Background(), []domain.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDuplicateLogging(t *testing.T) {
	const dups = 300
	newSvc := func(mode app.DuplicateLogging, every time.Duration) (*app.Service, *syncBuffer) {
		var logs syncBuffer
		svc := app.New(memory.New(), app.Options{
			Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
			LogDuplicates: mode, DuplicateSummaryEvery: every,
		})
		return svc, &logs
	}

	t.Run("EachLogsEveryDuplicate", func(t *testing.T) {
		svc, logs := newSvc(app.LogDuplicatesEach, 0)
		publishDuplicates(t, svc, dups)
		svc.Close()
		if got := len(logs.lines("duplicate dropped")); got != dups {
			t.Fatalf("%d lines for %d duplicates", got, dups)
		}
	})
	t.Run("OffLogsNothing", func(t *testing.T) {
		svc, logs := newSvc(app.LogDuplicatesOff, 0)
		publishDuplicates(t, svc, dups)
		svc.Close()
		if got := len(logs.lines("duplicate dropped")) + len(logs.lines("duplicates dropped")); got != 0 {
			t.Fatalf("%d lines with logging off", got)
		}
	})
	t.Run("SummaryIsTheDefaultAndBounded", func(t *testing.T) {
		svc, logs := newSvc("", time.Hour) // no interval passes during the test
		publishDuplicates(t, svc, dups)
		if got := len(logs.lines("duplicates dropped")); got != 0 {
			t.Fatalf("%d summary lines before the interval ended", got)
		}
		svc.Close() // writes what is left
		lines := logs.lines("duplicates dropped")
		if len(lines) != 1 || !strings.Contains(lines[0], "count=300") || !strings.Contains(lines[0], "last_event_id=dup") {
			t.Fatalf("summary lines = %q, want one with count=300", lines)
		}
		if got := len(logs.lines("duplicate dropped")); got != 0 {
			t.Fatalf("%d per-duplicate lines in summary mode", got)
		}
	})
	t.Run("SummaryWritesOncePerInterval", func(t *testing.T) {
		svc, logs := newSvc(app.LogDuplicatesSummary, 50*time.Millisecond)
		defer svc.Close()
		publishDuplicates(t, svc, 10)
		deadline := time.Now().Add(5 * time.Second)
		for len(logs.lines("duplicates dropped")) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		lines := logs.lines("duplicates dropped")
		if len(lines) != 1 || !strings.Contains(lines[0], "count=10") {
			t.Fatalf("summary lines = %q, want one with count=10 after the interval", lines)
		}
	})
}
