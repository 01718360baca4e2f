// Package httpserve runs an http.Server until its context ends and then shuts
// it down gracefully: the loop every server command of the module shares.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Serve serves srv on ln until ctx ends or serving fails. When ctx ends it
// stops accepting connections and waits up to timeout for the requests in
// flight. It returns nil after a clean shutdown.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration) error {
	fresh := trackFresh(srv)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	fresh.closeAll()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// freshConns are the connections that have not sent a byte of a request
// yet. net/http's Shutdown counts such a connection as busy for its first
// five seconds; it holds no request, so shutdown closes it at once, and
// every one accepted after, and the client is free to retry elsewhere.
type freshConns struct {
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	stopping bool
}

// trackFresh follows srv's connections through its ConnState hook, keeping
// any hook already set.
func trackFresh(srv *http.Server) *freshConns {
	f := &freshConns{conns: map[net.Conn]struct{}{}}
	next := srv.ConnState
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		f.mu.Lock()
		switch {
		case state == http.StateNew && f.stopping:
			c.Close()
		case state == http.StateNew:
			f.conns[c] = struct{}{}
		default:
			delete(f.conns, c)
		}
		f.mu.Unlock()
		if next != nil {
			next(c, state)
		}
	}
	return f
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopping = true
	for c := range f.conns {
		c.Close()
	}
	clear(f.conns)
}
