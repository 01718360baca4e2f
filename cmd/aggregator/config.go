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
	PostgresMaxConns   int
	PostgresConnMaxAge time.Duration
	MaxBatch           int
	MaxBodyBytes       int64
	MaxPayloadBytes    int
	LogLevel           string
	LogFormat          string
	LogDuplicatesEvery int
	SQLiteSynchronous  string
	ShutdownTimeout    time.Duration
	PprofAddr          string
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
	envDuration := func(key string, def time.Duration) time.Duration {
		v := getenv(key)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q is not a duration such as 10s", key, v))
		}
		return d
	}
	fs.StringVar(&c.Addr, "addr", env("AGGREGATOR_ADDR", ":8080"), "listen address (AGGREGATOR_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("AGGREGATOR_DATA_DIR", "./data"), "directory of the SQLite database (AGGREGATOR_DATA_DIR)")
	fs.StringVar(&c.Store, "store", env("AGGREGATOR_STORE", "sqlite"), "event store: sqlite, postgres or memory (AGGREGATOR_STORE)")
	fs.StringVar(&c.PostgresDSN, "postgres-dsn", env("AGGREGATOR_POSTGRES_DSN", ""), "PostgreSQL connection string for -store postgres, e.g. postgres://user:pass@host:5432/db (AGGREGATOR_POSTGRES_DSN)")
	fs.IntVar(&c.PostgresMaxConns, "postgres-max-conns", int(envInt("AGGREGATOR_POSTGRES_MAX_CONNS", 10)), "most PostgreSQL connections this process opens (AGGREGATOR_POSTGRES_MAX_CONNS)")
	fs.DurationVar(&c.PostgresConnMaxAge, "postgres-conn-max-lifetime", envDuration("AGGREGATOR_POSTGRES_CONN_MAX_LIFETIME", 30*time.Minute), "recycle PostgreSQL connections after this long (AGGREGATOR_POSTGRES_CONN_MAX_LIFETIME)")
	fs.IntVar(&c.MaxBatch, "max-batch", int(envInt("AGGREGATOR_MAX_BATCH", httpadapter.DefaultMaxBatch)), "most events in one POST /publish (AGGREGATOR_MAX_BATCH)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", envInt("AGGREGATOR_MAX_BODY_BYTES", httpadapter.DefaultMaxBodyBytes), "largest request body in bytes (AGGREGATOR_MAX_BODY_BYTES)")
	fs.IntVar(&c.MaxPayloadBytes, "max-payload-bytes", int(envInt("AGGREGATOR_MAX_PAYLOAD_BYTES", domain.MaxPayloadBytes)), "largest event payload in bytes (AGGREGATOR_MAX_PAYLOAD_BYTES)")
	fs.StringVar(&c.LogLevel, "log-level", env("AGGREGATOR_LOG_LEVEL", "info"), "debug, info, warn or error (AGGREGATOR_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("AGGREGATOR_LOG_FORMAT", "text"), "text or json (AGGREGATOR_LOG_FORMAT)")
	fs.IntVar(&c.LogDuplicatesEvery, "log-duplicates-every", int(envInt("AGGREGATOR_LOG_DUPLICATES_EVERY", 1)), "log one in N dropped duplicates; 0 silences them (AGGREGATOR_LOG_DUPLICATES_EVERY)")
	fs.StringVar(&c.SQLiteSynchronous, "sqlite-synchronous", env("AGGREGATOR_SQLITE_SYNCHRONOUS", "full"), "SQLite synchronous pragma: full or normal (AGGREGATOR_SQLITE_SYNCHRONOUS)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", env("AGGREGATOR_PPROF_ADDR", ""), "serve net/http/pprof on this separate address, e.g. 127.0.0.1:6060; off when empty (AGGREGATOR_PPROF_ADDR)")
	// Below Docker's 10 s stop timeout, so that the server ends by itself.
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDuration("AGGREGATOR_SHUTDOWN_TIMEOUT", 8*time.Second), "how long to wait for in-flight requests on SIGTERM (AGGREGATOR_SHUTDOWN_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	switch {
	case c.Store != "sqlite" && c.Store != "memory" && c.Store != "postgres":
		return c, fmt.Errorf("store must be sqlite, postgres or memory, not %q", c.Store)
	case c.Store == "postgres" && c.PostgresDSN == "":
		return c, fmt.Errorf("store postgres needs a connection string: set AGGREGATOR_POSTGRES_DSN or -postgres-dsn")
	case c.Store == "postgres" && c.PostgresMaxConns < 1:
		return c, fmt.Errorf("postgres max conns must be at least 1")
	case c.MaxBatch < 1:
		return c, fmt.Errorf("max batch must be at least 1")
	case c.MaxBodyBytes < 1024:
		return c, fmt.Errorf("max body bytes must be at least 1024")
	case c.MaxPayloadBytes < 2:
		return c, fmt.Errorf("max payload bytes must be at least 2")
	case c.ShutdownTimeout <= 0:
		return c, fmt.Errorf("shutdown timeout must be positive")
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
