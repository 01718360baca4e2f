package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestCompose runs docker-compose.yml as a user would: the publisher sends
// events with duplicates to the aggregator over the compose network, checks
// /stats and /events, and its exit code is the result.
func TestCompose(t *testing.T) {
	requireDocker(t)
	compose, err := composeCommand()
	if err != nil {
		if inCI() {
			t.Fatalf("CI is set and Docker Compose is not installed: %v", err)
		}
		t.Skipf("Docker Compose is not installed: %v", err)
	}

	project := "uts-e2e-" + suite.runID
	env := append(os.Environ(),
		"AGGREGATOR_BUILD_TARGET="+buildTarget,
		"AGGREGATOR_IMAGE="+imageRepo+":compose-"+suite.runID,
		"AGGREGATOR_PORT=127.0.0.1:0", // any free port: 8080 may be taken
		"PUBLISHER_EVENTS=2000",
	)
	run := func(ctx context.Context, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, compose[0], append(append(compose[1:], "-p", project), args...)...)
		cmd.Dir = suite.root
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.Bytes(), err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := run(ctx, "down", "--volumes", "--rmi", "all", "--remove-orphans", "--timeout", "10"); err != nil {
			t.Errorf("docker-compose down: %v\n%s", err, out)
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := run(ctx, "up", "--build", "--no-color", "--abort-on-container-exit", "--exit-code-from", "publisher")
	if err != nil {
		t.Fatalf("docker-compose up: %v (the publisher's exit code is the result)\n%s", err, out)
	}
	t.Logf("docker-compose up finished in %v; its output ends with:\n%s", time.Since(start).Round(time.Second), tail(out, 15))
}

// composeCommand returns docker-compose (v1) or, failing that, docker compose (v2).
func composeCommand() ([]string, error) {
	if path, err := exec.LookPath("docker-compose"); err == nil {
		return []string{path}, nil
	}
	docker, err := exec.LookPath("docker")
	if err != nil {
		return nil, err
	}
	if err := exec.Command(docker, "compose", "version").Run(); err != nil {
		return nil, fmt.Errorf("neither docker-compose nor docker compose: %w", err)
	}
	return []string{docker, "compose"}, nil
}

// tail returns the last n lines of b.
func tail(b []byte, n int) []byte {
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n--; n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}
