// Package release checks scripts/release.sh: the same commit built twice,
// the second time from a fresh clone with an empty build cache, gives the
// same archives byte for byte; the checkout is left alone; the binary
// answers version with the version, the commit and the Go version.
package release

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestReleaseIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice from scratch (minutes); skipped with -short")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to build a release: ", err)
	}
	// One platform bounds the time: the second build compiles every
	// package from scratch. scripts/release-check.sh without
	// RELEASE_TARGETS checks all six.
	targets := os.Getenv("AGGREGATOR_TEST_RELEASE_TARGETS")
	if targets == "" {
		targets = "linux/amd64"
	}
	cmd := exec.Command("scripts/release-check.sh", "0.0.0-test")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "RELEASE_TARGETS="+targets)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("release check failed: %v", err)
	}
	if !strings.Contains(string(out), "reproduced byte for byte") {
		t.Errorf("the check did not compare the builds")
	}
}
