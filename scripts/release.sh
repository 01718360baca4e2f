#!/usr/bin/env bash
# Builds the release archives of VERSION from the current commit:
#
#   scripts/release.sh VERSION
#
# writes dist/release/uts-aggregator_VERSION_OS_ARCH.tar.gz (.zip for
# windows), each holding the static binary, README.md and LICENSE, and
# dist/release/SHA256SUMS. RELEASE_TARGETS (space-separated OS/ARCH) narrows
# the list; RELEASE_OUT writes elsewhere than dist/release.
#
# The same commit gives the same bytes: no cgo, -trimpath, no VCS stamp (the
# commit is stamped with -ldflags instead, with the version), and archives
# with the commit's time on every entry, fixed modes and a fixed order
# (scripts/archive). No tracked file is changed. scripts/release-check.sh
# builds twice and compares.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

version=${1:?usage: scripts/release.sh VERSION}
[[ $version =~ ^[A-Za-z0-9._+-]+$ ]] || { echo "release: version $version: use letters, digits and . _ + -" >&2; exit 2; }
targets=${RELEASE_TARGETS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"}
out=${RELEASE_OUT:-dist/release}

commit=$(git rev-parse HEAD)
mtime=$(git log -1 --format=%ct HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "release: the worktree has uncommitted changes; the archives are built from the files as they are, stamped $commit" >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/archive" ./scripts/archive

rm -rf "$out"
mkdir -p "$out"
for target in $targets; do
  os=${target%/*} arch=${target#*/}
  exe=aggregator
  [ "$os" = windows ] && exe=aggregator.exe
  name=uts-aggregator_${version}_${os}_${arch}
  mkdir -p "$work/$name"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOFLAGS= go build -trimpath -buildvcs=false \
    -ldflags "-s -w -buildid= -X main.version=$version -X main.commit=$commit" \
    -o "$work/$name/$exe" ./cmd/aggregator
  ext=tar.gz
  [ "$os" = windows ] && ext=zip
  "$work/archive" -o "$out/$name.$ext" -mtime "$mtime" -prefix "$name/" \
    "$exe=$work/$name/$exe" README.md=README.md LICENSE=LICENSE
  echo "$out/$name.$ext"
done
"$work/archive" -sums "$out"
echo "$out/SHA256SUMS"
