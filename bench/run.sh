#!/usr/bin/env bash
# Runs vnetgw's benchmark suite (bench/README.md): installs the peers and
# tools that are missing, builds wireguard-go from the Go module proxy and
# vnetgw from this tree into bench/work/ (not committed), then runs
# bench/cmd/bench, which writes bench/results/. Run as root; every flag is
# passed on (go run ./bench/cmd/bench -h lists them), e.g.
#
#   bench/run.sh                          # every part, 3 runs each
#   bench/run.sh -skip throughput         # IKE, scale and control plane only
#   bench/run.sh -quick                   # check the harness: every part in seconds
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH=$PATH:/usr/local/go/bin

# wireguard-go's module version: the peer to beat. Change it here.
WG_VERSION=v0.0.0-20260522210424-ecfc5a8d5446
WORK=bench/work

if [ "$(id -u)" != 0 ]; then
  echo "bench/run.sh: run as root (it builds network namespaces)" >&2
  exit 1
fi

missing=()
for tool in ip iperf3 ping ss swanctl /usr/lib/ipsec/charon; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] || missing+=(kernel-libipsec)
if ((${#missing[@]})); then
  echo "bench/run.sh: installing what is missing (${missing[*]}) with scripts/install-deps.sh"
  scripts/install-deps.sh
fi

mkdir -p "$WORK/bin"
# wireguard-go is configured through its own control socket, so
# wireguard-tools is not needed. Rebuilt when WG_VERSION changes.
have=$(go version -m "$WORK/bin/wireguard" 2>/dev/null | awk '$1 == "mod" { print $3 }' || true)
if [ "$have" != "$WG_VERSION" ]; then
  echo "bench/run.sh: building golang.zx2c4.com/wireguard@$WG_VERSION"
  GOBIN="$PWD/$WORK/bin" timeout 900 go install "golang.zx2c4.com/wireguard@$WG_VERSION"
fi

timeout 900 go build -o "$WORK/bin/vnetgw" ./cmd/vnetgw

go build -o "$WORK/bin/bench" ./bench/cmd/bench
# The program bounds every command it runs; this bounds the whole, and a
# SIGTERM from it still lets the program remove its namespaces.
exec timeout --foreground 4h "$WORK/bin/bench" \
  -work "$WORK" -wireguard-go "$WORK/bin/wireguard" -vnetgw "$WORK/bin/vnetgw" \
  -command "bench/run.sh${*:+ $*}" "$@"
