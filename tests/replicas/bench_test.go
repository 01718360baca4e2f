package replicas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/postgres/pgtest"
)

// BenchmarkService measures the ingest rate through the real service:
// POST /publish with batches of 1000 unique events from concurrent clients,
// against one replica and against three replicas on one database. It runs each case
// once, whatever b.N is: use -benchtime 1x; see scripts/bench-postgres.sh.
func BenchmarkService(b *testing.B) {
	n := 50000
	if v := os.Getenv("AGGREGATOR_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("AGGREGATOR_BENCH_EVENTS=%q: want a number of at least 1000", v)
		}
		n = n / 1000 * 1000
	}
	for _, c := range []struct {
		name              string
		replicas, clients int
	}{
		{"service_memory_1replica_4clients_batch1000", 0, 4},
		{"service_1replica_4clients_batch1000", 1, 4},
		{"service_3replicas_6clients_batch1000", 3, 6},
	} {
		b.Run(c.name, func(b *testing.B) {
			var servers []*server
			dsn := pgtest.NewDatabase(b)
			switch c.replicas {
			case 0: // the HTTP and app layers alone: what the machine allows without a database
				servers = []*server{startServer(b, "AGGREGATOR_STORE=memory")}
			case 1:
				servers = []*server{startServer(b, "AGGREGATOR_STORE=postgres", "AGGREGATOR_POSTGRES_DSN="+dsn)}
			default:
				servers = startReplicas(b, dsn, c.replicas)
			}
			bodies := benchBodies(b, c.name, n)
			d := postAll(b, servers, c.clients, bodies)
			fmt.Printf("BENCH %s events=%d seconds=%.3f rate=%.0f\n", c.name, n, d.Seconds(), float64(n)/d.Seconds())
			var accepted int64
			for _, s := range servers {
				accepted += getStats(b, s.URL).UniqueProcessed
			}
			if accepted != int64(n) {
				b.Fatalf("accepted %d of %d events", accepted, n)
			}
		})
	}
}

// benchBodies encodes the request bodies before the clock starts.
func benchBodies(b testing.TB, prefix string, n int) [][]byte {
	const payload = `{"amount":50000,"user_id":"u_001","note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`
	var bodies [][]byte
	for start := 0; start < n; start += 1000 {
		batch := make([]event, 1000)
		for i := range batch {
			batch[i] = event{Topic: fmt.Sprintf("topic-%d", (start+i)%10), EventID: fmt.Sprintf("%s-%09d", prefix, start+i),
				Source: "bench", Payload: json.RawMessage(payload)}
		}
		body, err := json.Marshal(batch)
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	return bodies
}

// postAll sends the bodies from clients goroutines, spread over the servers,
// and returns the time until the last 202.
func postAll(b testing.TB, servers []*server, clients int, bodies [][]byte) time.Duration {
	next := make(chan []byte, len(bodies))
	for _, b := range bodies {
		next <- b
	}
	close(next)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		url := servers[c%len(servers)].URL + "/publish"
		wg.Go(func() {
			for body := range next {
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body) // lets the client reuse the connection
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("publish: %s", resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
