#!/bin/bash
# Captures real strongSwan IKEv2 exchanges between two charon instances in
# private network namespaces h1-a and h1-b (veth h1wa <-> h1wb,
# 10.77.0.1 <-> 10.77.0.2), writing $LAB/NAME.pcap and the charon logs
# (ENC level 3 dumps the plaintext of every SK payload) under $LAB/NAME.
# Needs root, strongSwan 5.9.x (charon, swanctl, kernel-libipsec) and tcpdump.
# The namespaces are removed on exit, also on failure.
#
# Usage: capture.sh NAME [fragment]
#   fragment: force IKEv2 fragmentation of IKE_AUTH (fragment_size = 200)
# Then: python3 extract.py $LAB/NAME.pcap $LAB/NAME/a/charon.log OUTDIR PREFIX
set -eu
NAME=$1; MODE=${2:-plain}
LAB=${LAB:-/tmp/h1-lab}
W=$LAB/$NAME
NSA=h1-a NSB=h1-b
cleanup() {
  for n in a b; do
    [ -f $W/$n/pid ] && { kill $(cat $W/$n/pid) 2>/dev/null || true; }
  done
  [ -f $W/tcpdump.pid ] && { kill $(cat $W/tcpdump.pid) 2>/dev/null || true; }
  sleep 0.5
  ip netns del $NSA 2>/dev/null || true
  ip netns del $NSB 2>/dev/null || true
}
trap cleanup EXIT
cleanup
rm -rf $W; mkdir -p $W
ip netns add $NSA; ip netns add $NSB
ip -n $NSA link set lo up; ip -n $NSB link set lo up
ip link add h1wa netns $NSA type veth peer name h1wb netns $NSB
ip -n $NSA addr add 10.77.0.1/24 dev h1wa; ip -n $NSA link set h1wa up
ip -n $NSB addr add 10.77.0.2/24 dev h1wb; ip -n $NSB link set h1wb up
ip -n $NSA addr add 10.71.0.1/16 dev lo
ip -n $NSB addr add 10.72.0.1/16 dev lo

FRAG=yes; EXTRA=""
if [ "$MODE" = fragment ]; then FRAG=force; EXTRA="fragment_size = 200"; fi

gen() { # n local remote lts rts idl idr
  local d=$W/$1; mkdir -p $d/run
  cat > $d/strongswan.conf <<EOC
charon {
  load_modular = no
  load = random nonce kdf openssl aes sha1 sha2 hmac gcm pem pkcs1 x509 pubkey curve25519 kernel-libipsec kernel-netlink socket-default vici
  install_routes = yes
  routing_table = 220
  $EXTRA
  plugins { vici { socket = unix://$d/run/charon.vici } }
  filelog { log { path = $d/charon.log
                  default = 1
                  ike = 2
                  enc = 3
                  flush_line = yes
                  append = no } }
  syslog { daemon { default = -1 } }
}
EOC
  cat > $d/swanctl.conf <<EOC
connections {
  s2s {
    version = 2
    local_addrs = $2
    remote_addrs = $3
    fragmentation = $FRAG
    proposals = aes256gcm16-prfsha256-x25519, aes128-sha256-modp2048, aes256-sha512-ecp384
    local { auth = psk
            id = $6 }
    remote { auth = psk
             id = $7 }
    children {
      net {
        local_ts = $4
        remote_ts = $5
        mode = tunnel
        esp_proposals = aes256gcm16, aes128-sha256-modp2048
        start_action = none
      }
    }
  }
}
secrets {
  ike-s2s {
    id-1 = gw-a.example
    id-2 = gw-b.example
    secret = "h1-capture-psk-0123456789"
  }
}
EOC
}
start() { # n ns
  local d=$W/$1
  ip netns exec $2 env STRONGSWAN_CONF=$d/strongswan.conf \
    sh -c "mount --bind $d/run /run && exec /usr/lib/ipsec/charon" >$d/stdout 2>&1 &
  echo $! > $d/pid
  for i in $(seq 50); do [ -S $d/run/charon.vici ] && break; sleep 0.1; done
  swanctl --load-all --file $d/swanctl.conf --uri unix://$d/run/charon.vici 2>&1 | grep -v "opening directory" || true
}
gen a 10.77.0.1 10.77.0.2 10.71.0.0/16 10.72.0.0/16 gw-a.example gw-b.example
gen b 10.77.0.2 10.77.0.1 10.72.0.0/16 10.71.0.0/16 gw-b.example gw-a.example
ip netns exec $NSA tcpdump -i h1wa -U -s 0 -w $LAB/$NAME.pcap udp >$W/tcpdump.log 2>&1 &
echo $! > $W/tcpdump.pid
sleep 1
start a $NSA; start b $NSB
swanctl --initiate --child net --uri unix://$W/a/run/charon.vici --timeout 20 || true
swanctl --list-sas --uri unix://$W/a/run/charon.vici || true
swanctl --terminate --ike s2s --uri unix://$W/a/run/charon.vici --timeout 10 || true
sleep 1
