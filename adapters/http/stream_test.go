package http_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/adapters/humago"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// streamServer serves the real routes on a real listener, as streams need.
type streamServer struct {
	*httptest.Server
	svc     *app.Service
	closing chan struct{}
}

func newStreamServer(t *testing.T, keepAlive time.Duration, maxStreams ...int) *streamServer {
	t.Helper()
	s := &streamServer{svc: app.New(memory.New(), app.Options{}), closing: make(chan struct{})}
	mux := http.NewServeMux()
	api := humago.New(mux, httpadapter.NewConfig("test"))
	opts := httpadapter.Options{Closing: s.closing, KeepAlive: keepAlive, Logger: slog.New(slog.DiscardHandler)}
	if len(maxStreams) > 0 {
		opts.MaxStreams = maxStreams[0]
	}
	httpadapter.Register(api, s.svc, opts)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.Close()
		s.svc.Close()
	})
	return s
}

func (s *streamServer) publish(t *testing.T, events ...domain.Event) {
	t.Helper()
	if _, err := s.svc.Publish(context.Background(), events); err != nil {
		t.Fatal(err)
	}
}

// sseMessage is one message or comment of an event stream.
type sseMessage struct {
	ID, Event, Data, Comment string
}

type sseClient struct {
	resp *http.Response
	msgs chan sseMessage
}

func openStream(t *testing.T, url string, header ...string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	c := &sseClient{resp: resp, msgs: make(chan sseMessage, 10000)}
	if resp.StatusCode != http.StatusOK {
		return c
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	go func() {
		defer close(c.msgs)
		r := bufio.NewReader(resp.Body)
		var m sseMessage
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				c.msgs <- m
				m = sseMessage{}
			case strings.HasPrefix(line, ": "):
				m.Comment = line[2:]
			case strings.HasPrefix(line, "id: "):
				m.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				m.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				m.Data = line[6:]
			default:
				t.Errorf("unexpected line %q", line)
			}
		}
	}()
	return c
}

// next returns the next message that is not a comment.
func (c *sseClient) next(t *testing.T) sseMessage {
	t.Helper()
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				t.Fatal("stream ended")
			}
			if m.Comment == "" {
				return m
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no message within 5 s")
		}
	}
}

func (c *sseClient) nextIDs(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		ids = append(ids, c.next(t).ID)
	}
	return ids
}

func TestStreamReplaysThenGoesLive(t *testing.T) {
	s := newStreamServer(t, 0)
	a := apptest.NewEvent("pembayaran", "a", 1)
	s.publish(t, a, apptest.NewEvent("pembayaran", "b", 1), apptest.NewEvent("pembayaran", "c", 1))
	c := openStream(t, s.URL+"/events/stream?after=1")
	if got := c.nextIDs(t, 2); strings.Join(got, ",") != "2,3" {
		t.Fatalf("replayed ids %v, want 2,3", got)
	}
	s.publish(t, a, apptest.NewEvent("pembayaran", "b", 2)) // a duplicate and a conflict: never sent
	s.publish(t, apptest.NewEvent("other", "d", 1))
	m := c.next(t)
	if m.ID != "4" {
		t.Fatalf("live message %+v, want id 4", m)
	}
	// data is the stored event exactly as GET /events shows it.
	resp, err := http.Get(s.URL + "/events?after=3")
	if err != nil {
		t.Fatal(err)
	}
	var listed []json.RawMessage
	json.NewDecoder(resp.Body).Decode(&listed)
	resp.Body.Close()
	if len(listed) != 1 || string(listed[0]) != m.Data {
		t.Fatalf("stream data %s\nGET /events    %s", m.Data, listed)
	}
}

func TestStreamStartsAtNowWithoutCursor(t *testing.T) {
	s := newStreamServer(t, 0)
	s.publish(t, apptest.NewEvent("t", "old", 1))
	c := openStream(t, s.URL+"/events/stream")
	waitForComment(t, c, "stream open")
	s.publish(t, apptest.NewEvent("t", "new", 1))
	if m := c.next(t); m.ID != "2" {
		t.Fatalf("first message %+v, want the new event (seq 2) only", m)
	}
}

func TestStreamLastEventIDWinsOverAfter(t *testing.T) {
	s := newStreamServer(t, 0)
	for i := range 5 {
		s.publish(t, apptest.NewEvent("t", fmt.Sprint(i), 1))
	}
	c := openStream(t, s.URL+"/events/stream?after=1", "Last-Event-ID", "3")
	if got := c.nextIDs(t, 2); strings.Join(got, ",") != "4,5" {
		t.Fatalf("ids %v, want 4,5", got)
	}
}

func TestStreamFiltersByTopic(t *testing.T) {
	s := newStreamServer(t, 0)
	s.publish(t, apptest.NewEvent("a", "1", 1), apptest.NewEvent("b", "1", 1))
	c := openStream(t, s.URL+"/events/stream?topic=b&after=0")
	s.publish(t, apptest.NewEvent("a", "2", 1), apptest.NewEvent("b", "2", 1))
	if got := c.nextIDs(t, 2); strings.Join(got, ",") != "2,4" {
		t.Fatalf("ids %v, want 2,4 (topic b only)", got)
	}
}

func TestStreamRejectsBadLastEventID(t *testing.T) {
	s := newStreamServer(t, 0)
	c := openStream(t, s.URL+"/events/stream", "Last-Event-ID", "abc")
	body, _ := io.ReadAll(c.resp.Body)
	if c.resp.StatusCode != http.StatusUnprocessableEntity || c.resp.Header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(string(body), "header.Last-Event-ID") {
		t.Fatalf("%d %s %s", c.resp.StatusCode, c.resp.Header.Get("Content-Type"), body)
	}
}

func waitForComment(t *testing.T, c *sseClient, text string) {
	t.Helper()
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				t.Fatalf("stream ended before the comment %q", text)
			}
			if m.Comment == text {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no comment %q within 5 s", text)
		}
	}
}

func TestStreamSendsKeepAlives(t *testing.T) {
	s := newStreamServer(t, 50*time.Millisecond)
	c := openStream(t, s.URL+"/events/stream")
	waitForComment(t, c, "keep-alive")
	waitForComment(t, c, "keep-alive")
}

func TestStreamEndsWithALastMessage(t *testing.T) {
	t.Run("Shutdown", func(t *testing.T) {
		s := newStreamServer(t, 0)
		s.publish(t, apptest.NewEvent("t", "1", 1))
		c := openStream(t, s.URL+"/events/stream?after=0")
		c.next(t)
		close(s.closing)
		m := c.next(t)
		var end struct {
			Reason  string `json:"reason"`
			LastSeq int64  `json:"last_seq"`
		}
		if json.Unmarshal([]byte(m.Data), &end); m.Event != "end" || end.Reason != "shutdown" || end.LastSeq != 1 {
			t.Fatalf("last message %+v", m)
		}
		if _, ok := <-c.msgs; ok {
			t.Fatal("stream goes on after its end message")
		}
	})
	t.Run("Behind", func(t *testing.T) {
		s := newStreamServer(t, 0)
		c := openStream(t, s.URL+"/events/stream")
		waitForComment(t, c, "stream open")
		// One commit of more events than a stream holds for its reader.
		batch := make([]domain.Event, app.TailMaxEvents+1)
		for i := range batch {
			batch[i] = apptest.NewEvent("t", fmt.Sprint(i), 1)
		}
		s.publish(t, batch...)
		m := c.next(t)
		if m.Event != "end" || !strings.Contains(m.Data, `"reason":"behind"`) || !strings.Contains(m.Data, `"last_seq":0`) /* nothing sent: resume before seq 1 */ {
			t.Fatalf("last message %+v", m)
		}
	})
}

func TestStreamsAreBounded(t *testing.T) {
	s := newStreamServer(t, 0, 2)
	first := openStream(t, s.URL+"/events/stream")
	waitForComment(t, first, "stream open")
	second := openStream(t, s.URL+"/events/stream")
	waitForComment(t, second, "stream open")
	third := openStream(t, s.URL+"/events/stream")
	body, _ := io.ReadAll(third.resp.Body)
	if third.resp.StatusCode != http.StatusServiceUnavailable || third.resp.Header.Get("Retry-After") == "" ||
		third.resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("a third stream: %d %v %s", third.resp.StatusCode, third.resp.Header, body)
	}
	// A closed stream frees its place.
	first.resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		again := openStream(t, s.URL+"/events/stream")
		if again.resp.StatusCode == http.StatusOK {
			waitForComment(t, again, "stream open")
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a stream closed, a new one still gets %d", again.resp.StatusCode)
		}
		again.resp.Body.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOpenAPIDescribesTheStream(t *testing.T) {
	api := newAPI(t, httpadapter.Options{})
	var spec struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]struct {
				Content map[string]json.RawMessage `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(record(api.Get("/openapi.json")).Body, &spec); err != nil {
		t.Fatal(err)
	}
	op, ok := spec.Paths["/events/stream"]["get"]
	if !ok || op.OperationID != "stream-events" {
		t.Fatalf("GET /events/stream missing from the spec: %+v", spec.Paths["/events/stream"])
	}
	if _, ok := op.Responses["200"].Content["text/event-stream"]; !ok {
		t.Errorf("200 is not text/event-stream: %+v", op.Responses["200"])
	}
	var params []string
	for _, p := range op.Parameters {
		params = append(params, p.In+":"+p.Name)
	}
	if got := strings.Join(params, ","); got != "query:topic,query:after,header:Last-Event-ID" {
		t.Errorf("parameters %s", got)
	}
}
