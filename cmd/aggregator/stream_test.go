package main

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestShutdownEndsEventStreams checks that SIGTERM does not wait out the
// shutdown timeout for streams, which never go idle, and that each stream
// gets a last message saying why it ends.
func TestShutdownEndsEventStreams(t *testing.T) {
	base, stop := startServer(t, testConfig(t, "memory"))
	resp, err := http.Get(base + "/events/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if line, _ := r.ReadString('\n'); line != ": stream open\n" {
		t.Fatalf("first line %q", line)
	}
	start := time.Now()
	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	var rest strings.Builder
	for {
		line, err := r.ReadString('\n')
		rest.WriteString(line)
		if err != nil {
			break
		}
	}
	if !strings.Contains(rest.String(), "event: end\ndata: {\"reason\":\"shutdown\"") {
		t.Fatalf("stream ended with %q, want an end message", rest.String())
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("server still stopping after 5 s")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("shutdown took %v with an open stream", took)
	}
}
