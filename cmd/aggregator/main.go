// Command server runs the uts-aggregator HTTP service.
//
//	server [flags]            serve (see -h for flags and AGGREGATOR_* variables)
//	server healthcheck        exit 0 if the local server answers /healthz (for Docker)
//	server export [flags]     write the configured store as NDJSON to stdout
//	server import [flags]     read an export from stdin into the configured, empty store
//	server loadgen [flags]    publish a test load and verify it (see internal/loadgen)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/danielgtaylor/huma/v2/adapters/humago"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/adapters/metrics"
	"github.com/uts-aggregator/uts-aggregator/adapters/postgres"
	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
	"github.com/uts-aggregator/uts-aggregator/internal/loadgen"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "healthcheck":
			return healthcheck(args[1:], getenv)
		case "export", "import":
			return transfer(ctx, args[0], args[1:], getenv, os.Stdin, stdout, stderr)
		case "loadgen":
			if code := loadgen.Run(ctx, args[1:], stdout, stderr); code != 0 {
				os.Exit(code)
			}
			return nil
		}
	}
	cfg, err := parseConfig("server", args, getenv, stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg, stdout)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, logger, nil)
}

// store is an event repository the server owns and must close.
type store interface {
	app.EventRepository
	Close() error
}

func openStore(ctx context.Context, cfg config) (store, error) {
	switch cfg.Store {
	case "memory":
		return nopCloser{memory.New()}, nil
	case "postgres":
		return postgres.Open(ctx, cfg.PostgresDSN, postgres.Options{
			MaxConns: cfg.PostgresMaxConns, ConnMaxLifetime: cfg.PostgresConnMaxAge,
		})
	default:
		return sqlite.Open(ctx, cfg.DataDir, sqlite.Options{Synchronous: cfg.SQLiteSynchronous})
	}
}

type nopCloser struct{ *memory.Repository }

func (nopCloser) Close() error { return nil }

// serve runs the server until ctx ends, then shuts down in order: stop
// accepting, finish in-flight requests and their commits, close the store.
// ready, if not nil, receives the bound address once the server listens.
func serve(ctx context.Context, cfg config, logger *slog.Logger, ready chan<- string) error {
	repo, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer repo.Close()
	var svc *app.Service
	recorder := metrics.New(func() int { return svc.Queued() })
	svc = app.New(repo, app.Options{
		Limits:             domain.Limits{MaxPayloadBytes: cfg.MaxPayloadBytes},
		Logger:             logger,
		LogDuplicatesEvery: cfg.LogDuplicatesEvery,
		Observer:           recorder,
	})
	defer svc.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", recorder.Handler())
	api := humago.New(mux, httpadapter.NewConfig(version))
	httpadapter.Register(api, svc, httpadapter.Options{
		MaxBatch: cfg.MaxBatch, MaxBodyBytes: cfg.MaxBodyBytes, Logger: logger,
	})
	srv := &http.Server{
		Handler:           httpadapter.Recover(mux, logger),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, logger)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", ln.Addr().String(), "store", cfg.Store, "data_dir", cfg.DataDir, "version", version)
	if ready != nil {
		ready <- ln.Addr().String()
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// healthcheck asks the local server's /healthz; the image has no curl.
func healthcheck(args []string, getenv func(string) string) error {
	addr := getenv("AGGREGATOR_ADDR")
	if len(args) > 0 {
		addr = args[0]
	}
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %s", resp.Status)
	}
	return nil
}

// servePprof serves the runtime profiles on their own address, so that they
// are never reachable through the public port.
func servePprof(addr string, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	logger.Info("profiling", "addr", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		logger.Error("profiling server stopped", "err", err)
	}
}
