// Package udp is the outer side of vnetgw's userspace IPsec data path: UDP
// sockets bound to one local address and port that read and write datagrams
// in batches (recvmmsg and sendmmsg, with UDP GRO and GSO where the kernel
// has them), and a Transport that demultiplexes what arrives on the NAT-T
// port as RFC 3948 §2 says: IKE messages after a non-ESP marker and
// NAT-keepalives go to the IKE daemon, ESP packets to the tunnel engine.
//
// On an IKE port (500) every datagram is IKE. SendIKE adds the non-ESP
// marker on the NAT-T path (RFC 3948 §2.2, RFC 7296 §2.23), and the
// Transport sends NAT-keepalives (RFC 3948 §2.3, §4) on the paths it is
// given.
//
// ListenESP opens a raw socket for IP protocol 50 instead (root): ESP
// without UDP (RFC 4303), read and written in batches like the UDP
// endpoints, without offloads; its addresses have port 0.
//
// WatchPathMTU hands the ICMP errors that report a path MTU to the ESP
// handler (root); KernelPathMTU reads the one the kernel keeps for a
// path, which it learns from errors about any socket's packets.
//
// Nothing is logged per packet above Debug: refused datagrams are counted
// in Stats, and LogDrops, on the owner's tick, logs them once a minute at
// most per endpoint and reason. The package is Linux only.
package udp
