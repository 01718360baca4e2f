package ndjson_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/adapters/ndjson"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// newSource returns a store whose events and counters exercise the format:
// repeats and conflicts, a timestamp with an offset, a payload that is not
// UTF-8 and one with odd spacing.
func newSource(t testing.TB) *memory.Repository {
	t.Helper()
	ctx := context.Background()
	src := memory.New()
	ts := time.Date(2024, 12, 31, 23, 59, 58, 123456789, time.FixedZone("", -5*3600))
	odd := apptest.NewEvent("v", "bin", 0)
	odd.Payload = []byte("{\"s\":\"\xff\xfe\"}\n")
	odd.Timestamp = ts
	spaced := apptest.NewEvent("t", "2", 2)
	spaced.Payload = []byte("{ \"a\" :\t[1, 2.50, \"é\"] }")
	for i, batch := range [][]domain.Event{
		{apptest.NewEvent("t", "1", 1), apptest.NewEvent("u", "1", 1)},
		{apptest.NewEvent("t", "1", 1), apptest.NewEvent("t", "1", 2), spaced},
		{odd},
	} {
		if _, err := src.Append(ctx, batch, apptest.ReceiveTime.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

func export(t testing.TB, src app.EventReader) (string, ndjson.Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := ndjson.Export(context.Background(), src, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.String(), sum
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := newSource(t)
	out, sum := export(t, src)
	want := ndjson.Summary{Events: 4, Topics: 3, LastSeq: 4,
		Lifetime: domain.Counters{Received: 6, Accepted: 4, Dropped: 2, Conflicts: 1}}
	if sum != want {
		t.Fatalf("export summary %+v, want %+v", sum, want)
	}
	if lines := strings.Count(out, "\n"); lines != 1+4+3+1 {
		t.Fatalf("export has %d lines, want header, 4 events, 3 topics and end:\n%s", lines, out)
	}
	dst := memory.New()
	got, err := ndjson.Import(ctx, strings.NewReader(out), dst)
	if err != nil {
		t.Fatal(err)
	}
	if got != sum {
		t.Fatalf("import summary %+v, want %+v", got, sum)
	}
	wantSameStore(t, dst, src)
	if _, err := ndjson.Import(ctx, strings.NewReader(out), dst); !errors.Is(err, app.ErrNotEmpty) {
		t.Fatalf("second import error = %v, want ErrNotEmpty", err)
	}
}

func TestExportIsReadable(t *testing.T) {
	out, _ := export(t, newSource(t))
	for _, want := range []string{
		`{"kind":"header","format":"uts-aggregator-export","version":1}`,
		`"payload":"{ \"a\" :\t[1, 2.50, \"é\"] }"`, // text payloads stay text, byte for byte
		`"payload_base64":`, // and the others are base64
		`"timestamp":"2024-12-31T23:59:58.123456789-05:00"`,
		`"received_at":"2025-03-04T05:06:07.891011Z"`,
		`{"kind":"topic","topic":"t","received":4,"accepted":2,"dropped":2,"conflicts":1}`,
		`{"kind":"end","events":4,"topics":3}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %s:\n%s", want, out)
		}
	}
}

func TestImportRefusesBrokenStreams(t *testing.T) {
	out, _ := export(t, newSource(t))
	lines := strings.SplitAfter(out, "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	cases := map[string]struct{ in, want string }{
		"Truncated":        {strings.Join(lines[:len(lines)-1], ""), "truncated"},
		"NoHeader":         {strings.Join(lines[1:], ""), "header"},
		"OtherVersion":     {strings.Replace(out, `"version":1`, `"version":2`, 1), "version 1 header"},
		"EndDoesNotMatch":  {strings.Replace(out, `"kind":"end","events":4`, `"kind":"end","events":5`, 1), "end line does not match"},
		"SeqGoesBack":      {lines[0] + lines[2] + lines[1] + strings.Join(lines[3:], ""), "increasing seq order"},
		"EventAfterTopics": {strings.Join(lines[:4], "") + strings.Join(lines[5:8], "") + lines[4] + lines[8], "event after the topic counters"},
		"InvalidEvent":     {strings.Replace(out, `"topic":"u"`, `"topic":""`, 1), "topic: must not be empty"},
		"NotJSON":          {lines[0] + "not json\n", "line 2"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ndjson.Import(context.Background(), strings.NewReader(c.in), memory.New())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("import error = %v, want one saying %q", err, c.want)
			}
		})
	}
}

// wantSameStore compares two stores event by event, payload bytes and
// timestamp offsets included, and topic by topic.
func wantSameStore(t *testing.T, got, want app.EventReader) {
	t.Helper()
	ctx := context.Background()
	g, err := got.List(ctx, app.ListQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	w, err := want.List(ctx, app.ListQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if describe(g) != describe(w) {
		t.Fatalf("events:\n%s\nwant:\n%s", describe(g), describe(w))
	}
	gs, _ := got.Stats(ctx)
	ws, _ := want.Stats(ctx)
	if fmt.Sprint(gs) != fmt.Sprint(ws) {
		t.Fatalf("topics %v, want %v", gs, ws)
	}
}

func describe(events []domain.StoredEvent) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "seq %d %s/%s src %q payload %q ts %s recv %s\n", e.Seq, e.Topic, e.EventID, e.Source, e.Payload,
			e.Timestamp.Format(time.RFC3339Nano), e.ReceivedAt.Format(time.RFC3339Nano))
	}
	return b.String()
}

func TestPurgedCountersRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	// A topic whose events retention removed: only its counters remain.
	gone := app.TopicStats{Topic: "gone", Counters: domain.Counters{Received: 3, Accepted: 2, Dropped: 1}, Purged: 2}
	if err := src.SetCounters(ctx, []app.TopicStats{gone}); err != nil {
		t.Fatal(err)
	}
	out, _ := export(t, src)
	if !strings.Contains(out, `"purged":2`) {
		t.Fatalf("export lacks the purged counter:\n%s", out)
	}
	dst := memory.New()
	if _, err := ndjson.Import(ctx, strings.NewReader(out), dst); err != nil {
		t.Fatal(err)
	}
	wantSameStore(t, dst, src)
}
