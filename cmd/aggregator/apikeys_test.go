//go:build unix

package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func getStatus(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Keys rotate on SIGHUP without a restart.
func TestAPIKeysRotateOnSIGHUP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(path, []byte("dash read old-key-0123456789abcdef\n"), 0o600)
	cfg := testConfig(t, "memory")
	cfg.APIKeysFile = path
	base, _ := startServer(t, cfg)
	if a, b := getStatus(t, base+"/stats", ""), getStatus(t, base+"/stats", "old-key-0123456789abcdef"); a != 401 || b != 200 {
		t.Fatalf("without key %d, with key %d; want 401, 200", a, b)
	}
	if code := getStatus(t, base+"/healthz", ""); code != 200 {
		t.Fatalf("/healthz without a key: %d", code)
	}
	os.WriteFile(path, []byte("dash read new-key-0123456789abcdef\n"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for getStatus(t, base+"/stats", "new-key-0123456789abcdef") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the new key is not accepted 5 s after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := getStatus(t, base+"/stats", "old-key-0123456789abcdef"); code != 401 {
		t.Fatalf("the rotated-out key answers %d, want 401", code)
	}
}

func TestBadAPIKeysFileStopsStartup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(path, []byte("dash read short\n"), 0o600)
	cfg := testConfig(t, "memory")
	cfg.APIKeysFile, cfg.Addr = path, "127.0.0.1:0"
	err := serve(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("serve = %v, want an error naming the line", err)
	}
}

// syncBuffer is a log destination the server writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWarnsWhenOpenToTheNetwork(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(keys, []byte("a read a-0123456789abcdef\n"), 0o600)
	for _, tt := range []struct {
		name, addr, keys string
		warn             bool
	}{
		{"AllInterfacesNoKeys", ":0", "", true},
		{"LoopbackNoKeys", "127.0.0.1:0", "", false},
		{"AllInterfacesWithKeys", ":0", keys, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "memory")
			cfg.Addr, cfg.APIKeysFile = tt.addr, tt.keys
			var logs syncBuffer
			ctx, cancel := context.WithCancel(context.Background())
			ready := make(chan string, 1)
			done := make(chan error, 1)
			go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), ready) }()
			<-ready
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(logs.String(), "no API keys"); got != map[bool]int{true: 1, false: 0}[tt.warn] {
				t.Errorf("%d warnings, want warn=%v:\n%s", got, tt.warn, logs.String())
			}
		})
	}
}
