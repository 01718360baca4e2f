// Package pgtest runs a throwaway PostgreSQL server for tests: one cluster per
// test binary (started from TestMain with Main) and a fresh database per test
// (NewDatabase).
//
// The cluster is created with initdb in a temporary directory, listens on a
// free loopback port with its unix socket in that directory, keeps fsync on
// (the stores' durability is part of what the tests check) and is stopped and
// removed when the tests end. When running as root, initdb and the server run
// as the postgres OS user.
//
// Set AGGREGATOR_TEST_POSTGRES_DSN (a postgres:// URL of a role that may
// create databases) to use an existing server instead. Without server
// binaries the tests skip, unless CI is set: then Main fails.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// DSNEnv names the variable that points the tests at an existing server.
const DSNEnv = "AGGREGATOR_TEST_POSTGRES_DSN"

// BinDirEnv names the variable that overrides where initdb, pg_ctl and
// postgres are looked up.
const BinDirEnv = "AGGREGATOR_TEST_POSTGRES_BIN"

// Cluster is a PostgreSQL server the tests may create databases in.
type Cluster struct {
	// AdminDSN connects to the maintenance database as a role that may
	// create databases.
	AdminDSN string
	stop     func() error
	// halt and resume stop and restart the server of a cluster this
	// package started, keeping its data; nil for an external server.
	halt, resume func() error
}

var (
	shared  *Cluster
	skipWhy string
	dbCount atomic.Int64
)

// Main starts one cluster, runs the tests and stops it. Call it from
// TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without the exit, for a TestMain that does more setup.
func Run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := Start(ctx)
	cancel()
	switch {
	case errors.Is(err, ErrNoServer) && os.Getenv("CI") == "":
		skipWhy = err.Error()
		return m.Run()
	case err != nil:
		fmt.Fprintf(os.Stderr, "pgtest: these tests need PostgreSQL and it could not be started: %v\n", err)
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "pgtest: CI is set, so a missing PostgreSQL is a failure, not a skip")
		}
		return 1
	}
	shared = c
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: stop:", err)
	}
	return code
}

// ErrNoServer is returned by Start when no PostgreSQL server binaries are
// installed and no external server is configured.
var ErrNoServer = errors.New("no PostgreSQL server binaries found (install postgresql, set " +
	BinDirEnv + " to their directory, or set " + DSNEnv + ")")

// Start returns the external server named by AGGREGATOR_TEST_POSTGRES_DSN, or
// starts a new cluster in a temporary directory.
func Start(ctx context.Context) (*Cluster, error) {
	if dsn := os.Getenv(DSNEnv); dsn != "" {
		if _, err := url.Parse(dsn); err != nil || !strings.HasPrefix(dsn, "postgres") {
			return nil, fmt.Errorf("%s must be a postgres:// URL", DSNEnv)
		}
		return &Cluster{AdminDSN: dsn, stop: func() error { return nil }}, nil
	}
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	return startCluster(ctx, bin)
}

// Stop stops the cluster and removes its files; an external server is left
// alone.
func (c *Cluster) Stop() error { return c.stop() }

// StartLocal starts a new cluster of its own in a temporary directory, even
// when AGGREGATOR_TEST_POSTGRES_DSN is set: one that Halt and Resume can
// take down and bring back.
func StartLocal(ctx context.Context) (*Cluster, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	return startCluster(ctx, bin)
}

// Halt stops the server (pg_ctl stop -m fast: clients are disconnected) and
// keeps its data for Resume.
func (c *Cluster) Halt() error {
	if c.halt == nil {
		return errors.New("pgtest: an external server cannot be halted")
	}
	return c.halt()
}

// Resume starts a halted server again on the same port and data.
func (c *Cluster) Resume() error {
	if c.resume == nil {
		return errors.New("pgtest: an external server cannot be resumed")
	}
	return c.resume()
}

func findBinDir() (string, error) {
	candidates := []string{os.Getenv(BinDirEnv)}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	globbed, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(globbed) - 1; i >= 0; i-- { // newest version first
		candidates = append(candidates, globbed[i])
	}
	candidates = append(candidates, "/usr/local/pgsql/bin")
	for _, dir := range candidates {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", ErrNoServer
}

func startCluster(ctx context.Context, bin string) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	// PostgreSQL refuses to run as root: hand the directory to postgres.
	var asUser []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("running as root and there is no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			cleanup()
			return nil, err
		}
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	command := func(name string, args ...string) *exec.Cmd {
		full := append(append(append([]string{}, asUser...), filepath.Join(bin, name)), args...)
		cmd := exec.CommandContext(ctx, full[0], full[1:]...)
		cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
		return cmd
	}
	data := filepath.Join(dir, "data")
	// --no-sync only skips flushing the template files once; the server
	// below runs with fsync on.
	if out, err := command("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		cleanup()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		cleanup()
		return nil, err
	}
	opts := strings.Join([]string{
		"-c listen_addresses=127.0.0.1",
		"-c port=" + strconv.Itoa(port),
		"-c unix_socket_directories=" + dir,
		"-c fsync=on",
		"-c synchronous_commit=on",
		"-c max_connections=200",
		"-c shared_buffers=128MB",
	}, " ")
	logFile := filepath.Join(dir, "server.log")
	if out, err := command("pg_ctl", "-D", data, "-l", logFile, "-o", opts, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logFile)
		cleanup()
		return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	pgctl := func(args ...string) error {
		runCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		full := append(append(append([]string{}, asUser...), filepath.Join(bin, "pg_ctl"), "-D", data), args...)
		cmd := exec.CommandContext(runCtx, full[0], full[1:]...)
		cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("pg_ctl %s: %v\n%s", args[len(args)-1], err, out)
		}
		return nil
	}
	halt := func() error { return pgctl("-m", "fast", "-w", "stop") }
	resume := func() error { return pgctl("-l", logFile, "-o", opts, "-w", "-t", "60", "start") }
	stop := func() error {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		full := append(append([]string{}, asUser...), filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop")
		out, err := exec.CommandContext(stopCtx, full[0], full[1:]...).CombinedOutput()
		cleanup()
		if err != nil {
			return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
		}
		return nil
	}
	return &Cluster{
		AdminDSN: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		stop:     stop,
		halt:     halt,
		resume:   resume,
	}, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// NewDatabase creates an empty database on the cluster started by Main and
// returns its DSN; the database is dropped when tb ends. It skips tb when
// Main found no server.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	if shared == nil {
		if skipWhy != "" {
			tb.Skip("pgtest: " + skipWhy)
		}
		tb.Fatal("pgtest: no cluster; call pgtest.Main from TestMain")
	}
	dsn, drop, err := shared.CreateDatabase(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := drop(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return dsn
}

// CreateDatabase creates an empty database and returns its DSN and a
// function that drops it.
func (c *Cluster) CreateDatabase(ctx context.Context) (dsn string, drop func() error, err error) {
	name := fmt.Sprintf("aggtest_%d_%d", os.Getpid(), dbCount.Add(1))
	admin, err := openAdmin(c.AdminDSN)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(c.AdminDSN)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop = func() error {
		admin, err := openAdmin(c.AdminDSN)
		if err != nil {
			return err
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

func openAdmin(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("admin dsn: %w", err)
	}
	return stdlib.OpenDB(*cfg), nil
}
