#!/bin/bash
# Known-answer capture for internal/ike/suite (see ../README.md): two strongSwan
# 5.9.8 charon instances in network namespaces $P-a / $P-b, ike/chd log level 4,
# tcpdump on the veth between them, IKE_SA_INIT + IKE_AUTH, a child SA rekey
# (with PFS when ESP_PROPOSAL names a group), an IKE SA rekey, a delete.
# Needs root, strongswan-charon, strongswan-swanctl, tcpdump.
# Usage: run.sh NAME IKE_PROPOSAL ESP_PROPOSAL   (output in $WORK/NAME)
set -u
NAME=$1 IKE=$2 ESP=$3
P=${PREFIX:-suitekat}
W=${WORK:-/tmp/suitekat}/$NAME
NS="$P-a $P-b"
cleanup() {
  for n in a b; do
    if [ -f $W/$n/charon.pid.host ]; then
      p=$(cat $W/$n/charon.pid.host); kill $p 2>/dev/null
      for i in $(seq 30); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
      rm -f $W/$n/charon.pid.host
    fi
  done
  if [ -f $W/tcpdump.pid ]; then kill $(cat $W/tcpdump.pid) 2>/dev/null; sleep 0.5; rm -f $W/tcpdump.pid; fi
  for n in $NS; do ip netns del $n 2>/dev/null; done
}
trap cleanup EXIT
rm -rf $W; mkdir -p $W
for n in $NS; do ip netns del $n 2>/dev/null; ip netns add $n; ip -n $n link set lo up; done
ip link add ${P}wa netns $P-a type veth peer name ${P}wb netns $P-b
ip -n $P-a addr add 10.203.0.1/24 dev ${P}wa; ip -n $P-a link set ${P}wa up
ip -n $P-b addr add 10.203.0.2/24 dev ${P}wb; ip -n $P-b link set ${P}wb up
ip -n $P-a addr add 10.203.1.1/24 dev lo; ip -n $P-b addr add 10.203.2.1/24 dev lo

gen() { # n local remote lts rts idl idr
  local d=$W/$1; mkdir -p $d/run
  cat > $d/strongswan.conf <<EOC
charon {
  load_modular = no
  load = random nonce kdf openssl aes sha1 sha2 hmac gcm pem pkcs1 x509 pubkey curve25519 kernel-libipsec kernel-netlink socket-default vici
  install_routes = yes
  routing_table = 220
  plugins { vici { socket = unix://$d/run/charon.vici } }
  filelog {
    log { path = $d/charon.log
          time_format = %T
          default = 1
          ike = 4
          chd = 4
          cfg = 2
          enc = 2
          net = 2
          append = no
          flush_line = yes }
  }
  syslog { daemon { default = -1 } }
}
EOC
  cat > $d/swanctl.conf <<EOC
connections {
  s2s {
    version = 2
    local_addrs = $2
    remote_addrs = $3
    proposals = $IKE
    local { auth = psk
            id = $6 }
    remote { auth = psk
             id = $7 }
    children {
      net {
        local_ts = $4
        remote_ts = $5
        mode = tunnel
        esp_proposals = $ESP
        start_action = none
      }
    }
  }
}
secrets {
  ike-s2s {
    id-1 = gw-a.kat.test
    id-2 = gw-b.kat.test
    secret = "suite-kat-psk-0123456789"
  }
}
EOC
}
start() { # n ns
  local d=$W/$1
  ip netns exec $2 env STRONGSWAN_CONF=$d/strongswan.conf \
     sh -c "mount --bind $d/run /run && exec /usr/lib/ipsec/charon" >$d/charon.stdout 2>&1 &
  echo $! > $d/charon.pid.host
  for i in $(seq 50); do [ -S $d/run/charon.vici ] && break; sleep 0.1; done
  swanctl --load-all --file $d/swanctl.conf --uri unix://$d/run/charon.vici 2>&1 | grep -v "opening directory"
}
gen a 10.203.0.1 10.203.0.2 10.203.1.0/24 10.203.2.0/24 gw-a.kat.test gw-b.kat.test
gen b 10.203.0.2 10.203.0.1 10.203.2.0/24 10.203.1.0/24 gw-b.kat.test gw-a.kat.test
ip netns exec $P-a tcpdump -i ${P}wa -U -s 0 -w $W/wan.pcap udp port 500 or udp port 4500 >$W/tcpdump.log 2>&1 &
echo $! > $W/tcpdump.pid
sleep 1
start a $P-a; start b $P-b
U=unix://$W/a/run/charon.vici
swanctl --initiate --child net --uri $U
sleep 1
swanctl --rekey --child net --uri $U; sleep 2
swanctl --rekey --ike s2s --uri $U; sleep 2
swanctl --list-sas --uri $U
swanctl --terminate --ike s2s --uri $U; sleep 1
