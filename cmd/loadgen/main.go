// Command loadgen publishes a reproducible load to a uts-aggregator and checks
// that it stored and counted exactly what was sent; see internal/loadgen for
// the flags. It is a binary of its own so that the server does not carry it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/uts-aggregator/uts-aggregator/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(loadgen.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
