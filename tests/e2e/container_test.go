package e2e_test

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	// apiPort is the port the image listens on.
	apiPort = "8080/tcp"
	// dataMount is where the image keeps its SQLite database.
	dataMount = "/app/data"
	// serviceUser is the uid:gid the image runs as.
	serviceUser = "65532:65532"
	serviceUID  = 65532
)

// aggregator is one container of the image under test and the API it serves.
type aggregator struct {
	*api
	ctr *testcontainers.DockerContainer
}

// newDataDir returns a host directory to mount on /app/data. The service
// runs as uid 65532, so the directory must be writable by everyone.
func newDataDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// mustStartAggregator runs the image with dataDir mounted on /app/data and
// waits until /healthz answers. The container is removed when the test ends;
// if the test failed, its log is printed first.
func mustStartAggregator(tb testing.TB, dataDir string, opts ...testcontainers.ContainerCustomizer) *aggregator {
	tb.Helper()
	ctr := newAggregatorContainer(tb, dataDir, opts...)
	return &aggregator{api: newAPI(tb, ctr), ctr: ctr}
}

func newAggregatorContainer(tb testing.TB, dataDir string, opts ...testcontainers.ContainerCustomizer) *testcontainers.DockerContainer {
	tb.Helper()
	requireDocker(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(tclog.TestLogger(tb)), // lifecycle lines go to the test's log
		testcontainers.WithExposedPorts(apiPort),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.Binds = append(hc.Binds, dataDir+":"+dataMount)
		}),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/healthz").WithPort(apiPort).
			WithPollInterval(20 * time.Millisecond).WithStartupTimeout(time.Minute)),
	}
	ctr, err := testcontainers.Run(ctx, suite.image, append(base, opts...)...)
	testcontainers.CleanupContainer(tb, ctr)
	if err != nil {
		tb.Fatalf("start container: %v", err)
	}
	// Registered after CleanupContainer, so it runs before the removal.
	tb.Cleanup(func() {
		if tb.Failed() {
			logTail(tb, ctr, 40)
		}
	})
	return ctr
}

// logTail prints the last lines of the container's log.
func logTail(tb testing.TB, ctr testcontainers.Container, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		tb.Logf("container log: %v", err)
		return
	}
	defer rc.Close()
	var lines []string
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	tb.Logf("last %d lines of the container log:\n%s", len(lines), strings.Join(lines, "\n"))
}

// mustInspect returns the container's current state and configuration.
func mustInspect(tb testing.TB, ctr testcontainers.Container) *container.InspectResponse {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := ctr.Inspect(ctx)
	if err != nil {
		tb.Fatalf("inspect container: %v", err)
	}
	return info
}

// newDockerClient is for what testcontainers.Container does not offer:
// sending signals, inspecting images and the engine.
func newDockerClient(tb testing.TB) *testcontainers.DockerClient {
	tb.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		tb.Fatalf("docker client: %v", err)
	}
	tb.Cleanup(func() { cli.Close() })
	return cli
}

// mustKill sends SIGKILL to the container, like `docker kill -s KILL`, and
// waits until the engine reports it stopped.
func mustKill(tb testing.TB, ctr testcontainers.Container) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := newDockerClient(tb).ContainerKill(ctx, ctr.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		tb.Fatalf("kill container: %v", err)
	}
	for mustInspect(tb, ctr).State.Running {
		if ctx.Err() != nil {
			tb.Fatal("the killed container is still running")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// uidsMapOneToOne reports whether a uid inside containers is the same uid on
// the host, which is not so with user-namespace remapping or rootless Docker.
func uidsMapOneToOne(tb testing.TB) bool {
	tb.Helper()
	res, err := newDockerClient(tb).Info(context.Background(), client.InfoOptions{})
	if err != nil {
		tb.Fatalf("docker info: %v", err)
	}
	for _, opt := range res.Info.SecurityOptions {
		if strings.Contains(opt, "userns") || strings.Contains(opt, "rootless") {
			return false
		}
	}
	return true
}
