// Package bench measures vnetgw against the systems a user would pick
// instead, in the same run on the same machine.
//
// Every system gets the same topology of network namespaces,
//
//	host A ── gateway A ══ gateway B ── host B
//
// runs on the two gateways, and carries iperf3 traffic between the hosts:
// TCP with 1 and 4 streams in both directions, and 64-byte UDP packets at
// an unlimited rate. For each transfer it records the throughput, the loss
// (UDP) and the CPU time of the gateway processes per gigabyte moved. A
// [System] is a small interface, so that vnetgw's own gateways plug in next
// to wireguard-go, strongSwan with userspace ESP, and plain routing.
//
// The suite needs root, iproute2, iperf3 and ping; bench/run.sh installs
// what is missing and builds wireguard-go from the Go module proxy.
package bench
