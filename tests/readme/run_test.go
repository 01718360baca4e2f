package readme

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// expected is what the answers of a section's bash block must say, in order:
// each publish answer's statuses, and each /stats answer's received,
// unique_processed and duplicate_dropped. A section not listed only has to
// run without error.
var expected = map[string][]string{
	"Quick start":                           {"accepted", "duplicate", "stats 2/1/1"},
	"In bash (Linux, macOS, WSL, Git Bash)": {"accepted", "duplicate", "stats 2/1/1", "duplicate", "stats 1/0/1"},
}

// run holds what one test run made: the binary, its port, unique names.
type run struct {
	dir     string     // working directory of the blocks
	bin     string     // the aggregator binary
	port    string     // of the quick-start server
	id      string     // unique suffix of container, volume and image names
	image   string     // built on the first docker block
	dockerP string     // host port of the demo container
	top     *testing.T // the whole test: what later blocks use is cleaned up with it
}

func TestBashBlocksRunAgainstTheBinary(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's bash blocks need %s: %v", tool, err)
		}
	}
	r := &run{dir: t.TempDir(), port: freePort(t), dockerP: freePort(t), id: randomID(), top: t}
	r.bin = filepath.Join(t.TempDir(), "aggregator")
	goBuild(t, r.bin, "./cmd/aggregator")

	blocks := readme(t)
	ran := 0
	for _, b := range blocks {
		if b.lang != "bash" {
			continue
		}
		ran++
		name := fmt.Sprintf("line%d", b.line)
		t.Run(name, func(t *testing.T) {
			switch b.marker {
			case "server":
				r.startServer(t, b)
				return
			case "docker":
				if !r.needDocker(t) {
					return
				}
			case "":
			default:
				t.Fatalf("README.md:%d: unknown readme-test marker %q", b.line, b.marker)
			}
			out := r.runBlock(t, b)
			if want, ok := expected[b.heading]; ok {
				if got := answers(out); strings.Join(got, ", ") != strings.Join(want, ", ") {
					t.Fatalf("README.md:%d (%s): answers %q, want %q; output:\n%s", b.line, b.heading, got, want, out)
				}
			}
		})
	}
	if ran < 3 {
		t.Fatalf("README.md has %d bash blocks; the quick start, its curl block and the demo at least", ran)
	}
	for heading := range expected {
		found := false
		for _, b := range blocks {
			found = found || (b.lang == "bash" && b.heading == heading)
		}
		if !found {
			t.Errorf("no bash block under the heading %q any more; update expected", heading)
		}
	}
}

// substitute makes a block's commands use this run's ports and names.
func (r *run) substitute(s string) string {
	s = strings.ReplaceAll(s, "go run ./cmd/aggregator", r.bin)
	s = strings.ReplaceAll(s, "-p 8080:8080", "-p 127.0.0.1:"+r.dockerP+":8080")
	s = strings.ReplaceAll(s, "my-aggregator", "readme-"+r.id)
	s = strings.ReplaceAll(s, "aggregator-demo", "readme-demo-"+r.id)
	s = regexp.MustCompile(`(?m) uts-aggregator$`).ReplaceAllString(s, " "+r.image)
	return s
}

// startServer runs the quick start's server block in the background.
func (r *run) startServer(t *testing.T, b block) {
	script := strings.TrimSpace(r.substitute(b.text()))
	if strings.Contains(script, "\n") {
		t.Fatalf("README.md:%d: a server block must be one command, got:\n%s", b.line, script)
	}
	var log bytes.Buffer
	cmd := exec.Command("bash", "-c", "exec "+script)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "AGGREGATOR_ADDR=127.0.0.1:"+r.port)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The server runs until the whole test ends: later blocks talk to it.
	r.top.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:" + r.port + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("README.md:%d: the server did not get ready; its log:\n%s", b.line, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(log.String(), "msg=configuration") {
		t.Errorf("the server did not log its configuration at startup:\n%s", log.String())
	}
}

// runBlock runs one block with bash and returns its stdout.
func (r *run) runBlock(t *testing.T, b block) string {
	script := r.substitute(b.text())
	if b.marker != "docker" {
		script = strings.ReplaceAll(script, "localhost:8080", "localhost:"+r.port)
	} else {
		script = strings.ReplaceAll(script, "localhost:8080", "localhost:"+r.dockerP)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", script)
	cmd.Dir = r.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("README.md:%d: %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", b.line, err, script, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// answers reads the JSON answers in a block's output, one per line.
func answers(out string) []string {
	var got []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a struct {
			Results []struct {
				Status string `json:"status"`
			} `json:"results"`
			Received         *int64 `json:"received"`
			UniqueProcessed  int64  `json:"unique_processed"`
			DuplicateDropped int64  `json:"duplicate_dropped"`
		}
		if json.Unmarshal(sc.Bytes(), &a) != nil {
			continue
		}
		switch {
		case len(a.Results) > 0:
			var s []string
			for _, r := range a.Results {
				s = append(s, r.Status)
			}
			got = append(got, strings.Join(s, "+"))
		case a.Received != nil:
			got = append(got, fmt.Sprintf("stats %d/%d/%d", *a.Received, a.UniqueProcessed, a.DuplicateDropped))
		}
	}
	return got
}

// needDocker builds the image the docker blocks run, once. Without a Docker
// engine it skips the test, or fails it when CI is set.
func (r *run) needDocker(t *testing.T) bool {
	if r.image != "" {
		return true
	}
	if err := exec.Command("docker", "version").Run(); err != nil {
		if inCI() {
			t.Fatalf("CI is set and the README's Docker demo needs a Docker engine: %v", err)
		}
		t.Skipf("no Docker engine (%v); set CI=true to make this a failure", err)
	}
	// A build context of its own: the end-to-end suite may be writing the
	// repository's dist/ at the same time.
	ctxDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(ctxDir, "dist"), 0o755); err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), df, 0o644)
	os.WriteFile(filepath.Join(ctxDir, "dist", ".keep"), nil, 0o644)
	goBuild(t, filepath.Join(ctxDir, "dist", "aggregator"), "./cmd/aggregator")
	image := "uts-aggregator-readme:" + r.id
	build := exec.Command("docker", "build", "--target", "prebuilt", "-t", image, ".")
	build.Dir = ctxDir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	r.image = image
	r.top.Cleanup(func() {
		exec.Command("docker", "rm", "-f", "readme-"+r.id).Run()
		exec.Command("docker", "volume", "rm", "-f", "readme-demo-"+r.id).Run()
		exec.Command("docker", "rmi", "-f", image).Run()
	})
	return true
}

func goBuild(t *testing.T, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func inCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "false" && v != "0" && v != "no"
}
