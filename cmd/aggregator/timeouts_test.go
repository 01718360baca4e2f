package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// dial opens a raw connection to the server at base (http://host:port).
func dial(t *testing.T, base string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// trickle writes lines one every interval until the server closes the
// connection or stop is closed; it reports when the server closed it.
func trickle(conn net.Conn, first string, interval time.Duration, stop <-chan struct{}) <-chan time.Duration {
	closed := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		io.WriteString(conn, first)
		for i := 0; ; i++ {
			select {
			case <-stop:
				closed <- -1
				return
			case <-time.After(interval):
			}
			if _, err := fmt.Fprintf(conn, "X-Slow-%d: x\r\n", i); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	go func() {
		// The server closes the connection, perhaps after a 408.
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, conn)
	}()
	return closed
}

// Clients trickling headers are cut off after the header timeout and do not
// hold the server: others are served meanwhile.
func TestSlowHeadersAreCutOff(t *testing.T) {
	cfg := testConfig(t, "memory")
	cfg.ReadHeaderTimeout = 300 * time.Millisecond
	base, _ := startServer(t, cfg)
	stop := make(chan struct{})
	defer close(stop)
	var slow []<-chan time.Duration
	for range 50 {
		slow = append(slow, trickle(dial(t, base), "GET /healthz HTTP/1.1\r\nHost: x\r\n", 50*time.Millisecond, stop))
	}
	start := time.Now()
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a normal request while 50 clients trickle headers: %v %v", resp, err)
	}
	resp.Body.Close()
	if took := time.Since(start); took > time.Second {
		t.Errorf("a normal request took %v while others trickled", took)
	}
	for i, c := range slow {
		select {
		case took := <-c:
			if took > 3*time.Second {
				t.Errorf("slow client %d cut off after %v, want about 300ms", i, took)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("slow client %d still connected after 5 s with a 300ms header timeout", i)
		}
	}
}

// A body sent a byte at a time is cut off at the read timeout and nothing
// of it is stored.
func TestSlowBodyIsCutOff(t *testing.T) {
	cfg := testConfig(t, "memory")
	cfg.ReadHeaderTimeout, cfg.ReadTimeout = 200*time.Millisecond, 500*time.Millisecond
	base, _ := startServer(t, cfg)
	conn := dial(t, base)
	body := `{"topic":"slow","event_id":"1","source":"s","payload":{}}`
	fmt.Fprintf(conn, "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	start := time.Now()
	cut := make(chan time.Duration, 1)
	go func() {
		for i := range len(body) - 1 { // never the last byte
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	go func() {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, conn)
		cut <- time.Since(start)
	}()
	if took := <-cut; took > 3*time.Second {
		t.Fatalf("slow body held the connection %v, want about 500ms", took)
	}
	var s statsBody
	getJSON(t, base+"/stats", &s)
	if s.Received != 0 {
		t.Fatalf("stats after a cut-off body: %+v, want nothing stored", s)
	}
}

func TestHugeHeadersAnswer431(t *testing.T) {
	cfg := testConfig(t, "memory")
	cfg.MaxHeaderBytes = 4096
	base, _ := startServer(t, cfg)
	conn := dial(t, base)
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 20000))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}

// An event stream outlives the read and write timeouts: they bound
// requests, not a stream a client keeps reading (net/http lifts the read
// deadline once the request is read; the stream sets a write deadline per
// message).
func TestStreamOutlivesTheTimeouts(t *testing.T) {
	cfg := testConfig(t, "memory")
	cfg.ReadHeaderTimeout, cfg.ReadTimeout, cfg.MaxWait, cfg.WriteTimeout = 100*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond, 300*time.Millisecond
	base, _ := startServer(t, cfg)
	resp, err := http.Get(base + "/events/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(time.Second)
	publish(t, base, `{"topic":"late","event_id":"1","source":"s","payload":{}}`)
	got := make(chan string, 1)
	go func() {
		var all strings.Builder
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			all.WriteString(line)
			if strings.Contains(line, `"topic":"late"`) || err != nil {
				got <- all.String()
				return
			}
		}
	}()
	select {
	case s := <-got:
		if !strings.Contains(s, `"topic":"late"`) {
			t.Fatalf("stream ended before the event: %q", s)

		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event on the stream")
	}
}

// With the access log on (debug level), event streams still flush each
// message as it comes: the log's writer passes Flush and deadlines through.
func TestStreamWithAccessLog(t *testing.T) {
	cfg := testConfig(t, "memory")
	cfg.Addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() { done <- serve(ctx, cfg, logger, ready) }()
	base := "http://" + <-ready
	defer func() { cancel(); <-done }()
	resp, err := http.Get(base + "/events/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	publish(t, base, `{"topic":"logged","event_id":"1","source":"s","payload":{}}`)
	got := make(chan bool, 1)
	go func() {
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				got <- false
				return
			}
			if strings.Contains(line, `"topic":"logged"`) {
				got <- true
				return
			}
		}
	}()
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("stream ended before the event")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the event did not reach the stream: not flushed?")
	}
}
