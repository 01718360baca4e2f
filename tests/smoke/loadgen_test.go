// Package smoke runs the load generator's correctness check against the real
// server binary: a short version of the benchmark scenarios, for CI.
package smoke

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// build compiles a command of the module into dir and returns its path.
func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, "./"+pkg)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestLoadgenAgainstRealServer(t *testing.T) {
	bin := t.TempDir()
	server := build(t, bin, "cmd/aggregator")
	loadgen := build(t, bin, "cmd/loadgen")

	addr := freeAddr(t)
	var log bytes.Buffer
	srv := exec.Command(server, "-addr", addr, "-data-dir", t.TempDir(), "-log-duplicates", "off")
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Kill()
		srv.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", log.String())
		}
	})
	url := "http://" + addr
	waitHealthy(t, url)

	for _, batch := range []int{1, 100} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, loadgen, "-url", url, "-events", "5000", "-duplicates", "0.2",
				"-batch", fmt.Sprint(batch), "-concurrency", "16", "-progress", "none").CombinedOutput()
			if err != nil {
				t.Fatalf("loadgen: %v\n%s", err, out)
			}
			t.Logf("%s", out)
		})
	}
}

func waitHealthy(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/healthz did not answer", url)
}
