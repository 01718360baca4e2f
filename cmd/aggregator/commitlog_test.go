package main

import (
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/uts-aggregator/uts-aggregator/domain"
)

func TestCommitLogAtDebugAndSlowCommitsAtWarn(t *testing.T) {
	c := domain.Counters{Received: 12, Accepted: 10, Dropped: 2}
	for _, tc := range []struct {
		name  string
		level slog.Level
		took  time.Duration
		want  string // "" = nothing logged
	}{
		{"InfoHidesCommits", slog.LevelInfo, time.Millisecond, ""},
		{"DebugShowsSizeAndQueue", slog.LevelDebug, time.Millisecond, "level=DEBUG msg=commit events=12 accepted=10 duplicates=2 conflicts=0 publishes=3 took=1ms queued=7"},
		{"SlowAtInfo", slog.LevelInfo, 2 * time.Second, `level=WARN msg="slow commit" events=12`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			logger := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: tc.level,
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				}}))
			commitLog{logger, func() int { return 7 }}.Committed(c, 3, tc.took)
			if tc.want == "" && b.Len() != 0 || !strings.Contains(b.String(), tc.want) {
				t.Fatalf("logged %q, want %q", b.String(), tc.want)
			}
		})
	}
}
