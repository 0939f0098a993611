// Package bench measures vnetgw against the systems a user would pick
// instead, in the same run on the same machine, and measures what one
// vnetgw gateway does for many branches.
//
// The run has four parts (see Parts):
//
//   - throughput: every system gets the same topology of network
//     namespaces, host A ── gateway A ══ gateway B ── host B, runs on the two
//     gateways and carries iperf3 traffic between the hosts: TCP with 1 and
//     4 streams in both directions, and 64-byte UDP packets at an unlimited
//     rate, with the CPU time of the gateway processes per gigabyte moved. A
//     [System] is a small interface, so that vnetgw's own gateways plug in
//     next to wireguard-go, strongSwan with userspace ESP, and plain routing.
//   - ike: full IKE SAs (RFC 7296 §1.2) per second at one `vnetgw dev
//     gateway`, per Diffie-Hellman group, from thousands of peers of
//     vnetgw's own initiator on addresses of their own; and strongSwan
//     initiating hundreds of connections at once, as a check.
//   - scale: 100 to 10,000 tunnels to one gateway: setup time, resident
//     memory per tunnel, and traffic over many tunnels at once.
//   - control: a real `vnetgw serve`: the latency of gateway and connection
//     PUTs, and the time from a connection's PUT to Connected.
//
// The suite needs root, iproute2, iperf3, ping and strongSwan;
// bench/run.sh installs what is missing and builds wireguard-go from the Go
// module proxy and vnetgw from the tree.
package bench
