package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/client"
)

// The client's own cost per batch, against a stub that answers every
// publish with the same canned 202, compared with what the load generator
// does: append pre-shaped events to a reused buffer, post it, and decode
// only the counters. The gap is what the load generator would lose by
// using the client.
//
//	go test -run '^$' -bench 'Batch' -benchmem ./client

const benchBatch = 500

func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	var answer bytes.Buffer
	answer.WriteString(`{"received":500,"accepted":500,"duplicates":0,"conflicts":0,"results":[`)
	for i := range benchBatch {
		if i > 0 {
			answer.WriteByte(',')
		}
		fmt.Fprintf(&answer, `{"topic":"bench","event_id":"evt-%08d","status":"accepted","seq":%d}`, i, i+1)
	}
	answer.WriteString("]}")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		w.Write(answer.Bytes())
	}))
	b.Cleanup(srv.Close)
	return srv
}

func BenchmarkPublishBatchClient(b *testing.B) {
	srv := benchServer(b)
	c, err := client.New(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	events := make([]client.Event, benchBatch)
	payload := json.RawMessage(`{"amount":50000,"user_id":"u_001","note":"` + string(bytes.Repeat([]byte("x"), 60)) + `"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for i := range events {
			events[i] = client.Event{Topic: "bench", EventID: "evt-" + strconv.Itoa(i), Source: "bench", Payload: payload}
		}
		res, err := c.PublishBatch(ctx, events)
		if err != nil || res.Accepted != benchBatch {
			b.Fatal(err, res.Accepted)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkPublishBatchRawLikeLoadgen(b *testing.B) {
	srv := benchServer(b)
	hc := &http.Client{}
	payload := `{"amount":50000,"user_id":"u_001","note":"` + string(bytes.Repeat([]byte("x"), 60)) + `"}`
	var body, answer bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		body.Reset()
		buf := body.AvailableBuffer()
		buf = append(buf, '[')
		for i := range benchBatch {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"topic":"bench","event_id":"evt-`...)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, `","source":"bench","payload":`...)
			buf = append(buf, payload...)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
		body.Write(buf)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/publish", bytes.NewReader(body.Bytes()))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		answer.Reset()
		answer.ReadFrom(resp.Body)
		resp.Body.Close()
		var counts struct {
			Accepted *int64 `json:"accepted"`
		}
		if json.Unmarshal(answer.Bytes(), &counts) != nil || counts.Accepted == nil || *counts.Accepted != benchBatch {
			b.Fatal("bad answer")
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}
