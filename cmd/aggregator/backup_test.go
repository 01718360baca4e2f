package main

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackupCommandWhileServing backs up a live server's store while a
// publisher keeps posting, then serves the copy: the seed demo event and
// every batch acknowledged before the backup are duplicates there.
func TestBackupCommandWhileServing(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	base, stop := startServer(t, cfg)
	publish(t, base, demoEvent)

	var (
		stopLoad atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		acked    []string
	)
	wg.Go(func() {
		for n := 0; !stopLoad.Load(); n++ {
			var b strings.Builder
			b.WriteString("[")
			for i := range 20 {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"topic":"load","event_id":"e-%d-%d","source":"t","payload":{"n":%d}}`, n, i, i)
			}
			b.WriteString("]")
			resp, err := http.Post(base+"/publish", "application/json", strings.NewReader(b.String()))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				mu.Lock()
				acked = append(acked, b.String())
				mu.Unlock()
			}
		}
	})
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 20 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	dest := filepath.Join(t.TempDir(), "copy")
	code, _, errOut := runCLI(t, map[string]string{"AGGREGATOR_DATA_DIR": cfg.DataDir}, "backup", dest)
	stopLoad.Store(true)
	wg.Wait()
	if code != 0 {
		t.Fatalf("backup exited %d: %s", code, errOut)
	}
	stop()

	copyCfg := testConfig(t, "sqlite")
	copyCfg.DataDir = dest
	copyBase, _ := startServer(t, copyCfg)
	for _, body := range append([]string{demoEvent}, before...) {
		resp, err := http.Post(copyBase+"/publish", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("publish on the copy: %s", resp.Status)
		}
	}
	var st statsBody
	getJSON(t, copyBase+"/stats", &st)
	if want := int64(1 + 20*len(before)); st.UniqueProcessed != 0 || st.DuplicateDropped != want {
		t.Fatalf("on the copy: %+v, want 0 new and %d duplicates", st.counters, want)
	}
}

func TestBackupCommandUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		vars map[string]string
		code int
		want string
	}{
		{[]string{"backup"}, nil, exitUsage, "missing DEST"},
		{[]string{"backup", "-data-dir"}, nil, exitUsage, "missing DEST"},
		{[]string{"backup", "-h"}, nil, exitOK, "pg_dump"},
		{[]string{"backup", "/tmp/x"}, map[string]string{"AGGREGATOR_STORE": "postgres"}, exitError, "pg_dump"},
	} {
		code, out, errOut := runCLI(t, c.vars, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%v: exit %d, output %q; want exit %d mentioning %q", c.args, code, out+errOut, c.code, c.want)
		}
	}
}
