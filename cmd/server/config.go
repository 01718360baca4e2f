package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// config is everything the server can be told. Each field has a flag and an
// AGGREGATOR_* environment variable; a flag wins over the variable.
type config struct {
	Addr               string
	DataDir            string
	Store              string
	PostgresDSN        string
	MaxBatch           int
	MaxBodyBytes       int64
	MaxPayloadBytes    int
	LogLevel           string
	LogFormat          string
	LogDuplicatesEvery int
	SQLiteSynchronous  string
	ShutdownTimeout    time.Duration
}

// parseConfig reads flags from args with defaults taken from getenv.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var errs []string
	envInt := func(key string, def int64) int64 {
		v := getenv(key)
		if v == "" {
			return def
		}
		var n int64
		if _, err := fmt.Sscan(v, &n); err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q is not a whole number", key, v))
		}
		return n
	}
	fs.StringVar(&c.Addr, "addr", env("AGGREGATOR_ADDR", ":8080"), "listen address (AGGREGATOR_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("AGGREGATOR_DATA_DIR", "./data"), "directory of the SQLite database (AGGREGATOR_DATA_DIR)")
	fs.StringVar(&c.Store, "store", env("AGGREGATOR_STORE", "sqlite"), "event store: sqlite or memory (AGGREGATOR_STORE)")
	fs.IntVar(&c.MaxBatch, "max-batch", int(envInt("AGGREGATOR_MAX_BATCH", httpadapter.DefaultMaxBatch)), "most events in one POST /publish (AGGREGATOR_MAX_BATCH)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", envInt("AGGREGATOR_MAX_BODY_BYTES", httpadapter.DefaultMaxBodyBytes), "largest request body in bytes (AGGREGATOR_MAX_BODY_BYTES)")
	fs.IntVar(&c.MaxPayloadBytes, "max-payload-bytes", int(envInt("AGGREGATOR_MAX_PAYLOAD_BYTES", domain.MaxPayloadBytes)), "largest event payload in bytes (AGGREGATOR_MAX_PAYLOAD_BYTES)")
	fs.StringVar(&c.LogLevel, "log-level", env("AGGREGATOR_LOG_LEVEL", "info"), "debug, info, warn or error (AGGREGATOR_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("AGGREGATOR_LOG_FORMAT", "text"), "text or json (AGGREGATOR_LOG_FORMAT)")
	fs.IntVar(&c.LogDuplicatesEvery, "log-duplicates-every", int(envInt("AGGREGATOR_LOG_DUPLICATES_EVERY", 1)), "log one in N dropped duplicates; 0 silences them (AGGREGATOR_LOG_DUPLICATES_EVERY)")
	fs.StringVar(&c.SQLiteSynchronous, "sqlite-synchronous", env("AGGREGATOR_SQLITE_SYNCHRONOUS", "full"), "SQLite synchronous pragma: full or normal (AGGREGATOR_SQLITE_SYNCHRONOUS)")
	shutdown := env("AGGREGATOR_SHUTDOWN_TIMEOUT", "20s")
	fs.Func("shutdown-timeout", "how long to wait for in-flight requests on SIGTERM (AGGREGATOR_SHUTDOWN_TIMEOUT, default 20s)", func(s string) error {
		shutdown = s
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	d, err := time.ParseDuration(shutdown)
	if err != nil {
		return c, fmt.Errorf("shutdown timeout %q: %w", shutdown, err)
	}
	c.ShutdownTimeout = d
	switch {
	case c.Store != "sqlite" && c.Store != "memory":
		return c, fmt.Errorf("store must be sqlite or memory, not %q", c.Store)
	case c.MaxBatch < 1:
		return c, fmt.Errorf("max batch must be at least 1")
	case c.MaxBodyBytes < 1024:
		return c, fmt.Errorf("max body bytes must be at least 1024")
	case c.MaxPayloadBytes < 2:
		return c, fmt.Errorf("max payload bytes must be at least 2")
	}
	return c, nil
}

// newLogger builds the process logger from the level and format settings.
func newLogger(c config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", c.LogLevel, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format must be text or json, not %q", c.LogFormat)
}
