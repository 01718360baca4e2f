package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/uts-aggregator/uts-aggregator/client"
)

// Publish the same event twice, list what is stored and read the counters.
// The aggregator here is an in-process test server; point New at yours,
// e.g. "http://localhost:8080".
func Example() {
	srv, stop := newAggregator(0)
	defer stop()

	ctx := context.Background()
	c, err := client.New(srv.URL, client.WithAPIKey("optional-key"))
	if err != nil {
		log.Fatal(err)
	}
	event := client.Event{
		Topic:   "pembayaran",
		EventID: "evt_abc_123",
		Source:  "example",
		Payload: json.RawMessage(`{"amount":50000,"user_id":"u_001"}`),
	}
	for range 2 {
		res, err := c.Publish(ctx, event)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.Status, "seq", res.Seq, "delivered", res.Delivered())
	}

	for e, err := range c.Events(ctx, client.ListQuery{Topic: "pembayaran"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("stored", e.Topic, e.EventID, string(e.Payload))
	}

	st, err := c.Stats(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("received", st.Received, "unique_processed", st.UniqueProcessed, "duplicate_dropped", st.DuplicateDropped)
	// Output:
	// accepted seq 1 delivered true
	// duplicate seq 1 delivered true
	// stored pembayaran evt_abc_123 {"amount":50000,"user_id":"u_001"}
	// received 2 unique_processed 1 duplicate_dropped 1
}
