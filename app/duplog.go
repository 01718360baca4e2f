package app

import (
	"log/slog"
	"sync"
	"time"
)

// DuplicateLogging says how dropped duplicates are logged. Conflicting
// duplicates (same key, different payload) are always logged, one line each.
type DuplicateLogging string

const (
	// LogDuplicatesSummary, the default, writes at most one line per
	// interval: how many duplicates were dropped, and the last one's key.
	LogDuplicatesSummary DuplicateLogging = "summary"
	// LogDuplicatesEach writes one line per dropped duplicate.
	LogDuplicatesEach DuplicateLogging = "each"
	// LogDuplicatesOff writes nothing about dropped duplicates.
	LogDuplicatesOff DuplicateLogging = "off"
)

// duplicateLog logs dropped duplicates in one of the DuplicateLogging modes.
type duplicateLog struct {
	mode     DuplicateLogging
	every    time.Duration
	logger   *slog.Logger
	mu       sync.Mutex
	count    int64
	topic    string
	eventID  string
	timer    *time.Timer
	stopped  bool
	firstAdd time.Time
}

func newDuplicateLog(mode DuplicateLogging, every time.Duration, logger *slog.Logger) *duplicateLog {
	if mode == "" {
		mode = LogDuplicatesSummary
	}
	if every <= 0 {
		every = time.Second
	}
	return &duplicateLog{mode: mode, every: every, logger: logger}
}

// dropped notes one dropped duplicate.
func (d *duplicateLog) dropped(topic, eventID string, seq int64) {
	switch d.mode {
	case LogDuplicatesOff:
		return
	case LogDuplicatesEach:
		d.logger.Info("duplicate dropped", "topic", topic, "event_id", eventID, "seq", seq)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.count == 0 {
		d.firstAdd = time.Now()
	}
	d.count++
	d.topic, d.eventID = topic, eventID
	if d.timer == nil && !d.stopped {
		d.timer = time.AfterFunc(d.every, d.flush)
	}
}

// flush writes the summary of the duplicates counted since the last one.
func (d *duplicateLog) flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.timer = nil
	d.flushLocked()
}

func (d *duplicateLog) flushLocked() {
	if d.count == 0 {
		return
	}
	d.logger.Info("duplicates dropped", "count", d.count, "over", time.Since(d.firstAdd).Round(time.Millisecond),
		"last_topic", d.topic, "last_event_id", d.eventID)
	d.count = 0
}

// stop writes what is left and ends the summaries.
func (d *duplicateLog) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.flushLocked()
}
