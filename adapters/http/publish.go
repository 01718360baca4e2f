package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// EventBody is one event as publishers send it.
type EventBody struct {
	Topic     string          `json:"topic" doc:"Stream the event belongs to. Together with event_id it identifies the event." example:"pembayaran" minLength:"1" maxLength:"255"`
	EventID   string          `json:"event_id" doc:"Publisher-chosen id, unique within the topic (a UUID is typical). Resending it is safe." example:"evt_abc_123" minLength:"1" maxLength:"255"`
	Source    string          `json:"source" doc:"Who published the event." example:"powershell_test" minLength:"1" maxLength:"255"`
	Payload   json.RawMessage `json:"payload" doc:"Any JSON object, stored byte for byte as sent (64 KiB by default)." example:"{\"amount\":50000,\"user_id\":\"u_001\"}"`
	Timestamp *string         `json:"timestamp,omitempty" doc:"When the event happened, RFC 3339. A date-time without an offset is read as UTC. Optional: when absent none is invented." example:"2025-01-02T15:04:05Z" required:"false"`
}

// PublishInput is the body of POST /publish: one event or an array of them.
// It is read raw so that payloads stay byte-exact and every error can name
// the event it is about.
type PublishInput struct {
	ContentType string `header:"Content-Type" hidden:"true"`
	RawBody     []byte `contentType:"application/json"`
}

// PublishResult reports what the aggregator did with each published event.
type PublishResult struct {
	Received   int           `json:"received" doc:"Events in the request." example:"2"`
	Accepted   int           `json:"accepted" doc:"Events stored for the first time." example:"1"`
	Duplicates int           `json:"duplicates" doc:"Events dropped because their (topic, event_id) was already stored, conflicts included." example:"1"`
	Conflicts  int           `json:"conflicts" doc:"The dropped events whose payload differed from the stored one (the first write wins)." example:"0"`
	Results    []EventResult `json:"results" doc:"One entry per event, in request order." example:"[{\"topic\":\"pembayaran\",\"event_id\":\"evt_abc_123\",\"status\":\"duplicate\",\"seq\":1}]"`
}

// EventResult is the outcome of one published event.
type EventResult struct {
	Topic   string `json:"topic" doc:"The event's topic." example:"pembayaran"`
	EventID string `json:"event_id" doc:"The event's id." example:"evt_abc_123"`
	Status  string `json:"status" doc:"accepted: newly stored; duplicate: already stored with the same payload; conflict: already stored with another payload, which is kept." enum:"accepted,duplicate,conflict" example:"accepted"`
	Seq     int64  `json:"seq" doc:"Sequence number of the stored copy." example:"1"`
}

// PublishOutput is the 202 answer to POST /publish.
type PublishOutput struct {
	Body PublishResult
}

func registerPublish(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "publish-event",
		Method:      http.MethodPost,
		Path:        "/publish",
		Summary:     "Publish one event or a batch",
		Description: fmt.Sprintf("Send one event object or a JSON array of 1 to %d events. "+
			"The answer comes after the outcome of every event is durably committed. "+
			"If any event is invalid the whole request is rejected and nothing is stored.", h.opts.MaxBatch),
		Tags:          []string{"Events"},
		DefaultStatus: http.StatusAccepted,
		// decodePublish validates the raw body and names each broken event.
		SkipValidateBody: true,
		MaxBodyBytes:     h.opts.MaxBodyBytes,
		Errors: []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity,
			http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusInsufficientStorage},
	}, h.publish)

	// The body is read raw; describe what it really holds. Each part is a
	// named component referenced by $ref: code generators turn an inline
	// oneOf request body into a new type without the union's JSON methods
	// (oapi-codegen sends "{}"), but a $ref into an alias of the union type.
	schemas := api.OpenAPI().Components.Schemas
	eventSchema := schemas.Schema(reflect.TypeFor[EventBody](), true, "")
	schemas.Map()["EventBatch"] = &huma.Schema{
		Type: huma.TypeArray, Items: eventSchema, MinItems: ptr(1), MaxItems: ptr(h.opts.MaxBatch),
		Description: "A batch: 1 to MaxBatch events, stored all or none.",
	}
	schemas.Map()["PublishRequest"] = &huma.Schema{
		Description: "One event, or a batch of events.",
		OneOf:       []*huma.Schema{eventSchema, {Ref: schemaRef("EventBatch")}},
	}
	body := api.OpenAPI().Paths["/publish"].Post.RequestBody
	body.Required = true
	body.Content = map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Ref: schemaRef("PublishRequest")}}}
}

func schemaRef(name string) string { return "#/components/schemas/" + name }

func (h *handlers) publish(ctx context.Context, in *PublishInput) (*PublishOutput, error) {
	if err := checkJSONContentType(in.ContentType); err != nil {
		return nil, err
	}
	events, batch, err := decodePublish(in.RawBody, h.opts.MaxBatch)
	if err != nil {
		return nil, h.fail(ctx, "publish-event", err)
	}
	outcomes, err := h.svc.Publish(ctx, events)
	var invalid *app.InvalidEventError
	if errors.As(err, &invalid) {
		return nil, invalidEvent(eventLocation(batch, invalid.Index), invalid.Err)
	}
	if err != nil {
		return nil, h.fail(ctx, "publish-event", err)
	}
	res := PublishResult{Received: len(events), Results: make([]EventResult, len(events))}
	for i, o := range outcomes {
		switch o.Status {
		case domain.Accepted:
			res.Accepted++
		case domain.Conflict:
			res.Conflicts++
			res.Duplicates++
		default:
			res.Duplicates++
		}
		res.Results[i] = EventResult{Topic: events[i].Topic, EventID: events[i].EventID, Status: o.Status.String(), Seq: o.Seq}
	}
	return &PublishOutput{Body: res}, nil
}

func eventLocation(batch bool, i int) string {
	if batch {
		return fmt.Sprintf("body[%d]", i)
	}
	return "body"
}

// decodePublish reads a single event or an array of events. It reports
// malformed JSON as 400, an oversized batch as 413 and a field of the wrong
// type as 422 with the event's index. The common case, a well-formed body,
// costs one pass of the JSON decoder.
func decodePublish(raw []byte, maxBatch int) (events []domain.Event, batch bool, err error) {
	// The JSON decoder would replace invalid bytes with U+FFFD, and the
	// event stored would not be the one sent.
	if !utf8.Valid(raw) {
		return nil, false, notUTF8(raw)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false, huma.Error400BadRequest("request body is empty; send an event object or an array of events")
	}
	var bodies []EventBody
	switch raw[0] {
	case '{':
		bodies = make([]EventBody, 1)
		if err := json.Unmarshal(raw, &bodies[0]); err != nil {
			return nil, false, explainDecodeError(raw, false)
		}
	case '[':
		batch = true
		if err := json.Unmarshal(raw, &bodies); err != nil {
			return nil, true, explainDecodeError(raw, true)
		}
	default:
		if !json.Valid(raw) {
			return nil, false, malformed(raw)
		}
		return nil, false, huma.Error422UnprocessableEntity("the body must be an event object or an array of events",
			&huma.ErrorDetail{Location: "body", Message: "expected an object or an array"})
	}
	if len(bodies) == 0 {
		return nil, true, huma.Error422UnprocessableEntity("the batch is empty; send at least one event",
			&huma.ErrorDetail{Location: "body", Message: "must contain at least one event"})
	}
	if len(bodies) > maxBatch {
		return nil, true, huma.NewError(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the batch has %d events, more than the limit of %d; split it", len(bodies), maxBatch),
			&huma.ErrorDetail{Location: "body", Message: fmt.Sprintf("at most %d events per request", maxBatch)})
	}
	events = make([]domain.Event, len(bodies))
	var items []json.RawMessage // the batch's raw events, split on first need
	for i, b := range bodies {
		if err := checkReplaced(raw, batch, &items, i, b); err != nil {
			return nil, batch, err
		}
		e, err := toEvent(b)
		if err != nil {
			return nil, batch, eventError(eventLocation(batch, i), err)
		}
		events[i] = e
	}
	return events, batch, nil
}

// checkReplaced refuses an identity field holding an unpaired UTF-16
// surrogate escape ("\ud800"): the decoder turns it into U+FFFD, and the
// event stored would not be the one sent. Only fields that hold U+FFFD after
// decoding are looked at, so a valid body costs nothing more; a batch is
// split into its raw events at most once, into *items.
func checkReplaced(raw []byte, batch bool, items *[]json.RawMessage, i int, b EventBody) error {
	const replacement = "\uFFFD"
	if !strings.Contains(b.Topic, replacement) && !strings.Contains(b.EventID, replacement) && !strings.Contains(b.Source, replacement) {
		return nil
	}
	item := raw
	if batch {
		if *items == nil && json.Unmarshal(raw, items) != nil {
			return nil
		}
		if i >= len(*items) {
			return nil
		}
		item = (*items)[i]
	}
	var fields struct {
		Topic   json.RawMessage `json:"topic"`
		EventID json.RawMessage `json:"event_id"`
		Source  json.RawMessage `json:"source"`
	}
	if json.Unmarshal(item, &fields) != nil {
		return nil
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"topic", fields.Topic}, {"event_id", fields.EventID}, {"source", fields.Source}} {
		if hasLoneSurrogate(f.raw) {
			return invalidEvent(eventLocation(batch, i), &domain.ValidationError{Field: f.name,
				Reason: "must not contain an unpaired UTF-16 surrogate escape (\\ud800-\\udfff); it cannot be stored as sent"})
		}
	}
	return nil
}

// hasLoneSurrogate reports whether a JSON string literal has a \uXXXX escape
// of a surrogate that is not part of a high-low pair.
func hasLoneSurrogate(lit []byte) bool {
	for i := 0; i+1 < len(lit); i++ {
		if lit[i] != '\\' {
			continue
		}
		if lit[i+1] != 'u' {
			i++ // \" \\ \n ...
			continue
		}
		r, ok := hexRune(lit, i+2)
		if !ok {
			return false
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r < 0xDC00:
			low, ok := hexRune(lit, i+8)
			if i+7 >= len(lit) || lit[i+6] != '\\' || lit[i+7] != 'u' || !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 11
		default:
			i += 5
		}
	}
	return false
}

// hexRune reads the four hex digits at lit[at:].
func hexRune(lit []byte, at int) (rune, bool) {
	if at+4 > len(lit) {
		return 0, false
	}
	r, err := strconv.ParseUint(string(lit[at:at+4]), 16, 16)
	return rune(r), err == nil
}

func toEvent(b EventBody) (domain.Event, error) {
	e := domain.Event{Topic: b.Topic, EventID: b.EventID, Source: b.Source, Payload: b.Payload}
	if bytes.Equal(b.Payload, []byte("null")) {
		e.Payload = nil
	}
	if b.Timestamp != nil {
		ts, err := domain.ParseTimestamp(*b.Timestamp)
		if err != nil {
			return domain.Event{}, err
		}
		e.Timestamp = ts
	}
	return e, nil
}

// eventError reports why the event at loc could not be read: a broken rule
// as invalidEvent does, any other error as it is, for fail to answer 500.
func eventError(loc string, err error) error {
	var v *domain.ValidationError
	if errors.As(err, &v) {
		return invalidEvent(loc, v)
	}
	return fmt.Errorf("read event %s: %w", loc, err)
}

// explainDecodeError finds out why a body did not decode: malformed JSON
// (400), or which event has a value of the wrong type (422).
func explainDecodeError(raw []byte, batch bool) error {
	if !json.Valid(raw) {
		return malformed(raw)
	}
	items := []json.RawMessage{raw}
	if batch {
		if err := json.Unmarshal(raw, &items); err != nil {
			return malformed(raw)
		}
	}
	for i, item := range items {
		loc := eventLocation(batch, i)
		if len(item) == 0 || item[0] != '{' {
			return invalidEvent(loc, &domain.ValidationError{Reason: "must be an event object"})
		}
		var b EventBody
		err := json.Unmarshal(item, &b)
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return invalidEvent(loc, &domain.ValidationError{Field: typeErr.Field, Reason: "must be a " + jsonKind(typeErr.Type.Kind().String())})
		}
		if err != nil {
			return invalidEvent(loc, &domain.ValidationError{Reason: err.Error()})
		}
	}
	return malformed(raw)
}

func jsonKind(goKind string) string {
	if goKind == "string" || goKind == "ptr" {
		return "string"
	}
	return goKind
}

// checkJSONContentType accepts application/json and any +json type, with
// parameters, in UTF-8. Anything else is refused: a web page can make a
// browser send text/plain or a form to any address without asking, and so
// publish through a visitor's browser.
func checkJSONContentType(ct string) error {
	const send = "; send Content-Type: application/json"
	if ct == "" {
		return huma.NewError(http.StatusUnsupportedMediaType, "the request has no Content-Type"+send,
			&huma.ErrorDetail{Location: "header.Content-Type", Message: "must be application/json or a +json type"})
	}
	if ct == "application/json" {
		return nil // the common case, without parsing
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return huma.NewError(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not JSON", ct)+send,
			&huma.ErrorDetail{Location: "header.Content-Type", Message: "must be application/json or a +json type", Value: ct})
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return huma.NewError(http.StatusUnsupportedMediaType, fmt.Sprintf("charset %q is not supported; send UTF-8", cs),
			&huma.ErrorDetail{Location: "header.Content-Type", Message: "charset must be utf-8", Value: ct})
	}
	return nil
}

// notUTF8 reports where the first byte that is not UTF-8 is.
func notUTF8(raw []byte) error {
	at := 0
	for at < len(raw) {
		r, n := utf8.DecodeRune(raw[at:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		at += n
	}
	return huma.Error400BadRequest("request body is not valid UTF-8; nothing was stored",
		&huma.ErrorDetail{Location: "body", Message: fmt.Sprintf("invalid UTF-8 byte 0x%02x at byte %d", raw[at], at)})
}

// malformed reports where JSON parsing stopped.
func malformed(raw []byte) error {
	var v any
	err := json.Unmarshal(raw, &v)
	msg := fmt.Sprint(err)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		msg = fmt.Sprintf("%v (at byte %d)", syn, syn.Offset)
	}
	return huma.Error400BadRequest("request body is not valid JSON", &huma.ErrorDetail{Location: "body", Message: msg})
}
