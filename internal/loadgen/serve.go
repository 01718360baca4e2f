package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/uts-aggregator/uts-aggregator/internal/httpserve"
)

// emptyHandler is the HTTP baseline: POST /publish reads the body and answers
// 202 with a tiny JSON body, doing nothing else. It has no /stats, so loadgen
// runs against it with -verify=false.
func emptyHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"ok":true}` + "\n"))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	return mux
}

// serveEmpty serves emptyHandler on addr until ctx ends.
func serveEmpty(ctx context.Context, addr string, stderr io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: emptyHandler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "loadgen: serving an empty POST /publish on http://%s\n", ln.Addr())
	return httpserve.Serve(ctx, srv, ln, 5*time.Second)
}
