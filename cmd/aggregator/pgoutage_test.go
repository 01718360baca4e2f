//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/postgres/pgtest"
)

// TestPostgresOutage stops the PostgreSQL server under steady publishing and
// starts it again: while it is gone, publishes answer 503 with Retry-After
// (never 500) and /readyz is not ready; afterwards the server recovers by
// itself, and every event is stored exactly once.
func TestPostgresOutage(t *testing.T) {
	ctx := context.Background()
	cluster, err := pgtest.StartLocal(ctx)
	if errors.Is(err, pgtest.ErrNoServer) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	dsn, _, err := cluster.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "memory")
	cfg.Store, cfg.PostgresDSN, cfg.PostgresMaxConns, cfg.PostgresConnMaxAge = "postgres", dsn, 4, time.Hour
	cfg.MaxWait = 3 * time.Second
	base, _ := startServer(t, cfg)

	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		noRetry  int
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		sent     [4]int
	)
	for p := range sent {
		wg.Go(func() {
			for batch := 0; ; batch++ {
				select {
				case <-stop:
					return
				default:
				}
				var b strings.Builder
				b.WriteString("[")
				for i := range 5 {
					if i > 0 {
						b.WriteString(",")
					}
					fmt.Fprintf(&b, `{"topic":"pg","event_id":"p%d-%d-%d","source":"s","payload":{"i":%d}}`, p, batch, i, i)
				}
				b.WriteString("]")
				// The same batch until it is acknowledged: a retry is safe.
				deadline := time.Now().Add(60 * time.Second)
				for {
					resp, err := http.Post(base+"/publish", "application/json", strings.NewReader(b.String()))
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					statuses[resp.StatusCode]++
					if resp.StatusCode != http.StatusAccepted && resp.Header.Get("Retry-After") == "" {
						noRetry++
					}
					mu.Unlock()
					if resp.StatusCode == http.StatusAccepted {
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("publisher %d: batch %d not acknowledged 60 s after the server came back", p, batch)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				sent[p] = batch + 1
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	if err := cluster.Halt(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	ready := get(t, base+"/readyz")
	if err := cluster.Resume(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	if ready.code != http.StatusServiceUnavailable || !strings.Contains(ready.body, "unavailable") {
		t.Errorf("/readyz while PostgreSQL was down: %d %s; want 503 naming it", ready.code, ready.body)
	}
	t.Logf("answers: %v", statuses)
	for code, n := range statuses {
		if code != http.StatusAccepted && code != http.StatusServiceUnavailable {
			t.Errorf("%d answers %d, want only 202 and 503", n, code)
		}
	}
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Error("no 503 while PostgreSQL was down")
	}
	if noRetry > 0 {
		t.Errorf("%d refusals without Retry-After", noRetry)
	}

	// Every acknowledged event is stored exactly once.
	seen := map[string]int{}
	for after := 0; ; {
		r := get(t, fmt.Sprintf("%s/events?topic=pg&limit=1000&after=%d", base, after))
		var page []struct {
			Seq     int    `json:"seq"`
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal([]byte(r.body), &page); err != nil {
			t.Fatalf("%d %s", r.code, r.body)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			seen[e.EventID]++
			after = e.Seq
		}
	}
	total := 0
	for p, n := range sent {
		for batch := range n {
			for i := range 5 {
				id := fmt.Sprintf("p%d-%d-%d", p, batch, i)
				if seen[id] != 1 {
					t.Fatalf("acknowledged event %s stored %d times", id, seen[id])
				}
				total++
			}
		}
	}
	if len(seen) < total {
		t.Fatalf("%d events stored, %d acknowledged", len(seen), total)
	}
	var st statsBody
	getJSON(t, base+"/stats", &st)
	if int(st.Lifetime.UniqueProcessed) != len(seen) {
		t.Fatalf("lifetime unique_processed %d, %d events stored", st.Lifetime.UniqueProcessed, len(seen))
	}
}
