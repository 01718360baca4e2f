package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	"github.com/danielgtaylor/huma/v2/adapters/humago"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/adapters/metrics"
	"github.com/uts-aggregator/uts-aggregator/adapters/postgres"
	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
	"github.com/uts-aggregator/uts-aggregator/internal/httpserve"
)

// runServe is the serve subcommand: read the configuration, log it, serve.
func runServe(ctx context.Context, args []string, e env) error {
	cfg, err := parseConfig("serve", args, e.getenv, e.stderr)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, e.stdout)
	logger.Info("configuration", append([]any{"version", version}, cfg.logAttrs()...)...)
	for _, w := range cfg.warnings {
		logger.Warn(w)
	}
	if cfg.Store == "sqlite" {
		if err := sqlite.CheckDir(cfg.DataDir); err != nil {
			return err
		}
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
	// Lines logged with a request's context name its request ID.
	logger = slog.New(httpadapter.LogHandler(logger.Handler()))
	repo, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer repo.Close()
	var svc *app.Service
	queued := func() int { return svc.Queued() } // svc is set just below
	recorder := metrics.New(queued)
	svc = app.New(repo, app.Options{
		Limits:        domain.Limits{MaxPayloadBytes: cfg.MaxPayloadBytes},
		Logger:        logger,
		LogDuplicates: app.DuplicateLogging(cfg.LogDuplicates),
		Observer:      observers{recorder, commitLog{logger, queued}},
		Lifecycle:     cfg.lifecycle(),
		MaxQueue:      cfg.MaxQueue,
		MaxWait:       cfg.MaxWait,
	})
	defer svc.Close()
	recorder.ObserveStore(storeTotals(svc))

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", recorder.Handler())
	api := humago.New(mux, httpadapter.NewConfig(version))
	closing := make(chan struct{})
	httpadapter.Register(api, svc, httpadapter.Options{
		MaxBatch: cfg.MaxBatch, MaxBodyBytes: cfg.MaxBodyBytes, Logger: logger, Closing: closing,
	})
	httpadapter.RegisterPages(mux)
	keys, err := loadAPIKeys(ctx, cfg.APIKeysFile, logger)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: httpadapter.RequestID(httpadapter.Recover(
			httpadapter.Authenticate(httpadapter.AccessLog(httpadapter.Fallback(mux), logger), keys), logger)),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		// Event streams set a deadline per write, which replaces this one.
		WriteTimeout: cfg.WriteTimeout,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Event streams never go idle: end them when Shutdown starts.
	srv.RegisterOnShutdown(func() { close(closing) })
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, logger)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", ln.Addr().String(), "store", cfg.Store, "version", version)
	if keys == nil && !isLoopback(ln.Addr()) {
		logger.Warn("no API keys: anyone who can reach " + ln.Addr().String() +
			" can publish and read events; set AGGREGATOR_API_KEYS_FILE, or listen on 127.0.0.1 only")
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	// Shutdown starts when ctx ends; the deferred Close calls then finish
	// the queued commits and close the store.
	go func() {
		<-ctx.Done()
		logger.Info("shutting down")
	}()
	if err := httpserve.Serve(ctx, srv, ln, cfg.ShutdownTimeout); err != nil {
		return err
	}
	logger.Info("stopped")
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

// loadAPIKeys reads the keys file, if one is configured, and reads it again
// on every SIGHUP until ctx ends. A file that fails to load at startup stops
// the server; on SIGHUP the keys in use stay.
func loadAPIKeys(ctx context.Context, path string, logger *slog.Logger) (*httpadapter.APIKeys, error) {
	if path == "" {
		return nil, nil
	}
	keys, err := httpadapter.LoadAPIKeys(path, logger)
	if err != nil {
		return nil, err
	}
	logKeys := func(msg string) {
		names := keys.Names()
		if len(names) == 0 {
			logger.Warn(msg+": the file has no keys, so every guarded path refuses every request", "file", path)
			return
		}
		logger.Info(msg, "file", path, "names", names)
	}
	logKeys("API keys loaded")
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := keys.Reload(); err != nil {
					logger.Error("API keys not reloaded; the previous keys stay in use", "err", err)
					continue
				}
				logKeys("API keys reloaded")
			}
		}
	}()
	return keys, nil
}

// isLoopback reports whether addr is reachable from this machine only.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
