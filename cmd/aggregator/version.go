package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time:
//
//	go build -ldflags "-X main.version=1.2.3 -X main.commit=$(git rev-parse HEAD)" ./cmd/aggregator
//
// Without -X main.commit the commit comes from the Go toolchain's VCS stamp,
// present when the binary was built inside a git checkout.
var (
	version = "dev"
	commit  = ""
)

func runVersion(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("version", "", "Prints the version, the commit it was built from and the Go version.", e.stderr)
	if err := parseFlags(fs, args, e.getenv); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "aggregator %s\ncommit %s\n%s %s/%s\n", version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// buildCommit is the commit the binary was built from, or "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	if rev == "" {
		return "unknown"
	}
	return rev + modified
}
