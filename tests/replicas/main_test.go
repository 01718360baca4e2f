// Package replicas_test runs several server processes against one
// PostgreSQL database and checks that together they behave as one
// idempotent store. It builds the server binary, starts a throwaway
// PostgreSQL cluster (see adapters/postgres/pgtest) and talks HTTP only.
//
//	go test -count=1 -v ./tests/replicas/
//
// Without PostgreSQL server binaries the tests skip, unless CI is set.
package replicas_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/postgres/pgtest"
)

// serverBin is the server binary TestMain built.
var serverBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "replicas-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBin = filepath.Join(dir, "server")
	build := exec.Command("go", "build", "-o", serverBin, "./cmd/aggregator")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build server: %v\n%s", err, out)
		return 1
	}
	return pgtest.Run(m)
}

// server is one running server process.
type server struct {
	URL string
	cmd *exec.Cmd
	out *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs the binary with the given AGGREGATOR_* settings on a free
// loopback port, waits until /readyz answers and stops it when tb ends.
func startServer(tb testing.TB, env ...string) *server {
	tb.Helper()
	cmd := exec.Command(serverBin)
	cmd.Env = append(os.Environ(), append([]string{
		"AGGREGATOR_ADDR=127.0.0.1:0",
		"AGGREGATOR_LOG_DUPLICATES=off",
	}, env...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	s := &server{cmd: cmd, out: &syncBuffer{}}
	cmd.Stderr = s.out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			s.out.Write([]byte(line + "\n"))
			if !sent && strings.Contains(line, "msg=listening") {
				for _, f := range strings.Fields(line) {
					if a, ok := strings.CutPrefix(f, "addr="); ok {
						addr <- a
						sent = true
					}
				}
			}
		}
		close(addr)
	}()
	tb.Cleanup(func() { s.stop(tb) })
	select {
	case a, ok := <-addr:
		if !ok {
			cmd.Wait()
			tb.Fatalf("server exited before listening:\n%s", s.out)
		}
		s.URL = "http://" + a
	case <-time.After(60 * time.Second):
		tb.Fatalf("server did not start:\n%s", s.out)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("server not ready: %v\n%s", err, s.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(tb testing.TB) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			tb.Errorf("server exit: %v\n%s", err, s.out)
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
		tb.Errorf("server did not stop on SIGTERM\n%s", s.out)
	}
}

// event is an event as published and as listed.
type event struct {
	Seq        int64           `json:"seq,omitempty"`
	Topic      string          `json:"topic"`
	EventID    string          `json:"event_id"`
	Source     string          `json:"source"`
	Payload    json.RawMessage `json:"payload"`
	Timestamp  *string         `json:"timestamp,omitempty"`
	ReceivedAt string          `json:"received_at,omitempty"`
}

type result struct {
	Topic   string `json:"topic"`
	EventID string `json:"event_id"`
	Status  string `json:"status"`
	Seq     int64  `json:"seq"`
}

type publishResult struct {
	Received   int      `json:"received"`
	Accepted   int      `json:"accepted"`
	Duplicates int      `json:"duplicates"`
	Conflicts  int      `json:"conflicts"`
	Results    []result `json:"results"`
}

type counters struct {
	Received           int64 `json:"received"`
	UniqueProcessed    int64 `json:"unique_processed"`
	DuplicateDropped   int64 `json:"duplicate_dropped"`
	DuplicateConflicts int64 `json:"duplicate_conflicts"`
}

type stats struct {
	counters
	Lifetime     counters            `json:"lifetime"`
	StoredEvents int64               `json:"stored_events"`
	PerTopic     map[string]counters `json:"per_topic"`
}

var client = &http.Client{Timeout: 2 * time.Minute}

// publish posts a batch and returns the 202 body.
func publish(ctx context.Context, url string, events []event) (publishResult, error) {
	body, err := json.Marshal(events)
	if err != nil {
		return publishResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/publish", bytes.NewReader(body))
	if err != nil {
		return publishResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return publishResult{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return publishResult{}, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return publishResult{}, fmt.Errorf("publish: %s: %s", resp.Status, raw)
	}
	var res publishResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return publishResult{}, err
	}
	if len(res.Results) != len(events) {
		return res, fmt.Errorf("publish: %d results for %d events", len(res.Results), len(events))
	}
	return res, nil
}

func getJSON(url string, into any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, raw)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// listPage returns the events after the cursor.
func listPage(url string, after int64, limit int) ([]event, error) {
	var page []event
	err := getJSON(fmt.Sprintf("%s/events?after=%d&limit=%d", url, after, limit), &page)
	return page, err
}

// listAll pages through GET /events.
func listAll(tb testing.TB, url string) []event {
	tb.Helper()
	var all []event
	var after int64
	for {
		page, err := listPage(url, after, 1000)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 1000 {
			return all
		}
		after = page[len(page)-1].Seq
	}
}

func getStats(tb testing.TB, url string) stats {
	tb.Helper()
	var s stats
	if err := getJSON(url+"/stats", &s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// newEvents returns n events over a few topics; the payload depends on salt.
func newEvents(prefix string, n int, salt int) []event {
	out := make([]event, n)
	for i := range out {
		out[i] = event{
			Topic:   fmt.Sprintf("topic-%d", i%7),
			EventID: fmt.Sprintf("%s-%06d", prefix, i),
			Source:  "replicas-test",
			Payload: json.RawMessage(fmt.Sprintf(`{"n":%d,"salt":%d,"note":"0123456789abcdef0123456789abcdef"}`, i, salt)),
		}
	}
	return out
}
