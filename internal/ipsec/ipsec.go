// Package ipsec is the vocabulary shared by the IKE daemon (internal/ike)
// and the ESP data path (internal/tunnel): a child SA as IKE hands it over,
// the tunnels it belongs to, and the events the data path reports back.
// It has no logic and imports only the ESP configuration type.
package ipsec

import (
	"net/netip"

	"github.com/vnetgw/vnetgw/internal/esp"
)

// Child is one negotiated child SA pair in tunnel mode (RFC 7296 §1.3,
// RFC 4301): what the data path needs to carry a tunnel's traffic.
type Child struct {
	// Tunnel names the connection the SA belongs to.
	Tunnel string
	// In opens packets that arrive with our SPI; Out seals packets with the
	// peer's SPI. Their Keys are secret and redact themselves.
	In, Out esp.Config
	// Local and Remote are the outer endpoints. With Encap, ESP travels in
	// UDP between them (RFC 3948, port 4500 normally); without it, as IP
	// protocol 50 and the ports are not used.
	Local, Remote netip.AddrPort
	Encap         bool
	// LocalTS and RemoteTS are the narrowed traffic selectors (RFC 7296
	// §2.9), as prefixes. Inbound packets must match them (RFC 4301 §5.2);
	// a policy-based tunnel also chooses its outbound SA by them.
	LocalTS, RemoteTS []netip.Prefix
	// Standby marks a pair the peer may not have yet: one this side
	// answered in CREATE_CHILD_SA (the peer installs it when our response
	// arrives), or an IKEv1 rekey's (the peer's, before its HASH(3) came;
	// ours, whose HASH(3) nothing acknowledges). The data path keeps
	// sending on an older pair of the tunnel until a packet arrives on this
	// one or the older pair is removed (RFC 7296 §2.8, "make before break").
	Standby bool
}

// Events are what the data path tells the IKE daemon. They are called from
// data-path goroutines and must not block.
type Events interface {
	// SoftExpired says an SA reached a soft limit (bytes, packets or
	// sequence numbers): rekey it before its hard limit.
	SoftExpired(tunnel string, inSPI uint32)
	// HardExpired says an SA of the child reached a hard limit (bytes,
	// packets or sequence numbers): it carries nothing more; delete the
	// child, telling the peer, and set up a new one (RFC 4301 §4.4.2.1).
	HardExpired(tunnel string, inSPI uint32)
	// Acquire says a packet needed a child SA that does not exist (a
	// policy-based tunnel whose SAs were removed for idleness, R8): set one
	// up. The packet that caused it is dropped.
	Acquire(tunnel string, src, dst netip.Addr)
	// PeerMoved says an ESP packet in UDP of the child SA with inbound
	// SPI inSPI passed its integrity check, was newer than any before it,
	// and came from remote rather than from the child's remote endpoint:
	// the NAT in front of the peer changed its mapping (RFC 7296 §2.23).
	// Unless this side is behind a NAT, move the IKE SA and its child SAs
	// there. It is said at most once a second per child SA.
	PeerMoved(tunnel string, inSPI uint32, remote netip.AddrPort)
}
