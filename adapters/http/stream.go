package http

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/uts-aggregator/uts-aggregator/app"
)

// Defaults of the event stream.
const (
	DefaultKeepAlive  = 15 * time.Second
	DefaultMaxStreams = 64
	// streamWriteTimeout bounds one write to a stream client; a client that
	// reads nothing for this long is dropped.
	streamWriteTimeout = 10 * time.Second
)

// StreamEventsInput selects what GET /events/stream sends.
type StreamEventsInput struct {
	Topic       string `query:"topic" doc:"Only events of this topic." example:"pembayaran"`
	After       int64  `query:"after" minimum:"0" doc:"First send the stored events with a greater seq, then go live. Without it (and without Last-Event-ID) the stream starts with the events committed from now on." example:"0"`
	LastEventID string `header:"Last-Event-ID" doc:"The seq of the last event received; set by a reconnecting EventSource. Wins over after." example:"42"`

	replay bool
	from   int64
}

// Resolve tells an absent cursor from after=0 and reads Last-Event-ID.
func (in *StreamEventsInput) Resolve(ctx huma.Context) []error {
	if ctx.Query("after") != "" {
		in.replay, in.from = true, in.After
	}
	if in.LastEventID != "" {
		seq, err := strconv.ParseInt(in.LastEventID, 10, 64)
		if err != nil || seq < 0 {
			return []error{&huma.ErrorDetail{Location: "header.Last-Event-ID", Message: "must be the seq of an event: a whole number, 0 or more", Value: in.LastEventID}}
		}
		in.replay, in.from = true, seq
	}
	return nil
}

// streamEnd is the data of the last message of a stream that the server ends.
type streamEnd struct {
	Reason string `json:"reason"`
	Detail string `json:"detail"`
	// LastSeq is the seq of the last event sent, for resuming with after.
	LastSeq int64 `json:"last_seq"`
}

const streamDescription = "Server-Sent Events: each stored event is one message whose `id` is its seq and whose `data` " +
	"is the stored event as JSON (as GET /events shows it). Duplicates are never sent. Without `after` or " +
	"`Last-Event-ID` the stream starts with the events committed from now on; with one, it first replays every " +
	"stored event with a greater seq, then goes live, in seq order, with no gap and no repeat. A comment line " +
	"(`: keep-alive`) comes at least every 15 s. The server ends a stream with one `event: end` message whose data " +
	"says why (`behind`: the client read too slowly and the server stopped holding events for it; `shutdown`; " +
	"`error`) and carries `last_seq`: reconnect with `after` set to it to resume. The number of open streams is " +
	"bounded: one more answers 503 with Retry-After. Try it with `curl -N`."

const streamExample = "id: 7\ndata: {\"seq\":7,\"topic\":\"pembayaran\",\"event_id\":\"evt_abc_123\",\"source\":\"powershell_test\"," +
	"\"payload\":{\"amount\":50000,\"user_id\":\"u_001\"},\"timestamp\":null,\"received_at\":\"2025-01-02T15:04:05.123456Z\"}\n\n" +
	": keep-alive\n\n" +
	"event: end\ndata: {\"reason\":\"shutdown\",\"detail\":\"the server is shutting down\",\"last_seq\":7}\n\n"

func registerStream(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "stream-events",
		Method:      http.MethodGet,
		Path:        "/events/stream",
		Summary:     "Follow stored events live (Server-Sent Events)",
		Description: streamDescription,
		Tags:        []string{"Events"},
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
		Responses: map[string]*huma.Response{
			"200": {
				Description: "A stream of stored events, one message each.",
				Content: map[string]*huma.MediaType{
					"text/event-stream": {
						Schema:  &huma.Schema{Type: huma.TypeString, Description: "Server-Sent Events (text/event-stream)."},
						Example: streamExample,
					},
				},
			},
		},
	}, h.streamEvents)
}

func (h *handlers) streamEvents(_ context.Context, in *StreamEventsInput) (*huma.StreamResponse, error) {
	select {
	case h.streams <- struct{}{}:
	default:
		return nil, huma.ErrorWithHeaders(
			huma.Error503ServiceUnavailable("too many open event streams; try again later"),
			http.Header{"Retry-After": {"5"}})
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer func() { <-h.streams }()
		tail := h.svc.Tail(app.TailQuery{Topic: in.Topic, Replay: in.replay, After: in.from})
		defer tail.Close()
		hctx.SetHeader("Content-Type", "text/event-stream")
		hctx.SetHeader("Cache-Control", "no-store")
		hctx.SetHeader("X-Accel-Buffering", "no")
		hctx.SetStatus(http.StatusOK)
		s := &sseWriter{w: hctx.BodyWriter()}
		if rw, ok := s.w.(http.ResponseWriter); ok {
			s.rc = http.NewResponseController(rw)
		}
		h.runStream(hctx.Context(), tail, s)
	}}, nil
}

// runStream copies the tail to the client until the client leaves, the
// server closes, or the tail ends.
func (h *handlers) runStream(ctx context.Context, tail *app.Tail, s *sseWriter) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var closing atomic.Bool
	if h.opts.Closing != nil {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-h.opts.Closing:
				closing.Store(true)
				cancel()
			case <-stop:
			}
		}()
	}
	if !s.comment("stream open") {
		return
	}
	for {
		wait, stop := context.WithTimeout(ctx, h.opts.KeepAlive)
		events, err := tail.Next(wait)
		stop()
		switch {
		case err == nil:
			for _, e := range events {
				data, err := json.Marshal(toEventBody(e))
				if err != nil {
					h.opts.Logger.ErrorContext(ctx, "stream: encode event", "seq", e.Seq, "err", err)
					s.end(streamEnd{Reason: "error", Detail: "internal error", LastSeq: tail.Last()})
					return
				}
				if !s.event(e.Seq, data) {
					return
				}
			}
		case ctx.Err() != nil:
			if closing.Load() {
				s.end(streamEnd{Reason: "shutdown", Detail: "the server is shutting down", LastSeq: tail.Last()})
			}
			return
		case errors.Is(err, context.DeadlineExceeded):
			if !s.comment("keep-alive") {
				return
			}
		case errors.Is(err, app.ErrTailBehind):
			s.end(streamEnd{Reason: "behind", LastSeq: tail.Last(), Detail: "the client read too slowly: the server stopped " +
				"holding events for it; reconnect with after=last_seq to resume"})
			return
		case errors.Is(err, app.ErrTailClosed):
			s.end(streamEnd{Reason: "shutdown", Detail: "the server is shutting down", LastSeq: tail.Last()})
			return
		default:
			h.opts.Logger.ErrorContext(ctx, "stream failed", "err", err)
			s.end(streamEnd{Reason: "error", Detail: "internal error; reconnect with after=last_seq to resume", LastSeq: tail.Last()})
			return
		}
	}
}

// sseWriter writes Server-Sent Events, flushing each one and bounding the
// time one write may take.
type sseWriter struct {
	w   interface{ Write([]byte) (int, error) }
	rc  *http.ResponseController
	buf []byte
}

func (s *sseWriter) event(seq int64, data []byte) bool {
	s.buf = append(s.buf[:0], "id: "...)
	s.buf = strconv.AppendInt(s.buf, seq, 10)
	s.buf = append(s.buf, "\ndata: "...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, "\n\n"...)
	return s.send()
}

func (s *sseWriter) comment(text string) bool {
	s.buf = append(append(append(s.buf[:0], ": "...), text...), "\n\n"...)
	return s.send()
}

func (s *sseWriter) end(e streamEnd) {
	data, _ := json.Marshal(e)
	s.buf = append(append(append(s.buf[:0], "event: end\ndata: "...), data...), "\n\n"...)
	s.send()
}

func (s *sseWriter) send() bool {
	if s.rc != nil {
		// Overrides any server-wide WriteTimeout, which would otherwise end
		// every stream after that long.
		_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return false
	}
	if s.rc != nil {
		if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
	}
	return true
}
