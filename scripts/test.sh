#!/usr/bin/env bash
# The test suite: every package's tests (the e2e suite included, which needs
# Docker), then every Go fuzz target for a bounded time on top of its seed
# corpus in testdata/fuzz/<FuzzName>. A crasher the fuzzer finds is written
# there too: check it in as a regression case once fixed.
#
#   scripts/test.sh                     everything
#   FUZZTIME=1m scripts/test.sh         fuzz longer
#   FUZZTIME=0 scripts/test.sh          no fuzzing (the seed corpora still run as tests)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20s}

go test -count=1 -timeout 45m ./...

[ "$fuzztime" = 0 ] && exit 0
# Every `func FuzzXxx(f *testing.F)` in a _test.go file, by package directory.
grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . |
  sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+).*#\1 \2#' | sort -u |
  while read -r dir name; do
    echo "fuzz $name in $dir for $fuzztime"
    # Minimizing a new input may take at most 10s of the budget.
    go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime=10s "$dir"
  done
