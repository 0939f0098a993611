#!/usr/bin/env bash
# Runs every check and test of vnetgw: formatting, vet, staticcheck, a tidy
# go.mod, and `go test` of every package. Tests that need root or a real peer
# (strongSwan, BIRD, etcd, OpenVPN, FreeRADIUS, iperf3) skip with a message when those are missing,
# unless VNETGW_REQUIRE_INTEROP=1 (as in CI), where a missing one fails.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "$unformatted"
  echo "gofmt: the files above need formatting (gofmt -w .)"
  exit 1
fi
echo "== go vet"
go vet ./...
echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
echo "== go mod tidy"
go mod tidy -diff
echo "== go test"
go test -race -timeout 80m "$@" ./...
# The race detector allocates, so the zero-allocation checks of the packet
# path skip under -race; they run here without it.
echo "== go test (allocations per packet, without -race)"
go test -count=1 -run 'NoAllocs|ZeroAlloc' ./internal/esp/ ./internal/tunnel/ ./internal/udp/ ./internal/fabric/
# Benchmarks are not timed here, only run a few iterations each, so that
# one that no longer works shows.
echo "== benchmarks run (3 iterations each)"
if ! out=$(go test -count=1 -run '^$' -bench . -benchtime 3x ./internal/... 2>&1); then
  echo "$out"
  exit 1
fi
