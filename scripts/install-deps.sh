#!/usr/bin/env bash
# Installs what vnetgw's tests run against: real peers (strongSwan with
# userspace ESP, BIRD, etcd), iperf3, and the tools to build namespaces.
# Debian or Ubuntu, as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  strongswan strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins libcharon-extauth-plugins \
  iproute2 nftables conntrack iperf3 iputils-ping tcpdump openvpn freeradius \
  bird2 etcd-server etcd-client ca-certificates
# The VM with Linux's SSTP client (sstpc and pppd) for the point-to-site
# interop test: this host's kernel has no PPP (scripts/sstp-guest.sh).
bash "$(dirname "$0")/sstp-guest.sh"
