#!/usr/bin/env bash
# Checks that a release is reproducible and leaves the checkout alone:
# builds VERSION twice, the second time from a fresh clone of the commit in
# another directory with an empty build cache, and compares every byte. Then
# unpacks the archive of this machine's platform and asks its binary for its
# version.
#
#   scripts/release-check.sh [VERSION]
#
# RELEASE_TARGETS narrows the platforms (as for release.sh), to bound time:
#   RELEASE_TARGETS="linux/amd64 windows/arm64" scripts/release-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
version=${1:-0.0.0-check}
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

before=$(git status --porcelain)
RELEASE_OUT="$work/a" scripts/release.sh "$version" >/dev/null
after=$(git status --porcelain)
if [ "$before" != "$after" ]; then
  echo "release-check: the release build changed the checkout:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi

git clone -q --no-hardlinks . "$work/src"
git -C "$work/src" checkout -q "$(git rev-parse HEAD)"
# Uncommitted changes to tracked files go along, so that the check is of
# the files as they are.
git diff HEAD --binary | git -C "$work/src" apply --allow-empty
(cd "$work/src" && GOCACHE="$work/gocache" RELEASE_OUT="$work/b" scripts/release.sh "$version" >/dev/null)

if ! diff -r "$work/a" "$work/b" >&2; then
  echo "release-check: two builds of the same commit differ" >&2
  exit 1
fi
n=$(grep -c . "$work/a/SHA256SUMS")
echo "release-check: $n archives reproduced byte for byte"

host=$(go env GOOS)_$(go env GOARCH)
archive="$work/a/uts-aggregator_${version}_${host}.tar.gz"
if [ -f "$archive" ]; then
  tar -xzf "$archive" -C "$work"
  dir="$work/uts-aggregator_${version}_${host}"
  for f in aggregator README.md LICENSE; do
    [ -f "$dir/$f" ] || { echo "release-check: $f missing from $archive" >&2; exit 1; }
  done
  out=$("$dir/aggregator" version)
  for want in "aggregator $version" "commit $(git rev-parse HEAD)" "$(go env GOVERSION)"; do
    grep -qF "$want" <<<"$out" || { echo "release-check: version says '$out', want '$want'" >&2; exit 1; }
  done
  "$dir/aggregator" -help >/dev/null 2>&1 || { echo "release-check: -help exits non-zero" >&2; exit 1; }
  echo "release-check: $host binary answers version: $(tr '\n' ' ' <<<"$out")"
fi
