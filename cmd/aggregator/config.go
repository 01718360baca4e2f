package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// config is everything the server can be told. Each field has a flag and an
// environment variable named after it (-max-batch, AGGREGATOR_MAX_BATCH); a
// flag wins over the variable.
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
	LogDuplicates      string
	SQLiteSynchronous  string
	ShutdownTimeout    time.Duration
	MaxQueue           int
	MaxWait            time.Duration
	ReadHeaderTimeout  time.Duration
	ReadTimeout        time.Duration
	IdleTimeout        time.Duration
	WriteTimeout       time.Duration
	MaxHeaderBytes     int
	PprofAddr          string
	Retention          time.Duration
	DedupWindow        time.Duration
	APIKeysFile        string

	// warnings are settings that were accepted but have no effect, such as
	// the options of a store other than the chosen one.
	warnings []string
	// effective is every setting's value, for the startup log line.
	effective []any
}

// envName is the environment variable that sets the flag called name.
func envName(name string) string {
	return "AGGREGATOR_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// storeFlags registers the flags that choose and open a store; the server,
// export and import share them.
func storeFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.Store, "store", "sqlite", "event store: sqlite, postgres or memory")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory of the SQLite database")
	fs.StringVar(&c.SQLiteSynchronous, "sqlite-synchronous", "full", "SQLite synchronous pragma: full or normal")
	fs.StringVar(&c.PostgresDSN, "postgres-dsn", "", "PostgreSQL connection string for -store postgres, e.g. postgres://user:pass@host:5432/db")
	fs.IntVar(&c.PostgresMaxConns, "postgres-max-conns", 10, "most PostgreSQL connections this process opens")
	fs.DurationVar(&c.PostgresConnMaxAge, "postgres-conn-max-lifetime", 30*time.Minute, "recycle PostgreSQL connections after this long")
}

// serverFlags registers the flags only the server uses.
func serverFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.Addr, "addr", ":8080", "listen address")
	fs.IntVar(&c.MaxBatch, "max-batch", httpadapter.DefaultMaxBatch, "most events in one POST /publish")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", httpadapter.DefaultMaxBodyBytes, "largest request body in bytes")
	fs.IntVar(&c.MaxPayloadBytes, "max-payload-bytes", domain.MaxPayloadBytes, "largest event payload in bytes")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.LogDuplicates, "log-duplicates", "summary", "dropped duplicates: summary (one line per second at most, with a count), each (a line per duplicate) or off; conflicts are always logged")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve net/http/pprof on this separate address, e.g. 127.0.0.1:6060; off when empty")
	// Below Docker's 10 s stop timeout, so that the server ends by itself.
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 8*time.Second, "how long to wait for in-flight requests on SIGTERM")
	fs.IntVar(&c.MaxQueue, "max-queue", app.DefaultMaxQueue, "most publishes waiting for a commit; one more answers 503")
	fs.DurationVar(&c.MaxWait, "max-wait", app.DefaultMaxWait, "longest a publish waits for its commit before it answers 503")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "time a client has to send the request headers")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", time.Minute, "time a client has to send headers and body (event streams are exempt once open)")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", 2*time.Minute, "time to write an answer; a client that does not read is dropped (event streams: per message)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", 64<<10, "largest request header block in bytes; more answers 431")
	fs.DurationVar(&c.Retention, "retention", 0, "purge events received longer ago than this, e.g. 720h; 0 keeps them")
	fs.StringVar(&c.APIKeysFile, "api-keys-file", "", "file of API keys, one NAME SCOPES KEY line per key; publishing and reading then need a key; re-read on SIGHUP; off when empty")
	fs.DurationVar(&c.DedupWindow, "dedup-window", 0, "forget an event's key this long after its first acceptance, so a resend is new again; 0 remembers keys for ever")
}

// parseFlags parses args into fs after applying the AGGREGATOR_* variables
// through each flag's own parser, so that a variable is exactly as strict as
// its flag. Every flag's usage names its variable.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		key := envName(f.Name)
		f.Usage += " (" + key + ")"
		v := getenv(key)
		if v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %v", key, v, setError(f, err)))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &flagError{err}
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q (flags come as -name value)", fs.Arg(0))
	}
	return nil
}

// setError explains why a variable's value does not parse: the flag package
// only says "parse error".
func setError(f *flag.Flag, err error) error {
	getter, ok := f.Value.(flag.Getter)
	if !ok {
		return err
	}
	switch getter.Get().(type) {
	case int, int64, uint, uint64:
		return errors.New("not a whole number in range")
	case time.Duration:
		return errors.New("not a duration such as 10s or 1m30s")
	case bool:
		return errors.New("not true or false")
	}
	return err
}

// parseConfig reads the server's flags from args with defaults taken from getenv.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := newFlagSet(name, "[flags]", "Runs the HTTP service until SIGINT or SIGTERM.", stderr)
	serverFlags(fs, &c)
	storeFlags(fs, &c)
	if err := parseFlags(fs, args, getenv); err != nil {
		return c, err
	}
	if err := c.checkStore(setFlags(fs, getenv)); err != nil {
		return c, err
	}
	switch {
	case c.MaxBatch < 1:
		return c, errors.New("max batch must be at least 1")
	case c.MaxBodyBytes < 1024:
		return c, errors.New("max body bytes must be at least 1024")
	case c.MaxPayloadBytes < 2:
		return c, errors.New("max payload bytes must be at least 2")
	case int64(c.MaxPayloadBytes) > c.MaxBodyBytes:
		return c, fmt.Errorf("max payload bytes (%d) cannot exceed max body bytes (%d): no request could carry such a payload", c.MaxPayloadBytes, c.MaxBodyBytes)
	case c.LogDuplicates != "summary" && c.LogDuplicates != "each" && c.LogDuplicates != "off":
		return c, fmt.Errorf("log duplicates must be summary, each or off, not %q", c.LogDuplicates)
	case c.MaxQueue < 1:
		return c, errors.New("max queue must be at least 1")
	case c.MaxWait < 10*time.Millisecond:
		return c, fmt.Errorf("max wait %v is too short for any commit; use at least 10ms", c.MaxWait)
	case c.ReadHeaderTimeout <= 0 || c.ReadTimeout <= 0 || c.IdleTimeout <= 0 || c.WriteTimeout <= 0:
		return c, errors.New("read header, read, write and idle timeouts must be positive")
	case c.WriteTimeout <= c.MaxWait:
		return c, fmt.Errorf("write timeout %v must exceed max wait %v, or a waiting publish could never answer", c.WriteTimeout, c.MaxWait)
	case c.ReadTimeout < c.ReadHeaderTimeout:
		return c, fmt.Errorf("read timeout %v is shorter than read header timeout %v; it covers the headers too", c.ReadTimeout, c.ReadHeaderTimeout)
	case c.MaxHeaderBytes < 4096:
		return c, errors.New("max header bytes must be at least 4096")
	case c.ShutdownTimeout < 100*time.Millisecond:
		return c, fmt.Errorf("shutdown timeout %v is too short to finish any request; use at least 100ms", c.ShutdownTimeout)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return c, fmt.Errorf("log level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("log format must be text or json, not %q", c.LogFormat)
	}
	if err := c.lifecycle().Validate(); err != nil {
		return c, err
	}
	c.effective = effectiveConfig(fs, c.Store)
	return c, nil
}

// lifecycle is the retention the server runs.
func (c config) lifecycle() app.Lifecycle {
	return app.Lifecycle{Retention: c.Retention, DedupWindow: c.DedupWindow}
}

// setFlags reports which flags were set, on the command line or through
// their variable.
func setFlags(fs *flag.FlagSet, getenv func(string) string) map[string]bool {
	set := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if getenv(envName(f.Name)) != "" {
			set[f.Name] = true
		}
	})
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// storeOptions names the store each store-specific flag applies to.
var storeOptions = map[string]string{
	"data-dir": "sqlite", "sqlite-synchronous": "sqlite",
	"postgres-dsn": "postgres", "postgres-max-conns": "postgres", "postgres-conn-max-lifetime": "postgres",
}

// checkStore validates the store options and notes, as warnings, options
// given for a store other than the chosen one.
func (c *config) checkStore(set map[string]bool) error {
	switch {
	case c.Store != "sqlite" && c.Store != "memory" && c.Store != "postgres":
		return fmt.Errorf("store must be sqlite, postgres or memory, not %q", c.Store)
	case c.Store == "postgres" && c.PostgresDSN == "":
		return errors.New("store postgres needs a connection string: set AGGREGATOR_POSTGRES_DSN or -postgres-dsn")
	case c.Store == "postgres" && c.PostgresMaxConns < 1:
		return errors.New("postgres max conns must be at least 1")
	case c.Store == "postgres" && c.PostgresConnMaxAge <= 0:
		return errors.New("postgres conn max lifetime must be positive")
	case c.Store == "sqlite" && c.SQLiteSynchronous != "full" && c.SQLiteSynchronous != "normal":
		return fmt.Errorf("sqlite synchronous must be full or normal, not %q", c.SQLiteSynchronous)
	}
	for _, name := range []string{"data-dir", "sqlite-synchronous", "postgres-dsn", "postgres-max-conns", "postgres-conn-max-lifetime"} {
		if owner := storeOptions[name]; set[name] && owner != c.Store {
			c.warnings = append(c.warnings, fmt.Sprintf("-%s (%s) is ignored: it applies to store %s, and store is %s",
				name, envName(name), owner, c.Store))
		}
	}
	return nil
}

// logAttrs is the effective configuration as log attributes: every flag of
// the server, by name, except the options of a store other than the chosen
// one, with the password of the PostgreSQL connection string redacted.
func (c config) logAttrs() []any {
	return c.effective
}

// effectiveConfig lists the value of every flag of fs for logAttrs.
func effectiveConfig(fs *flag.FlagSet, store string) []any {
	attrs := []any{"store", store}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "store" {
			return
		}
		if owner, ok := storeOptions[f.Name]; ok && owner != store {
			return
		}
		v := f.Value.String()
		if f.Name == "postgres-dsn" {
			v = redactDSN(v)
		}
		attrs = append(attrs, strings.ReplaceAll(f.Name, "-", "_"), v)
	})
	return attrs
}

// redactDSN hides the password of a PostgreSQL connection string, in URL
// form (postgres://user:pass@host/db) or keyword form (password=...).
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	fields := strings.Fields(dsn)
	for i, f := range fields {
		if k, _, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") {
			fields[i] = k + "=xxxxx"
		}
	}
	return strings.Join(fields, " ")
}

// newLogger builds the process logger from the level and format settings.
func newLogger(c config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel)) // checked by parseConfig
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
