// Package tunnel is vnetgw's ESP data path: the engine between an inner
// side that carries plain IP packets (a TUN device or the VNet fabric) and
// ESP (RFC 4303 tunnel mode) on the gateway's public address: in UDP (RFC
// 3948) or, for children without encapsulation, as IP protocol 50, sent
// to and from the bare addresses (port 0) where the outer side binds its
// raw ESP endpoints. The IKE daemon hands it child SAs
// (ipsec.Child); it reports soft expiries, acquires and peers that moved
// behind their NAT back (ipsec.Events).
//
// # Outbound
//
// One goroutine reads a batch from the inner side and, for each packet,
// looks up the tunnel by longest prefix match on the destination, picks the
// outbound SA (the newest child of a route-based tunnel; for a policy-based
// one the newest child whose traffic selectors hold source and
// destination) and takes its sequence number, in order. The batch is then
// sealed in parallel by the engine's workers and the reading goroutine,
// and sent in the order the sequence numbers were taken, with one
// sendmmsg (and UDP GSO) per outer endpoint. A packet that no tunnel routes
// is dropped and counted. A packet of a policy-based tunnel that no child
// covers is dropped and makes the engine call Events.Acquire, at most once
// a second per tunnel. A packet longer than its tunnel's MTU (the outer
// MTU, or the smaller path MTU a router reported (PathMTU) or the kernel
// keeps (LearnPathMTUs), less the outer headers and what the child SA
// adds), IPv6 or IPv4 with Don't Fragment, is dropped and answered with
// ICMP Fragmentation Needed or Packet Too Big, written to the inner side
// after the batch (RFC 4301 §8.2.1).
//
// # Inbound
//
// The UDP endpoint hands over a batch of ESP packets (HandleESP). Each is
// matched to its SA by SPI in a lock-free table, opened in parallel, and
// checked against the SA's traffic selectors: RFC 4301 §5.2 says a packet
// that does not match MUST be dropped. What passes is written to the inner
// side in one batch. An ESP packet in UDP that opens, newer than any
// before it on its SA, from another address or port than its child's
// remote endpoint makes the engine call Events.PeerMoved, at most once a
// second per child: the IKE daemon decides whether to follow it (RFC 7296
// §2.23). Every child of a tunnel opens packets until the IKE
// daemon removes it, so a rekey overlaps without loss.
//
// # Counters
//
// Each tunnel counts packets and inner bytes both ways, the time of its
// last inbound packet (for dead peer and idle detection) and its drops by
// reason; each SA has the counters of esp.Stats. Status returns them all.
// Nothing is logged per packet above Debug.
package tunnel
