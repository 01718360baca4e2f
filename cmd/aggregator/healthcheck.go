package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// runHealthcheck asks the local server's /healthz; the image has no curl.
func runHealthcheck(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("healthcheck", "[-addr ADDR] [-timeout D]",
		"Exits 0 if the server listening on ADDR answers GET /healthz with 200, 1 otherwise.\n"+
			"A host of 0.0.0.0, :: or none means 127.0.0.1. Docker's HEALTHCHECK runs it.", e.stderr)
	addr := fs.String("addr", ":8080", "address of the server")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	// An address given as the only argument is still understood, as before flags.
	if len(args) == 1 && !isFlag(args[0]) {
		args = []string{"-addr", args[0]}
	}
	if err := parseFlags(fs, args, e.getenv); err != nil {
		return err
	}
	return healthcheck(ctx, *addr, *timeout)
}

func isFlag(arg string) bool { return len(arg) > 1 && arg[0] == '-' }

func healthcheck(ctx context.Context, addr string, timeout time.Duration) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %s", resp.Status)
	}
	return nil
}
