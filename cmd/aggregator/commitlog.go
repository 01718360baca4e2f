package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// slowCommit is how long a group commit may take before it is logged as
// slow at WARN: far above a healthy fsync, near where clients notice.
const slowCommit = time.Second

// commitLog is the commit observer that logs what an operator needs when
// something is off: every commit's size and the queue behind it at DEBUG,
// and slow commits at WARN.
type commitLog struct {
	logger *slog.Logger
	queued func() int
}

var _ app.CommitObserver = commitLog{}

// Committed implements app.CommitObserver.
func (l commitLog) Committed(c domain.Counters, publishes int, took time.Duration) {
	level := slog.LevelDebug
	msg := "commit"
	if took >= slowCommit {
		level, msg = slog.LevelWarn, "slow commit"
	}
	if !l.logger.Enabled(context.Background(), level) {
		return
	}
	l.logger.Log(context.Background(), level, msg,
		"events", c.Received, "accepted", c.Accepted, "duplicates", c.Dropped, "conflicts", c.Conflicts,
		"publishes", publishes, "took", took, "queued", l.queued())
}

// observers tells every observer in turn.
type observers []app.CommitObserver

// Committed implements app.CommitObserver.
func (all observers) Committed(c domain.Counters, publishes int, took time.Duration) {
	for _, o := range all {
		o.Committed(c, publishes, took)
	}
}
