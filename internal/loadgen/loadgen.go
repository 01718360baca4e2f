// Package loadgen drives a uts-aggregator with a reproducible publish load,
// then checks that the aggregator counted and stored exactly what was sent.
//
//	loadgen [flags]              publish -events events to -url and verify them
//	loadgen -serve-empty ADDR    serve an empty POST /publish (202, tiny body), the HTTP baseline
//
// A share of the events (-duplicates) are resends of earlier ones, byte for
// byte: some in the request of their original, some while the original's
// request is in flight, most later. Every event is regenerated from the run's
// seed and its index, so memory stays flat however many events are sent.
package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK       = 0
	exitMismatch = 1 // a request failed or the server's account differs from the run's
	exitUsage    = 2
)

// options are the command's flags.
type options struct {
	URL          string
	Events       int64
	Duplicates   float64
	Batch        int
	Concurrency  int
	Topics       int
	PayloadBytes int
	IDs          string
	JSON         bool
	Verify       bool
	Timeout      time.Duration
	TopicPrefix  string
	Seed         uint64
	ServeEmpty   string
	// progress overrides the terminal check: "bar", "lines" or "none".
	progress string
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "base URL of the aggregator")
	fs.Int64Var(&o.Events, "events", 5000, "events to send, resends included")
	fs.Float64Var(&o.Duplicates, "duplicates", 0.2, "share of the sent events that are resends of earlier ones (0 to 1)")
	fs.IntVar(&o.Batch, "batch", 1, "events per request: 1 sends a JSON object, more send a JSON array")
	fs.IntVar(&o.Concurrency, "concurrency", 32, "requests in flight")
	fs.IntVar(&o.Topics, "topics", 10, "topics the events are spread over")
	fs.IntVar(&o.PayloadBytes, "payload-bytes", 100, "approximate size of each event's payload")
	fs.StringVar(&o.IDs, "ids", "uuidv4", "event ids: uuidv4 (random) or uuidv7 (time-ordered)")
	fs.BoolVar(&o.JSON, "json", false, "print the report as one JSON object")
	fs.BoolVar(&o.Verify, "verify", true, "after sending, list every run topic through GET /events and check each unique event is there once")
	fs.DurationVar(&o.Timeout, "timeout", 60*time.Second, "timeout of each request")
	fs.StringVar(&o.TopicPrefix, "topic-prefix", "", `prefix of the run's topics, which are PREFIX-0, PREFIX-1, ... (default "loadgen-" and a random run id)`)
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the event ids, payloads and resend choices (default random); uuidv7 ids also depend on the start time")
	fs.StringVar(&o.ServeEmpty, "serve-empty", "", "instead of sending, serve an empty POST /publish on this address")
	fs.StringVar(&o.progress, "progress", "", "progress display: bar, lines or none (default bar on a terminal, else lines)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	switch {
	case o.Events < 0:
		return o, errors.New("-events must not be negative")
	case o.Duplicates < 0 || o.Duplicates > 1 || math.IsNaN(o.Duplicates):
		return o, errors.New("-duplicates must be between 0 and 1")
	case o.Batch < 1:
		return o, errors.New("-batch must be at least 1")
	case o.Concurrency < 1:
		return o, errors.New("-concurrency must be at least 1")
	case o.Topics < 1:
		return o, errors.New("-topics must be at least 1")
	case o.Timeout <= 0:
		return o, errors.New("-timeout must be positive")
	}
	if _, err := parseIDKind(o.IDs); err != nil {
		return o, err
	}
	if u, err := url.Parse(o.URL); err != nil || u.Scheme == "" || u.Host == "" {
		return o, fmt.Errorf("-url %q is not an absolute URL", o.URL)
	}
	o.URL = strings.TrimRight(o.URL, "/")
	var r [8]byte
	rand.Read(r[:])
	if o.TopicPrefix == "" {
		o.TopicPrefix = "loadgen-" + hex.EncodeToString(r[:4])
	}
	if o.Seed == 0 {
		o.Seed = binary.LittleEndian.Uint64(r[:])
	}
	return o, nil
}

// Run runs the load generator with command-line args and returns the exit
// code: 0 when everything sent was stored and counted as expected.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return exitUsage
	}
	if o.ServeEmpty != "" {
		if err := serveEmpty(ctx, o.ServeEmpty, stderr); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return exitMismatch
		}
		return exitOK
	}
	rep, err := loadTest(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return exitMismatch
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		rep.print(stdout)
	}
	if !rep.OK {
		fmt.Fprintf(stderr, "loadgen: FAILED: %d problem(s):\n", len(rep.Problems))
		for _, p := range rep.Problems {
			fmt.Fprintln(stderr, "  -", p)
		}
		return exitMismatch
	}
	return exitOK
}

// report is the outcome of a run; -json prints it as is.
type report struct {
	URL               string   `json:"url"`
	IDs               string   `json:"ids"`
	Batch             int      `json:"batch"`
	Concurrency       int      `json:"concurrency"`
	Topics            int      `json:"topics"`
	TopicPrefix       string   `json:"topic_prefix"`
	PayloadBytes      int      `json:"payload_bytes"`
	EventsSent        int64    `json:"events_sent"`
	UniqueEvents      int64    `json:"unique_events"`
	DuplicateEvents   int64    `json:"duplicate_events"`
	SameBatchResends  int64    `json:"same_batch_resends"`
	Requests          int64    `json:"requests"`
	FailedRequests    int64    `json:"failed_requests"`
	ElapsedSeconds    float64  `json:"elapsed_seconds"`
	EventsPerSecond   float64  `json:"events_per_second"`
	RequestsPerSecond float64  `json:"requests_per_second"`
	LatencyP50Ms      float64  `json:"latency_p50_ms"`
	LatencyP99Ms      float64  `json:"latency_p99_ms"`
	LatencyMaxMs      float64  `json:"latency_max_ms"`
	AnswersChecked    bool     `json:"answers_checked"`
	StatsChecked      bool     `json:"stats_checked"`
	EventsChecked     bool     `json:"events_checked"`
	VerifySeconds     float64  `json:"verify_seconds"`
	OK                bool     `json:"ok"`
	Problems          []string `json:"problems"`
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "target          %s (batch %d, concurrency %d, %d topics %s-*, %s ids, ~%d-byte payloads)\n",
		r.URL, r.Batch, r.Concurrency, r.Topics, r.TopicPrefix, r.IDs, r.PayloadBytes)
	fmt.Fprintf(w, "events sent     %d (%d unique, %d duplicates, %d of them in their original's request)\n",
		r.EventsSent, r.UniqueEvents, r.DuplicateEvents, r.SameBatchResends)
	fmt.Fprintf(w, "requests        %d (%d failed)\n", r.Requests, r.FailedRequests)
	fmt.Fprintf(w, "elapsed         %.3f s\n", r.ElapsedSeconds)
	fmt.Fprintf(w, "throughput      %.0f events/s, %.0f requests/s\n", r.EventsPerSecond, r.RequestsPerSecond)
	fmt.Fprintf(w, "latency         p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyMaxMs)
	fmt.Fprintf(w, "checks          202 answers %s, stats %s, stored events %s (%.1f s)\n",
		checked(r.AnswersChecked), checked(r.StatsChecked), checked(r.EventsChecked), r.VerifySeconds)
	if r.OK {
		fmt.Fprintln(w, "result          OK")
	} else {
		fmt.Fprintln(w, "result          FAILED")
	}
}

func checked(b bool) string {
	if b {
		return "checked"
	}
	return "skipped"
}

// splitEvents returns how many of n events are unique and how many are
// resends when a share dup of them are resends. A run with events has at
// least one unique event to resend.
func splitEvents(n int64, dup float64) (unique, dups int64) {
	dups = int64(math.Round(float64(n) * dup))
	if n > 0 && dups >= n {
		dups = n - 1
	}
	return n - dups, dups
}

func loadTest(ctx context.Context, o options, stderr io.Writer) (*report, error) {
	ids, _ := parseIDKind(o.IDs)
	unique, dups := splitEvents(o.Events, o.Duplicates)
	w := newWorkload(o.Seed, unique, ids, o.TopicPrefix, o.Topics, o.PayloadBytes, time.Now())
	p := newPlanner(w, dups, o.Batch, o.Concurrency, defaultWindow)
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        2 * o.Concurrency,
		MaxIdleConnsPerHost: 2 * o.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
	defer client.CloseIdleConnections()
	rep := &report{
		URL: o.URL, IDs: ids.String(), Batch: o.Batch, Concurrency: o.Concurrency, Topics: o.Topics,
		TopicPrefix: o.TopicPrefix, PayloadBytes: o.PayloadBytes, Problems: []string{},
	}

	before, err := fetchStats(ctx, client, o.URL, o.Timeout)
	switch {
	case errors.Is(err, errNoStats) && !o.Verify:
		before = nil
	case err != nil:
		return nil, err
	}

	s := &sender{client: client, url: o.URL, w: w, batch: o.Batch, timeout: o.Timeout}
	stopProgress := showProgress(ctx, o, s, stderr)
	began := time.Now()
	t := s.run(ctx, p, o.Concurrency)
	elapsed := time.Since(began)
	stopProgress()

	rep.EventsSent, rep.Requests, rep.FailedRequests = t.events, t.requests, t.failed
	rep.UniqueEvents, rep.DuplicateEvents, rep.SameBatchResends = unique, dups, p.sameBatch
	rep.ElapsedSeconds = elapsed.Seconds()
	if secs := elapsed.Seconds(); secs > 0 {
		rep.EventsPerSecond = float64(t.events) / secs
		rep.RequestsPerSecond = float64(t.requests) / secs
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	rep.LatencyP50Ms, rep.LatencyP99Ms, rep.LatencyMaxMs = ms(t.hist.quantile(0.50)), ms(t.hist.quantile(0.99)), ms(t.hist.max)

	rep.Problems = append(rep.Problems, t.failures...)
	switch {
	case t.failed > 0 && len(t.failures) == 0:
		rep.Problems = append(rep.Problems, fmt.Sprintf("interrupted after %d of %d events", t.events, o.Events))
	case t.failed == 0 && t.events != o.Events:
		rep.Problems = append(rep.Problems, fmt.Sprintf("sent %d events, want %d", t.events, o.Events))
	}
	if len(rep.Problems) > 0 {
		return rep, nil // what was stored is unknown; checking it would only add noise
	}

	verifyBegan := time.Now()
	if t.withCounts == t.requests && t.requests > 0 {
		rep.AnswersChecked = true
		got := publishTotals{t.received, t.accepted, t.dups, t.conflicts}
		if want := (publishTotals{o.Events, unique, dups, 0}); got != want {
			rep.Problems = append(rep.Problems, fmt.Sprintf("the 202 answers add up to %v; want %v", got, want))
		}
	} else if o.Verify {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d of %d 202 answers carry no received/accepted/duplicates counts", t.requests-t.withCounts, t.requests))
	}
	if before != nil {
		after, err := fetchStats(ctx, client, o.URL, o.Timeout)
		if err != nil {
			return nil, err
		}
		rep.StatsChecked = true
		rep.Problems = append(rep.Problems, checkStats(w, p.dupsInTopic, before, after)...)
	}
	if o.Verify {
		base, _ := url.Parse(o.URL)
		existed := map[string]bool{}
		for _, name := range w.topics {
			if c, ok := before.PerTopic[name]; ok && c.UniqueProcessed > 0 {
				existed[name] = true
			}
		}
		c := &eventChecker{client: client, base: base, w: w, timeout: o.Timeout, existed: existed}
		rep.Problems = append(rep.Problems, c.check(ctx, 4)...)
		rep.EventsChecked = true
	}
	rep.VerifySeconds = time.Since(verifyBegan).Seconds()
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

// publishTotals are the sums of the 202 answers' counters.
type publishTotals struct{ Received, Accepted, Duplicates, Conflicts int64 }

func (p publishTotals) String() string {
	return fmt.Sprintf("received=%d accepted=%d duplicates=%d conflicts=%d", p.Received, p.Accepted, p.Duplicates, p.Conflicts)
}

// showProgress reports the events answered so far: a bar on a terminal,
// else a line every few seconds. The returned function stops it.
func showProgress(ctx context.Context, o options, s *sender, stderr io.Writer) func() {
	mode := o.progress
	if mode == "" {
		mode = "lines"
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	if mode == "none" || o.Events == 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		if mode == "bar" {
			bar := progressbar.NewOptions64(o.Events,
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription("publishing"),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("events"),
				progressbar.OptionThrottle(200*time.Millisecond),
				progressbar.OptionSetPredictTime(true),
			)
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					bar.Set64(s.sent.Load())
				case <-done:
					bar.Set64(s.sent.Load())
					bar.Exit()
					fmt.Fprintln(stderr)
					return
				}
			}
		}
		began := time.Now()
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				n := s.sent.Load()
				secs := time.Since(began).Seconds()
				fmt.Fprintf(stderr, "loadgen: %d/%d events (%.0f%%) in %.0f s, %.0f events/s\n",
					n, o.Events, 100*float64(n)/float64(o.Events), secs, float64(n)/secs)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
