// Package browser drives the pages of the real server binary in headless
// Chromium: /docs without network access, and the dashboard following a
// scripted publish live. It talks to the server over HTTP only.
//
// It needs Chromium (Debian package chromium); without it the tests skip, or
// fail when CI is set. Screenshots go to AGGREGATOR_BROWSER_ARTIFACTS
// (default: artifacts/ here); -update-screenshots also rewrites the ones in
// docs/ that the README shows.
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "also write the dashboard screenshots to docs/ for the README")

// server is the real binary, listening on a loopback port.
type server struct {
	url  string
	host string // host:port
	key  string // sent with every request when set
}

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "aggregator")
	build := exec.Command("go", "build", "-o", bin, "./cmd/aggregator")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, append([]string{"-addr", addr, "-data-dir", t.TempDir(), "-log-duplicates", "off"}, args...)...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	s := &server{url: "http://" + addr, host: addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy after 30 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// publish sends one event and returns its seq.
func (s *server) publish(t *testing.T, topic, id string) int64 {
	t.Helper()
	body := fmt.Sprintf(`{"topic":%q,"event_id":%q,"source":"browser_test","payload":{"amount":50000}}`, topic, id)
	resp, err := s.post(body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Seq int64 `json:"seq"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted || len(out.Results) != 1 {
		t.Fatalf("publish: %d %v", resp.StatusCode, err)
	}
	return out.Results[0].Seq
}

func (s *server) post(body string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, s.url+"/publish", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.key != "" {
		req.Header.Set("Authorization", "Bearer "+s.key)
	}
	return http.DefaultClient.Do(req)
}

// publishBatch sends n events in one request, some of them repeats.
func (s *server) publishBatch(t *testing.T, topic, prefix string, n int) {
	t.Helper()
	var events []string
	for i := range n {
		events = append(events, fmt.Sprintf(`{"topic":%q,"event_id":"%s-%d","source":"browser_test","payload":{"i":%d}}`, topic, prefix, i*4/5, i*4/5))
	}
	resp, err := s.post("[" + strings.Join(events, ",") + "]")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("publish: %s", resp.Status)
	}
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed (apt-get install chromium); the browser tests must run in CI")
	}
	t.Skip("Chromium is not installed (apt-get install chromium)")
	return ""
}

// browser is a headless Chromium tab whose every request is watched: any
// request to another host than the server fails, as it would offline, and
// is recorded.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	foreign  []string // requests to another host
	problems []string // CSP violations, script exceptions
}

func newBrowser(t *testing.T, s *server) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.WindowSize(1280, 900),
		chromedp.DisableGPU,
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{ctx: ctx}

	paused := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			u, perr := url.Parse(ev.Request.URL)
			if perr == nil && (u.Scheme == "data" || u.Scheme == "blob" || u.Host == s.host) {
				chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			b.note(&b.foreign, ev.Request.URL)
			chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{
				RequestID: ev.RequestID, ErrorReason: network.ErrorReasonInternetDisconnected})
		}
	}()
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			switch {
			case m.Type == chromedp.ConsoleException:
				b.note(&b.problems, "exception: "+m.Text)
			case strings.Contains(m.Text, "Content Security Policy"):
				b.note(&b.problems, "CSP: "+m.Text)
			}
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) note(list *[]string, s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	*list = append(*list, s)
}

// check fails the test for any request to another host, CSP violation or
// script exception seen so far.
func (b *browser) check(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range b.foreign {
		t.Errorf("request to another host: %s", u)
	}
	for _, p := range b.problems {
		t.Errorf("%s", p)
	}
}

// do runs the steps with a time limit.
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func TestDocsRenderOffline(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t, s)
	b.do(t,
		chromedp.Navigate(s.url+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`.opblock`)),
	)
	ops := eval[[]string](t, b, `[...document.querySelectorAll('.opblock-summary')].map(e =>
		e.querySelector('.opblock-summary-method').textContent + ' ' +
		e.querySelector('.opblock-summary-path').textContent.replace(/\u200b/g, ''))`)
	got := strings.Join(ops, "\n")
	for _, want := range []string{"POST /publish", "GET /events", "GET /events/stream", "GET /events/{topic}/{event_id}", "GET /stats", "GET /healthz", "GET /readyz"} {
		if !strings.Contains(got+"\n", want+"\n") {
			t.Errorf("/docs does not show %s; it shows:\n%s", want, got)
		}
	}

	// "Try it out" sends a real request to this server and shows its answer.
	s.publish(t, "pembayaran", "evt_docs")
	const op = `#operations-Stats-get-event-stats`
	b.do(t,
		chromedp.Click(chromedp.CSS(op+` .opblock-summary`)),
		chromedp.Click(chromedp.CSS(op+` .try-out__btn`)),
		chromedp.Click(chromedp.CSS(op+` .execute`)),
		chromedp.WaitVisible(chromedp.CSS(op+` .live-responses-table tr.response .response-col_status`)),
	)
	status, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(op+` .live-responses-table tr.response .response-col_status`)))
	if err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(op+` .live-responses-table tr.response .response-col_description`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status, "200") || !strings.Contains(body, `"unique_processed"`) {
		t.Errorf("try it out on /stats: status %q, body %q", status, body)
	}
	b.check(t)
}

func TestDashboardFollowsPublishes(t *testing.T) {
	s := startServer(t)
	// The scripted publish: the seed demo's event twice, and two more topics.
	s.publish(t, "pembayaran", "evt_abc_123")
	s.publish(t, "pembayaran", "evt_abc_123")
	s.publish(t, "orders", "ord-1")
	s.publish(t, "shipping", "shp-1")

	b := newBrowser(t, s)
	b.do(t,
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"][data-live="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#events tr[data-seq="3"]`)),
	)
	counters := eval[map[string]string](t, b, `Object.fromEntries([...document.querySelectorAll('#counters td[data-c]')].map(td => [td.dataset.c + '/' + td.dataset.s, td.textContent]))`)
	for key, want := range map[string]string{
		"received/now": "4", "unique_processed/now": "3", "duplicate_dropped/now": "1", "duplicate_conflicts/now": "0",
		"received/life": "4", "unique_processed/life": "3", "duplicate_dropped/life": "1",
	} {
		if counters[key] != want {
			t.Errorf("counter %s = %q, want %s (all: %v)", key, counters[key], want, counters)
		}
	}
	rows := eval[[][]string](t, b, `[...document.querySelectorAll('#events tbody tr')].map(tr => [...tr.cells].map(td => td.textContent))`)
	if len(rows) != 3 || rows[0][0] != "3" || rows[0][1] != "shipping" || rows[2][1] != "pembayaran" || rows[2][2] != "evt_abc_123" {
		t.Errorf("newest events = %v, want seqs 3, 2, 1 with their topics", rows)
	}
	topics := eval[[]string](t, b, `[...document.querySelectorAll('#topics tbody tr')].map(tr => tr.cells[0].textContent + ' ' + tr.cells[1].textContent)`)
	if strings.Join(topics, ",") != "orders 1,pembayaran 2,shipping 1" {
		t.Errorf("topic table = %v", topics)
	}

	// An event published while the page is open appears within 2 s.
	start := time.Now()
	seq := s.publish(t, "pembayaran", "evt_live")
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#events tr[data-seq="%d"]`, seq)))); err != nil {
		t.Fatalf("event seq %d not shown within 2 s: %v", seq, err)
	}
	t.Logf("live event shown %v after its publish returned", time.Since(start).Round(time.Millisecond))

	// The topic filter keeps only that topic's events.
	eval[chromedp.Void](t, b, `(() => { const f = document.getElementById('filter'); f.value = 'pembayaran'; f.dispatchEvent(new Event('change')); return {}; })()`)
	filtered := eval[[]string](t, b, `[...document.querySelectorAll('#events tbody tr')].map(tr => tr.cells[1].textContent + '/' + tr.cells[2].textContent)`)
	if strings.Join(filtered, ",") != "pembayaran/evt_live,pembayaran/evt_abc_123" {
		t.Errorf("filtered by pembayaran: %v", filtered)
	}
	eval[chromedp.Void](t, b, `(() => { const f = document.getElementById('filter'); f.value = ''; f.dispatchEvent(new Event('change')); return {}; })()`)

	// Let the rate chart gather some samples, then take the screenshots.
	for i := range 20 {
		s.publishBatch(t, "orders", fmt.Sprintf("batch-%d", i), 20+i*i)
		time.Sleep(500 * time.Millisecond)
	}
	for _, shot := range []struct {
		name          string
		width, height int64
	}{{"390", 390, 844}, {"desktop", 1280, 900}} {
		b.do(t, chromedp.EmulateViewport(shot.width, shot.height), chromedp.Sleep(300*time.Millisecond))
		if eval[bool](t, b, `document.documentElement.scrollWidth > document.documentElement.clientWidth`) {
			t.Errorf("at %d px the page is wider than the screen", shot.width)
		}
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		writeScreenshot(t, "dashboard-"+shot.name+".png", png)
	}
	b.check(t)
}

// TestDocsTryItWithAKey checks "Try it out" on a service with API keys: the
// page offers "Authorize", and a request sent with the key is answered.
func TestDocsTryItWithAKey(t *testing.T) {
	const reader = "read-0123456789abcdef0123456789abcdef"
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte("viewer read "+reader+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "-api-keys-file", keys)
	b := newBrowser(t, s)
	const op = `#operations-Stats-get-event-stats`
	b.do(t,
		chromedp.Navigate(s.url+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`.btn.authorize`)),
		chromedp.Click(chromedp.CSS(`.btn.authorize`)),
		chromedp.WaitVisible(chromedp.CSS(`.auth-container input`)),
		chromedp.SendKeys(chromedp.CSS(`.auth-container input`), reader),
		chromedp.Click(chromedp.CSS(`.auth-btn-wrapper .authorize`)),
		chromedp.Click(chromedp.CSS(`.auth-btn-wrapper .btn-done`)),
		chromedp.Click(chromedp.CSS(op+` .opblock-summary`)),
		chromedp.Click(chromedp.CSS(op+` .try-out__btn`)),
		chromedp.Click(chromedp.CSS(op+` .execute`)),
		chromedp.WaitVisible(chromedp.CSS(op+` .live-responses-table tr.response .response-col_status`)),
	)
	status, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(op+` .live-responses-table tr.response .response-col_status`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status, "200") {
		t.Errorf("try it out on /stats with the key: status %q, want 200", status)
	}
	b.check(t)
}

// TestDashboardAsksForAKey checks the dashboard of a service with API keys:
// it asks for a read key, refuses a wrong one, and keeps a good one in the
// tab's session storage only.
func TestDashboardAsksForAKey(t *testing.T) {
	const (
		publisher = "pub-0123456789abcdef0123456789abcdef"
		reader    = "read-0123456789abcdef0123456789abcdef"
	)
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte("loader publish "+publisher+"\nviewer read "+reader+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "-api-keys-file", keys)
	s.key = publisher
	s.publish(t, "pembayaran", "evt_abc_123")

	b := newBrowser(t, s)
	b.do(t,
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.ID("key")),
		// The publish-only key lacks the read scope.
		chromedp.SendKeys(chromedp.ID("key"), publisher),
		chromedp.Click(chromedp.CSS(`#key-form button`)),
		chromedp.WaitVisible(chromedp.ID("key")),
	)
	if reason := eval[string](t, b, `document.getElementById('key-reason').textContent`); !strings.Contains(reason, "does not have the read scope") {
		t.Errorf("after a key without the read scope the form says %q", reason)
	}
	b.do(t,
		chromedp.SendKeys(chromedp.ID("key"), reader),
		chromedp.Click(chromedp.CSS(`#key-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"][data-live="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#events tr[data-seq="1"]`)),
	)
	if got := eval[string](t, b, `document.querySelector('#counters td[data-c="unique_processed"][data-s="life"]').textContent`); got != "1" {
		t.Errorf("unique_processed with the read key: %q", got)
	}
	if stored := eval[string](t, b, `sessionStorage.getItem('uts-aggregator.read-key') + '|' + localStorage.length`); stored != reader+"|0" {
		t.Errorf("storage: %q, want the read key in session storage only", stored)
	}
	seq := s.publish(t, "pembayaran", "evt_live")
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#events tr[data-seq="%d"]`, seq)))); err != nil {
		t.Fatalf("with a key, event seq %d not shown within 2 s: %v", seq, err)
	}
	b.check(t)
}

// TestForeignRequestsAreCaught checks the watch the other tests rely on: a
// request to another host fails and is reported.
func TestForeignRequestsAreCaught(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t, s)
	b.do(t, chromedp.Navigate("about:blank"))
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch('http://192.0.2.1/x').then(() => 'answered', () => 'failed')`, chromedp.EvalAwaitPromise))
	if err != nil || v != "failed" {
		t.Fatalf("a request to another host: %q, %v; want it to fail", v, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.foreign) != 1 || b.foreign[0] != "http://192.0.2.1/x" {
		t.Fatalf("recorded %v, want the one request to another host", b.foreign)
	}
}

func writeScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	dir := os.Getenv("AGGREGATOR_BROWSER_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	dirs := []string{dir}
	if *updateScreenshots {
		dirs = append(dirs, "../../docs")
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", p)
	}
}
