package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/uts-aggregator/uts-aggregator/client"
)

// runPublish publishes one event from flags, or NDJSON events from stdin or
// a file, through the client package (and so with its retries).
func runPublish(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("publish", "-topic T -id ID -source S -payload JSON | -ndjson [FILE]",
		"Publishes one event given by flags, or with -ndjson one event per line read from FILE\n"+
			"(stdin when absent or -), in batches. Lines may leave out topic and source: -topic and\n"+
			"-source fill them in. Transport errors, 429 and 5xx are retried; resending is safe.\n"+
			"Prints each event's outcome (one event) or a summary (NDJSON) and exits 1 if any event\n"+
			"was rejected: invalid, or a conflict with a stored copy of another payload.", e.stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "the aggregator (AGGREGATOR_URL)")
	topic := fs.String("topic", "", "the event's topic")
	id := fs.String("id", "", "the event's id")
	source := fs.String("source", "", "who publishes it")
	payload := fs.String("payload", "{}", "the payload, a JSON object")
	timestamp := fs.String("timestamp", "", "when the event happened, RFC 3339; none when empty")
	ndjson := fs.Bool("ndjson", false, "read events as NDJSON from FILE or stdin")
	batch := fs.Int("batch", client.DefaultMaxBatch, "most events per request (the server's -max-batch)")
	attempts := fs.Int("max-attempts", client.DefaultMaxAttempts, "attempts per request, the first included")
	timeout := fs.Duration("attempt-timeout", client.DefaultAttemptTimeout, "time limit of one attempt")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &flagError{err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["url"] {
		if v := e.getenv("AGGREGATOR_URL"); v != "" {
			*url = v
		}
	}
	opts := []client.Option{
		client.WithMaxBatch(*batch),
		client.WithRetry(client.Retry{MaxAttempts: *attempts}),
		client.WithAttemptTimeout(*timeout),
	}
	if key := e.getenv("AGGREGATOR_API_KEY"); key != "" {
		opts = append(opts, client.WithAPIKey(key))
	}
	c, err := client.New(*url, opts...)
	if err != nil {
		return usageErrorf("%v", err)
	}
	ts, err := parseTimestamp(*timestamp)
	if err != nil {
		return usageErrorf("-timestamp: %v", err)
	}

	if *ndjson {
		if fs.NArg() > 1 {
			return usageErrorf("unexpected argument %q: -ndjson reads one FILE", fs.Arg(1))
		}
		for _, f := range []string{"id", "payload", "timestamp"} {
			if set[f] {
				return usageErrorf("-%s is for one event; with -ndjson each line carries its own", f)
			}
		}
		in, name := e.stdin, "stdin"
		if fs.NArg() == 1 && fs.Arg(0) != "-" {
			f, err := os.Open(fs.Arg(0))
			if err != nil {
				return err
			}
			defer f.Close()
			in, name = f, fs.Arg(0)
		}
		return publishNDJSON(ctx, c, in, name, *batch, client.Event{Topic: *topic, Source: *source}, e.stdout, e.stderr)
	}

	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q (flags come as -name value)", fs.Arg(0))
	}
	if *topic == "" || *id == "" || *source == "" {
		return usageErrorf("one event needs -topic, -id and -source (or use -ndjson)")
	}
	if !json.Valid([]byte(*payload)) {
		return usageErrorf("-payload is not valid JSON: %q", *payload)
	}
	res, err := c.Publish(ctx, client.Event{Topic: *topic, EventID: *id, Source: *source, Payload: json.RawMessage(*payload), Timestamp: ts})
	if err != nil {
		return explainPublishError(err, nil)
	}
	fmt.Fprintf(e.stdout, "%s %s/%s seq %d\n", res.Status, res.Topic, res.EventID, res.Seq)
	if !res.Delivered() {
		return fmt.Errorf("%s/%s is stored with another payload, which was kept", res.Topic, res.EventID)
	}
	return nil
}

func parseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// publishNDJSON reads events line by line and publishes them in batches of
// n, so that memory stays bounded whatever the input's size.
func publishNDJSON(ctx context.Context, c *client.Client, in io.Reader, name string, n int, defaults client.Event, stdout, stderr io.Writer) error {
	var total client.PublishResult
	summary := func() {
		fmt.Fprintf(stdout, "received %d, accepted %d, duplicates %d, conflicts %d (%d requests)\n",
			total.Received, total.Accepted, total.Duplicates, total.Conflicts, total.Requests)
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var events []client.Event
	var lines []int // the input line of each event
	send := func() error {
		if len(events) == 0 {
			return nil
		}
		res, err := c.PublishBatch(ctx, events)
		total.Requests += res.Requests
		total.Received += res.Received
		total.Accepted += res.Accepted
		total.Duplicates += res.Duplicates
		total.Conflicts += res.Conflicts
		for i, r := range res.Results {
			if r.Status == client.Conflict {
				fmt.Fprintf(stderr, "%s:%d: conflict: %s/%s is stored with another payload (seq %d), which was kept\n", name, lines[i], r.Topic, r.EventID, r.Seq)
			}
		}
		done := len(res.Results)
		events, lines = events[:0], lines[done:]
		if err != nil {
			return explainPublishError(err, func(i int) string { return fmt.Sprintf("%s:%d", name, lines[i]) })
		}
		lines = lines[:0]
		return nil
	}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		ev := defaults
		if err := json.Unmarshal([]byte(text), &ev); err != nil {
			_ = send()
			summary()
			return fmt.Errorf("%s:%d: not an event: %v; the lines before it were published", name, line, err)
		}
		events, lines = append(events, ev), append(lines, line)
		if len(events) == n {
			if err := send(); err != nil {
				summary()
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		_ = send()
		summary()
		return fmt.Errorf("read %s: %w", name, err)
	}
	err := send()
	summary()
	if err != nil {
		return err
	}
	if total.Conflicts > 0 {
		return fmt.Errorf("%d of %d events conflicted with a stored copy", total.Conflicts, total.Received)
	}
	return nil
}

var bodyIndex = regexp.MustCompile(`^body\[(\d+)\]\.?`)

// explainPublishError names the rejected event and field; where, if not
// nil, turns the index of an event in the failed request into its place in
// the input.
func explainPublishError(err error, where func(i int) string) error {
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || len(apiErr.Errors) == 0 {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rejected (%d %s)", apiErr.Status, apiErr.Title)
	for _, d := range apiErr.Errors {
		loc := d.Location
		if m := bodyIndex.FindStringSubmatch(loc); m != nil && where != nil {
			i, _ := strconv.Atoi(m[1])
			loc = where(i) + " " + strings.TrimPrefix(loc, m[0])
		}
		fmt.Fprintf(&b, "\n  %s: %s", strings.TrimSpace(loc), d.Message)
	}
	b.WriteString("\nnothing of that request was stored")
	return errors.New(b.String())
}
