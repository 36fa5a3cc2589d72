#!/usr/bin/env bash
# Build a real step-ca 0.19.0 from Debian's golang-github-smallstep-certificates-dev.
#
# The Debian package ships the sources under /usr/share/gocode/src but no
# cmd/step-ca, so we compile our own small main (scripts/stepca-main/main.go)
# in GOPATH mode against those sources. Nothing is downloaded: modules are off
# and the module proxy is disabled.
#
# Output: ${PYSTEP_BUILD_DIR:-<repo>/.cache}/step-ca
# Skips the build when that binary is newer than main.go and the Debian sources.
# Usage: scripts/build-step-ca.sh [--force]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${PYSTEP_BUILD_DIR:-$repo/.cache}"
out="$build_dir/step-ca"
main_go="$repo/scripts/stepca-main/main.go"
gocode="/usr/share/gocode"
certs_src="$gocode/src/github.com/smallstep/certificates"
force="${1:-}"

if ! command -v go >/dev/null 2>&1; then
  echo "build-step-ca: 'go' not found; install Debian's golang-go" >&2
  exit 1
fi
if [[ ! -d "$certs_src/commands" ]]; then
  echo "build-step-ca: $certs_src/commands not found;" \
       "install Debian's golang-github-smallstep-certificates-dev" >&2
  exit 1
fi

mkdir -p "$build_dir"

if [[ "$force" != "--force" && -x "$out" ]]; then
  # Up to date when nothing it is built from is newer than the binary.
  newer="$(find "$main_go" "$gocode/src" -newer "$out" -name '*.go' -print -quit 2>/dev/null || true)"
  if [[ -z "$newer" ]]; then
    echo "build-step-ca: $out is up to date"
    exit 0
  fi
fi

echo "build-step-ca: building $out from $certs_src (GOPATH mode, offline)"
start=$(date +%s)

# GOPATH mode against Debian's sources; never touch the network.
export GO111MODULE=off
export GOFLAGS=
export GOPROXY=off
export GOSUMDB=off
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOPATH="$build_dir/gopath:$gocode"
export GOCACHE="$build_dir/gocache"
mkdir -p "$build_dir/gopath" "$GOCACHE"

tmp_out="$out.tmp.$$"
trap 'rm -f "$tmp_out"' EXIT
go build -trimpath -ldflags="-s -w" -o "$tmp_out" "$main_go"
mv -f "$tmp_out" "$out"
trap - EXIT

echo "build-step-ca: built $out in $(( $(date +%s) - start ))s"
"$out" --version
