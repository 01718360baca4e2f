// Package e2e_test runs the real container image: it builds the static
// binaries and the image from the repository's Dockerfile, starts containers
// with testcontainers-go and talks to them over HTTP only.
//
// Run it with
//
//	TESTCONTAINERS_RYUK_DISABLED=true go test -count=1 -v ./tests/e2e/
//
// The tests remove the containers, volumes and images they create, so the
// suite needs no reaper and disables it when the variable is not set.
// Without a Docker engine the tests skip, unless CI is set: then they fail.
package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

const (
	// imageRepo names the images the suite builds; each run adds its own tag.
	imageRepo = "uts-aggregator-e2e"
	// imageVersion is baked into the binary and the image's version label.
	imageVersion = "0.0.0-e2e"
	// buildTarget is the Dockerfile stage that copies binaries from dist/,
	// so no base image has to be pulled.
	buildTarget = "prebuilt"
)

// suite is what TestMain prepared for the tests.
var suite struct {
	root     string // repository root
	runID    string // unique per run, names images and compose projects
	image    string // image reference built from the Dockerfile
	noDocker error  // why Docker cannot be used; the tests then skip
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// The suite removes its own containers, networks and images with
	// t.Cleanup; the reaper would need its image pulled from a registry.
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	suite.root = root
	suite.runID = newRunID()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := pingDocker(ctx); err != nil {
		if inCI() {
			fmt.Fprintf(os.Stderr, "e2e: CI is set and the suite needs a Docker engine, but none answers: %v\n", err)
			return 1
		}
		suite.noDocker = err
		return m.Run()
	}

	if err := buildBinaries(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	image, err := buildImage(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	suite.image = image
	defer removeImage(image)
	return m.Run()
}

// requireDocker skips the test when no Docker engine answers. TestMain has
// already failed the run if CI is set.
func requireDocker(tb testing.TB) {
	tb.Helper()
	if suite.noDocker != nil {
		tb.Skipf("no Docker engine: %v (set CI=true to make this a failure)", suite.noDocker)
	}
}

// inCI reports whether the CI variable says the run is in CI, where a
// missing Docker engine must fail the suite rather than skip it.
func inCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "false" && v != "0" && v != "no"
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no directory above the tests holds both go.mod and Dockerfile")
		}
		dir = parent
	}
}

func newRunID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pingDocker checks that an engine answers; testcontainers panics in some
// setups without an engine, which counts as no engine.
func pingDocker(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("docker client: %v", r)
		}
	}()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return err
	}
	useLocalhostForSameHostEngine(ctx, cli)
	return nil
}

// useLocalhostForSameHostEngine handles an engine that runs in the tests' own
// container (Docker in Docker). Testcontainers sees /.dockerenv, assumes the
// engine is on another host and looks for published ports at the default
// gateway, where they are not. When the engine's bridge interface is one of
// this machine's, published ports are on localhost.
// TESTCONTAINERS_HOST_OVERRIDE, when set, wins.
func useLocalhostForSameHostEngine(ctx context.Context, cli *testcontainers.DockerClient) {
	if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); set {
		return
	}
	if _, err := os.Stat("/.dockerenv"); err != nil {
		return
	}
	res, err := cli.NetworkInspect(ctx, "bridge", client.NetworkInspectOptions{})
	if err != nil {
		return
	}
	name := res.Network.Options["com.docker.network.bridge.name"]
	if name == "" {
		return
	}
	if _, err := net.InterfaceByName(name); err == nil {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "localhost")
	}
}

// buildBinaries builds the static binaries the prebuilt targets copy: the
// server, and the load generator the compose publisher runs.
func buildBinaries(ctx context.Context) error {
	if err := goBuild(ctx, "./cmd/aggregator", "dist/aggregator"); err != nil {
		return err
	}
	return goBuild(ctx, "./cmd/loadgen", "dist/loadgen")
}

func goBuild(ctx context.Context, pkg, out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go tool is needed to build %s: %w", out, err)
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath",
		"-ldflags", "-s -w -X main.version="+imageVersion, "-o", out, pkg)
	cmd.Dir = suite.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// buildImage builds the repository's Dockerfile once for the whole run.
func buildImage(ctx context.Context) (string, error) {
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", err
	}
	defer provider.Close()
	var buildLog bytes.Buffer
	version := imageVersion
	req := &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context:        suite.root,
		Dockerfile:     "Dockerfile",
		Repo:           imageRepo,
		Tag:            suite.runID,
		BuildArgs:      map[string]*string{"VERSION": &version},
		BuildLogWriter: &buildLog,
		KeepImage:      true, // shared by every test; removed by TestMain
		BuildOptionsModifier: func(o *client.ImageBuildOptions) {
			o.Target = buildTarget
		},
	}}
	ref, err := provider.BuildImage(ctx, req)
	if err != nil {
		return "", fmt.Errorf("build image (target %s): %w\n%s", buildTarget, err, buildLog.String())
	}
	return ref, nil
}

func removeImage(ref string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: remove image:", err)
		return
	}
	defer cli.Close()
	if _, err := cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: remove image:", err)
	}
}
