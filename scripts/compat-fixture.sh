#!/usr/bin/env bash
# Remakes internal/server/testdata/compat-COMMIT: the state.db of the vnetgw
# of an older commit (default 8050529, of 2026-11-30, the last before the
# records carried their format) holding a region of every kind of resource,
# its metrics-history, and get/, what that vnetgw's API answered for each
# resource, list, host's effective routes and site's device script.
# TestUpgradeKeepsRecords opens it with today's code. Run from the repository:
#   scripts/compat-fixture.sh [COMMIT]
# It serves on 127.224.0.1:17443 with gateways on 127.224.1.0/24 and UDP
# 24500/24501, TCP 24443; its sites are addresses of 127.224.2.0/24.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(git rev-parse --short "${1:-8050529}")
out=internal/server/testdata/compat-$commit
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" || true
  git worktree remove --force "$work/src" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

git worktree add --detach "$work/src" "$commit"
(cd "$work/src" && go build -o "$work/vnetgw" ./cmd/vnetgw)
git worktree remove --force "$work/src"

data=$work/data
mkdir -p "$data"
"$work/vnetgw" serve --data-dir "$data" --listen 127.224.0.1:17443 \
  --ike-port 24500 --natt-port 24501 --sstp-port 24443 \
  --public-ip-pool 127.224.1.0/24 --dns-server 127.224.0.53:53 --metrics-interval 1s >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 50); do [ -s "$data/endpoint" ] && break; sleep 0.2; done

v() { "$work/vnetgw" --data-dir "$data" -o tsv "$@" >/dev/null; }
sub=00000000-0000-0000-0000-000000000000
net=providers/Microsoft.Network
api() { # METHOD PATH [BODY]
  curl -sS --fail-with-body --cacert "$data/ca.pem" -H "Authorization: Bearer $(cat "$data/admin-token")" \
    -H 'Content-Type: application/json' -X "$1" "https://127.224.0.1:17443$2?api-version=2024-05-01" ${3:+--data "$3"}
}

v group create -n rg-hub -l westeurope --tags env=prod owner=netops
v group create -n rg-spoke -l westeurope
v group create -n rg-branch -l eastus --tags env=legacy

# The hub: an active-active, BGP gateway with point-to-site, sites by
# address (BGP), by name (policy-based selectors) and overlapping (NAT).
v route-table create -g rg-hub -n rt-hub --disable-bgp-route-propagation true --tags tier=web
v route-table route create -g rg-hub --route-table-name rt-hub -n to-fw --address-prefix 10.50.0.0/16 --next-hop-type VirtualAppliance --next-hop-ip-address 10.1.1.4
v route-table route create -g rg-hub --route-table-name rt-hub -n blackhole --address-prefix 10.60.0.0/16 --next-hop-type None
v route-table route create -g rg-hub --route-table-name rt-hub -n to-gw --address-prefix 10.70.0.0/16 --next-hop-type VirtualNetworkGateway
v vnet create -g rg-hub -n hub --address-prefixes 10.1.0.0/16 --subnet-name default --subnet-prefixes 10.1.0.0/24 --dns-servers 10.1.0.53 --tags env=prod
v vnet subnet create -g rg-hub --vnet-name hub -n default --address-prefixes 10.1.0.0/24 --route-table rt-hub
v vnet subnet create -g rg-hub --vnet-name hub -n app --address-prefixes 10.1.1.0/24
v vnet subnet create -g rg-hub --vnet-name hub -n GatewaySubnet --address-prefixes 10.1.255.0/27
v public-ip create -g rg-hub -n hub-gw-ip1 --sku Standard --allocation-method Static --tags role=gw
v public-ip create -g rg-hub -n hub-gw-ip2 --sku Standard --allocation-method Static --idle-timeout 10
v public-ip create -g rg-hub -n spare-ip
v vnet-gateway create -g rg-hub -n hub-gw --vnet hub --public-ip-addresses hub-gw-ip1 hub-gw-ip2 \
  --sku VpnGw2 --asn 65010 --address-prefixes 172.16.200.0/24 --client-protocol SSTP IkeV2 \
  --custom-routes 10.99.0.0/16 --enable-bgp-route-translation-for-nat --tags env=prod
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/root.key" \
  -out "$work/root.pem" -days 36500 -subj "/CN=vnetgw compat fixture root" 2>/dev/null
v vnet-gateway root-cert create -g rg-hub --gateway-name hub-gw -n compat-root --public-cert-data "$work/root.pem"
v vnet-gateway revoked-cert create -g rg-hub --gateway-name hub-gw -n lost-laptop --thumbprint 3C0A1E6F0B2D4C8E9A7B5D3F1E2C4A6B8D0F1A2B
v vnet-gateway nat-rule add -g rg-hub --gateway-name hub-gw -n site-in --type Static --mode IngressSnat --internal-mappings 10.1.0.0/16 --external-mappings 100.64.0.0/16
v vnet-gateway nat-rule add -g rg-hub --gateway-name hub-gw -n vnet-out --type Static --mode EgressSnat --internal-mappings 10.1.0.0/16 --external-mappings 100.65.0.0/16
v vnet-gateway nat-rule add -g rg-hub --gateway-name hub-gw -n dyn-out1 --type Dynamic --mode EgressSnat --internal-mappings 10.1.1.0/24 --external-mappings 100.66.0.0/28 --ip-config-id ipconfig1
v vnet-gateway nat-rule add -g rg-hub --gateway-name hub-gw -n dyn-out2 --type Dynamic --mode EgressSnat --internal-mappings 10.1.1.0/24 --external-mappings 100.66.0.16/28 --ip-config-id ipconfig2
v local-gateway create -g rg-hub -n branch-bgp --gateway-ip-address 127.224.2.10 --local-address-prefixes 192.168.10.0/24 --asn 65050 --bgp-peering-address 192.168.10.1 --tags site=paris
v local-gateway create -g rg-hub -n branch-fqdn --fqdn branch.compat.test --local-address-prefixes 192.168.20.0/24 192.168.21.0/24
v local-gateway create -g rg-hub -n branch-nat --gateway-ip-address 127.224.2.30 --local-address-prefixes 10.1.0.0/16
gw=/subscriptions/$sub/resourceGroups/rg-hub/$net/virtualNetworkGateways/hub-gw
api GET "$gw" | jq '.properties.bgpSettings.bgpPeeringAddresses[0].customBgpIpAddresses = ["169.254.21.1"]
  | .properties.bgpSettings.bgpPeeringAddresses[1].customBgpIpAddresses = ["169.254.22.1"]' >"$work/body.json"
api PUT "$gw" "@$work/body.json" >/dev/null
v vpn-connection create -g rg-hub -n hub-to-bgp --vnet-gateway1 hub-gw --local-gateway2 branch-bgp --enable-bgp --shared-key CompatKey1 --routing-weight 10 --tags site=paris
conn=/subscriptions/$sub/resourceGroups/rg-hub/$net/connections/hub-to-bgp
api GET "$conn" | jq --arg gw "$gw" '.properties.gatewayCustomBgpIpAddresses = [
  {ipConfigurationId: ($gw + "/ipConfigurations/ipconfig1"), customBgpIpAddress: "169.254.21.1"},
  {ipConfigurationId: ($gw + "/ipConfigurations/ipconfig2"), customBgpIpAddress: "169.254.22.1"}]' >"$work/body.json"
api PUT "$conn" "@$work/body.json" >/dev/null
v vpn-connection ipsec-policy add -g rg-hub --connection-name hub-to-bgp --ike-encryption GCMAES256 --ike-integrity SHA384 --dh-group ECP384 \
  --ipsec-encryption GCMAES256 --ipsec-integrity GCMAES256 --pfs-group ECP384 --sa-lifetime 3600 --sa-max-size 2048000
v vpn-connection create -g rg-hub -n hub-to-fqdn --vnet-gateway1 hub-gw --local-gateway2 branch-fqdn --shared-key CompatKey2 --connection-mode InitiatorOnly
v vpn-connection ipsec-policy add -g rg-hub --connection-name hub-to-fqdn --ike-encryption AES256 --ike-integrity SHA256 --dh-group DHGroup14 \
  --ipsec-encryption AES256 --ipsec-integrity SHA256 --pfs-group PFS2048
v vpn-connection update -g rg-hub -n hub-to-fqdn --use-policy-based-traffic-selectors
conn=/subscriptions/$sub/resourceGroups/rg-hub/$net/connections/hub-to-fqdn
api GET "$conn" | jq '.properties.trafficSelectorPolicies = [
  {localAddressRanges: ["10.1.0.0/24"], remoteAddressRanges: ["192.168.20.0/24"]},
  {localAddressRanges: ["10.1.1.0/24"], remoteAddressRanges: ["192.168.21.0/24"]}] | .properties.dpdTimeoutSeconds = 30' >"$work/body.json"
api PUT "$conn" "@$work/body.json" >/dev/null
v vpn-connection create -g rg-hub -n hub-to-nat --vnet-gateway1 hub-gw --local-gateway2 branch-nat --shared-key CompatKey3 \
  --ingress-nat-rule site-in --egress-nat-rule vnet-out
v nic create -g rg-hub -n web --vnet-name hub --subnet default --tags role=web
v nic create -g rg-hub -n db --vnet-name hub --subnet app --private-ip-address 10.1.1.10 --ip-forwarding

# A spoke, its gateway and a VNet-to-VNet pair with the hub; without BGP
# between them, whose learned routes would come and go in the hosts'
# effective routes with the session.
v vnet create -g rg-spoke -n spoke --address-prefixes 10.2.0.0/16 10.20.0.0/16 --subnet-name default --subnet-prefixes 10.2.0.0/24
v vnet subnet create -g rg-spoke --vnet-name spoke -n GatewaySubnet --address-prefixes 10.2.255.0/27
v public-ip create -g rg-spoke -n spoke-gw-ip
v vnet-gateway create -g rg-spoke -n spoke-gw --vnet spoke --public-ip-addresses spoke-gw-ip --sku VpnGw1 --asn 65020
v vpn-connection create -g rg-hub -n hub-to-spoke --vnet-gateway1 hub-gw --vnet-gateway2 /subscriptions/$sub/resourceGroups/rg-spoke/$net/virtualNetworkGateways/spoke-gw --shared-key CompatV2V
v vpn-connection create -g rg-spoke -n spoke-to-hub --vnet-gateway1 spoke-gw --vnet-gateway2 /subscriptions/$sub/resourceGroups/rg-hub/$net/virtualNetworkGateways/hub-gw --shared-key CompatV2V
v nic create -g rg-spoke -n vm1 --vnet-name spoke --subnet default
# The spoke's Internet-bound traffic forced to a site (forced tunneling).
v local-gateway create -g rg-spoke -n spoke-site --gateway-ip-address 127.224.2.60 --local-address-prefixes 192.168.60.0/24
v vpn-connection create -g rg-spoke -n spoke-to-site --vnet-gateway1 spoke-gw --local-gateway2 spoke-site --shared-key CompatKey6 --connection-mode ResponderOnly
v vnet-gateway update -g rg-spoke -n spoke-gw --gateway-default-site spoke-site

# A policy-based gateway and its site, over IKEv1.
v vnet create -g rg-branch -n legacy --address-prefixes 10.3.0.0/16 --subnet-name default --subnet-prefixes 10.3.0.0/24
v vnet subnet create -g rg-branch --vnet-name legacy -n GatewaySubnet --address-prefixes 10.3.255.0/28
v public-ip create -g rg-branch -n legacy-gw-ip
v vnet-gateway create -g rg-branch -n legacy-gw --vnet legacy --public-ip-addresses legacy-gw-ip --sku Basic --vpn-type PolicyBased
v local-gateway create -g rg-branch -n legacy-site --gateway-ip-address 127.224.2.40 --local-address-prefixes 192.168.40.0/24
v vpn-connection create -g rg-branch -n legacy-to-site --vnet-gateway1 legacy-gw --local-gateway2 legacy-site --connection-protocol IKEv1 --shared-key CompatKey4
v nic create -g rg-branch -n old-host --vnet-name legacy --subnet default --private-ip-address 10.3.0.20

# What the old API answers: every resource, and each type's list of the
# subscription. Counters and the tunnels' state change while it runs;
# the test leaves those out.
rm -rf "$out" && mkdir -p "$out/get"
api GET "/subscriptions/$sub/resourcegroups" | jq -S . >"$out/get/resourcegroups.json"
for t in virtualNetworks publicIPAddresses virtualNetworkGateways localNetworkGateways connections networkInterfaces routeTables; do
  api GET "/subscriptions/$sub/$net/$t" | jq -S . >"$out/get/list-$t.json"
  for id in $(jq -r '.value[].id' "$out/get/list-$t.json"); do
    name=$(echo "$id" | awk -F/ '{print $5 "-" $NF}')
    api GET "$id" | jq -S . >"$out/get/$t-$name.json"
  done
done
# What the hosts' routes were, from the records (no BGP session of the
# region comes up: its one BGP site has no device).
for id in $(jq -r '.value[].id' "$out/get/list-networkInterfaces.json"); do
  api POST "$id/effectiveRouteTable" | jq -S --arg id "$id" '{id: $id} + .' >"$out/get/effectiveRouteTable-$(echo "$id" | awk -F/ '{print $5 "-" $NF}').json"
done
# The configuration of each site's device (swanctl.conf), which says what
# the gateway proposes and sends to it.
for id in $(jq -r '.value[] | select(.properties.localNetworkGateway2) | .id' "$out/get/list-connections.json"); do
  api POST "$id/vpndeviceconfigurationscript" '{"vendor":"strongSwan","deviceFamily":"swanctl","firmwareVersion":"5.9"}' |
    jq -r . >"$out/get/vpndeviceconfigurationscript-$(echo "$id" | awk -F/ '{print $5 "-" $NF}').conf"
done
for g in rg-hub rg-spoke rg-branch; do
  api GET "/subscriptions/$sub/resourcegroups/$g" | jq -S . >"$out/get/resourcegroup-$g.json"
done

sleep 3 # a few samples of the tunnels' counters
kill -TERM "$pid" && wait "$pid" || true
pid=
# The tunnels' samples, which serve writes as it stops.
cp "$data/metrics-history" "$out/metrics-history"
ver=$(go list -m -f '{{.Version}}' go.etcd.io/bbolt)
go run "go.etcd.io/bbolt/cmd/bbolt@$ver" compact -o "$work/state.db" "$data/state.db" >/dev/null
gzip -9 -n <"$work/state.db" >"$out/state.db.gz"
echo "made $out ($(du -sh "$out" | cut -f1)) from vnetgw $commit"
