// Command loadgen publishes a reproducible load to a uts-aggregator and checks
// that it stored and counted exactly what was sent. The same tool is the
// server's `loadgen` subcommand; see internal/loadgen for the flags.
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
