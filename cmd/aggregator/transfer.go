package main

import (
	"context"
	"fmt"

	"github.com/uts-aggregator/uts-aggregator/adapters/ndjson"
	"github.com/uts-aggregator/uts-aggregator/app"
)

func runExport(ctx context.Context, args []string, e env) error {
	return transfer(ctx, "export", args, e)
}

func runImport(ctx context.Context, args []string, e env) error {
	return transfer(ctx, "import", args, e)
}

// transferDocs is what -h says about export and import.
var transferDocs = map[string]string{
	"export": "Writes every stored event and the lifetime counters of the store the flags select\n" +
		"to stdout as versioned NDJSON; a summary goes to stderr. Stop the server first\n" +
		"or export from a store it no longer writes to.",
	"import": "Reads an export from stdin into the store the flags select, which must be empty;\n" +
		"a summary goes to stderr.",
}

// transfer runs export or import against the store the flags and
// AGGREGATOR_* variables select. The data goes through stdout or stdin; the
// summary goes to stderr.
func transfer(ctx context.Context, cmd string, args []string, e env) error {
	var cfg config
	fs := newFlagSet(cmd, "[flags]", transferDocs[cmd], e.stderr)
	storeFlags(fs, &cfg)
	if err := parseFlags(fs, args, e.getenv); err != nil {
		return err
	}
	if err := cfg.checkStore(setFlags(fs, e.getenv)); err != nil {
		return err
	}
	for _, w := range cfg.warnings {
		fmt.Fprintln(e.stderr, "warning:", w)
	}
	if cfg.Store == "memory" {
		return fmt.Errorf("%s needs a persistent store (sqlite or postgres), not memory", cmd)
	}
	repo, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	var sum ndjson.Summary
	switch target, ok := repo.(app.ImportTarget); {
	case cmd == "export":
		sum, err = ndjson.Export(ctx, repo, e.stdout)
	case !ok:
		err = fmt.Errorf("store %s cannot import", cfg.Store)
	default:
		sum, err = ndjson.Import(ctx, e.stdin, target)
	}
	if err != nil {
		repo.Close()
		return err
	}
	fmt.Fprintf(e.stderr, "%s %s: %d events (last seq %d), %d topics, lifetime received %d accepted %d dropped %d conflicts %d\n",
		cmd, cfg.Store, sum.Events, sum.LastSeq, sum.Topics,
		sum.Lifetime.Received, sum.Lifetime.Accepted, sum.Lifetime.Dropped, sum.Lifetime.Conflicts)
	return repo.Close()
}
