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
#   bench/run.sh -perf                    # and profile the gateways with perf (-ike-perf, -dp-perf: one of them)
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
# The plugins charon loads (internal/strongswan.Plugins) that Debian ships
# apart: userspace ESP, OpenSSL's algorithms, EAP-MSCHAPv2.
for p in kernel-libipsec openssl eap-mschapv2; do
  [ -e /usr/lib/ipsec/plugins/libstrongswan-$p.so ] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench/run.sh: installing what is missing (${missing[*]}) with scripts/install-deps.sh"
  scripts/install-deps.sh
fi

# The profiles (-ike-perf, -dp-perf, -perf) take perf(1): Debian's
# linux-perf. Without it the run goes on and its report says why the
# profiles are missing.
want_perf=
for arg in "$@"; do
  [[ $arg =~ ^--?(ike-|dp-)?perf(=(1|t|T|true|TRUE|True))?$ ]] && want_perf=1
done
if [ -n "$want_perf" ] && ! command -v perf >/dev/null; then
  echo "bench/run.sh: the profiles need perf; installing linux-perf"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends linux-perf ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends linux-perf; }; } ||
    ! perf --version >/dev/null 2>&1; then
    echo "bench/run.sh: WARNING: could not install a working perf (Debian's linux-perf; on Ubuntu linux-tools-\$(uname -r))." >&2
    echo "bench/run.sh: the run goes on without profiles; the report says they are not available." >&2
  fi
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
