//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, or skips
// the test when this process may not mount (it needs root).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	os.MkdirAll(dir, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

type answer struct {
	code       int
	retryAfter string
	body       string
}

func postBatch(t *testing.T, base string, from, n, payloadBytes int) answer {
	t.Helper()
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"topic":"disk","event_id":"%d","source":"s","payload":{"pad":"%s"}}`, from+i, strings.Repeat("x", payloadBytes))
	}
	b.WriteString("]")
	resp, err := http.Post(base+"/publish", "application/json", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), string(body)}
}

func get(t *testing.T, url string) answer {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), string(body)}
}

// fill writes a file until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Sync()
}

// TestDiskFullWhileRunning fills the data directory's disk while the server
// runs on it: publishes answer 507 with the cause and a Retry-After, reads
// keep working, /readyz says why it is not ready, and publishing resumes by
// itself once space is back. Every event ever acknowledged is stored, once.
// (A disk turned read-only cannot be simulated while the server holds its
// files open; adapters/sqlite tests that error's mapping.)
func TestDiskFullWhileRunning(t *testing.T) {
	mnt := mountTmpfs(t, "8m")
	cfg := testConfig(t, "sqlite")
	cfg.DataDir = filepath.Join(mnt, "data")
	base, _ := startServer(t, cfg)

	acked := 0 // events 0..acked-1 were answered 202
	publishOK := func() {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			a := postBatch(t, base, acked, 20, 4096)
			if a.code == http.StatusAccepted {
				acked += 20
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("publishing did not resume: %d %s", a.code, a.body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	wantFault := func(cause string) {
		t.Helper()
		var a answer
		for i := 0; i < 50; i++ { // until the WAL's free space is used up
			if a = postBatch(t, base, acked, 20, 16<<10); a.code != http.StatusAccepted {
				break
			}
			acked += 20
		}
		if a.code != http.StatusInsufficientStorage || a.retryAfter == "" || !strings.Contains(a.body, cause) {
			t.Fatalf("publish on a faulty disk: %d Retry-After %q %s; want 507 naming %q with Retry-After", a.code, a.retryAfter, a.body, cause)
		}
		if strings.Contains(a.body, "sqlite") || strings.Contains(a.body, mnt) {
			t.Errorf("the answer shows internals: %s", a.body)
		}
		if r := get(t, base+"/readyz"); r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, cause) {
			t.Errorf("/readyz on a faulty disk: %d %s; want 503 naming %q", r.code, r.body, cause)
		}
		if r := get(t, base+"/stats"); r.code != http.StatusOK {
			t.Errorf("/stats on a faulty disk: %d %s", r.code, r.body)
		}
		if r := get(t, base+"/events?limit=5"); r.code != http.StatusOK {
			t.Errorf("/events on a faulty disk: %d %s", r.code, r.body)
		}
	}

	publishOK()
	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	wantFault("disk is full")
	os.Remove(filler)
	publishOK()

	if r := get(t, base+"/readyz"); r.code != http.StatusOK {
		t.Errorf("/readyz after recovery: %d %s", r.code, r.body)
	}

	// Every acknowledged event is stored, once.
	var st statsBody
	getJSON(t, base+"/stats", &st)
	seen := map[string]int{}
	for after := 0; ; {
		r := get(t, fmt.Sprintf("%s/events?topic=disk&limit=1000&after=%d", base, after))
		var page []struct {
			Seq     int    `json:"seq"`
			EventID string `json:"event_id"`
		}
		json.Unmarshal([]byte(r.body), &page)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			seen[e.EventID]++
			after = e.Seq
		}
	}
	for i := range acked {
		if seen[fmt.Sprint(i)] != 1 {
			t.Fatalf("acknowledged event %d stored %d times", i, seen[fmt.Sprint(i)])
		}
	}
	if int(st.StoredEvents) < acked {
		t.Fatalf("stored %d, acknowledged %d", st.StoredEvents, acked)
	}
}
