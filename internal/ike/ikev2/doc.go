// Package ikev2 is vnetgw's IKEv2 daemon (RFC 7296): a [Manager] owns every
// IKE SA of one gateway, negotiates child SAs with pre-shared-key peers and
// hands them to the ESP data path.
//
// It implements IKE_SA_INIT with cookies (§2.6) and INVALID_KE_PAYLOAD
// retries (§1.2, §1.3), IKE_AUTH with a pre-shared key (§2.15) and the first
// child SA, CREATE_CHILD_SA for further children, child SA rekeying with and
// without PFS (§1.3.3, §2.8) and IKE SA rekeying (§2.18) with collision
// handling (§2.8.1, §2.8.2), IKE SAs both ends initiated at once settled on
// one by §2.8.1's rule (with a vnetgw peer), INFORMATIONAL liveness checks
// and deletes (§1.4), INITIAL_CONTACT (§2.4), retransmission with
// exponential backoff and a message ID window of one (§2.1–§2.3), NAT
// detection with the float to port 4500 and UDP encapsulation of ESP
// (§2.23, RFC 3948), traffic selector narrowing (§2.9) and IKE
// fragmentation (RFC 7383).
//
// # Concurrency
//
// Each configured peer has one goroutine, its loop, that owns the peer's IKE
// SAs (usually one; briefly two or three while one is rekeyed, a restarted
// peer replaces a stale one or both ends initiated at once) and every child
// SA negotiated under them.
// Packets, timers and commands reach it through channels; no other
// goroutine reads or writes that state. The Manager's mutex guards only the
// tables that route packets and events to those loops.
//
// The package does no I/O of its own: datagrams go out through a
// [Transport] and come in through [Manager.HandlePacket]; negotiated child
// SAs go to a [Dataplane].
package ikev2
