package main

import (
	"context"
	"fmt"
	"io"

	"github.com/uts-aggregator/uts-aggregator/app"
)

// transfer runs "server export" or "server import" against the store the
// flags and AGGREGATOR_* variables select. The data goes through stdout or
// stdin; the summary goes to stderr.
func transfer(ctx context.Context, cmd string, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseConfig("server "+cmd, args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.Store == "memory" {
		return fmt.Errorf("%s needs a persistent store (sqlite or postgres), not memory", cmd)
	}
	repo, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	var sum app.TransferSummary
	switch target, ok := repo.(app.ImportTarget); {
	case cmd == "export":
		sum, err = app.Export(ctx, repo, stdout)
	case !ok:
		err = fmt.Errorf("store %s cannot import", cfg.Store)
	default:
		sum, err = app.Import(ctx, stdin, target)
	}
	if err != nil {
		repo.Close()
		return err
	}
	fmt.Fprintf(stderr, "%s %s: %d events (last seq %d), %d topics, lifetime received %d accepted %d dropped %d conflicts %d\n",
		cmd, cfg.Store, sum.Events, sum.LastSeq, sum.Topics,
		sum.Lifetime.Received, sum.Lifetime.Accepted, sum.Lifetime.Dropped, sum.Lifetime.Conflicts)
	return repo.Close()
}
